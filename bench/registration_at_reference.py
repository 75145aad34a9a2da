"""Is a refused registration pair a search failure or a data limit? For each derived pair of the
development half, start the patch stages at the *reference* homography and print how many patches
agree, as a multiple of the count the chance model requires (1.0 = the acceptance bar), next to
the error of the global search's peak. A pair under 1.0 from the right answer cannot be recovered
by any search without a bar that also lets wrong pairs through (docs/fusion.md, "Night pairs").

    python bench/registration_at_reference.py [--held-back] [ALIGNED_DIR ...]

Defaults to the derived pairs of `vigil eval register --derive-from` (VIFB, TNO, RoadScene).
--held-back adds the held-back half: look at it only once a method is frozen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.data import SHARED  # noqa: E402
from vigil.eval.registration import derive_pairs, load_reference_homographies  # noqa: E402
from vigil.eval.split import held_back  # noqa: E402
from vigil.fusion.images import to_gray  # noqa: E402
from vigil.fusion.pairs import discover_pairs, read_pair_image  # noqa: E402
from vigil.fusion.register import corner_error_px  # noqa: E402
from vigil.fusion.register_auto import AutoParams, coarse_search, refine_patches, required_inliers  # noqa: E402

FUSION = SHARED / "fusion"
DEFAULT = [FUSION / "VIFB" / "input", FUSION / "U2Fusion_test_imgs" / "TNO",
           FUSION / "U2Fusion_test_imgs" / "RoadScene"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("aligned", nargs="*", type=Path, help="folders of aligned pairs (default: VIFB, TNO, RoadScene)")
    ap.add_argument("--held-back", action="store_true", help="also print the held-back half")
    args = ap.parse_args()
    folders = args.aligned or DEFAULT
    for d in folders:
        if not d.is_dir():
            print(f"aligned pairs folder '{d}' does not exist; give folders of aligned visible/thermal pairs",
                  file=sys.stderr)
            sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="vigil-at-reference-") as tmp:
        report(derive_pairs(folders, Path(tmp)), args.held_back)


def report(out: Path, with_held_back: bool) -> None:
    refs = load_reference_homographies(out / "homographies.csv")
    pairs = [p for p in discover_pairs(out)[0] if p.name in refs]
    hold = held_back(p.name for p in pairs)
    p = AutoParams()
    print("pair".ljust(24) + "coarse px  " + "  ".join(f"{res:g}x/{patch}px" for res, patch, _ in p.refine_levels[:2]))
    for pair in pairs:
        if pair.name in hold and not with_held_back:
            continue
        vis = to_gray(read_pair_image(pair.visible)).astype(np.float32)
        ir = to_gray(read_pair_image(pair.thermal)).astype(np.float32)
        ref = refs[pair.name]
        coarse = corner_error_px(coarse_search(vis, ir, p).homography, ref, vis.shape)
        ratios = []
        for level in p.refine_levels[:2]:
            fit = refine_patches(vis, ir, ref, *level, p)
            ratios.append(f"{fit.inliers / required_inliers(fit.matches, p):9.2f}")
        half = " (held-back)" if pair.name in hold else ""
        print(f"{pair.name + half:24s}{coarse:9.1f}  " + "  ".join(ratios), flush=True)


if __name__ == "__main__":
    main()

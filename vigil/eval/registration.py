"""`vigil eval register`: scoring automatic registration against reference homographies.

Error of one pair = mean distance, in thermal pixels, between the 4 visible-image corners
mapped by the estimate and by the reference (visible -> thermal). A refused pair counts as a
failure for the success rates and is listed as refused; its error is reported when the
refusal came with a best guess, so one can see whether refusing was right.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from vigil.fusion.pairs import ImagePair, discover_pairs, read_pair_image
from vigil.fusion.register import RegistrationError, corner_error_px, register_images
from vigil.fusion.register_auto import AutoParams

H_KEYS = [f"h{i}{j}" for i in range(3) for j in range(3)]


def load_reference_homographies(path: str | Path) -> dict[str, np.ndarray]:
    """name -> 3x3 visible -> thermal homography from a CSV with columns name, h00 .. h22."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise RegistrationError(f"homographies file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RegistrationError(f"cannot read homographies file '{path}': {exc}") from None
    if not rows or "name" not in rows[0] or any(k not in rows[0] for k in H_KEYS):
        raise RegistrationError(f"homographies file '{path}' needs a header with name and h00..h22 "
                                "(row-major visible -> thermal homography)")
    out = {}
    for i, row in enumerate(rows):
        try:
            out[row["name"]] = np.array([float(row[k]) for k in H_KEYS]).reshape(3, 3)
        except (TypeError, ValueError):
            raise RegistrationError(f"homographies file '{path}' row {i + 2}: h00..h22 must be numbers") from None
    return out


def evaluate_pairs(pairs: list[ImagePair], references: dict[str, np.ndarray],
                   params: AutoParams | None = None) -> dict:
    """Register every pair that has a reference and summarise the errors."""
    rows = []
    for pair in pairs:
        if pair.name not in references:
            continue
        vis, ir = read_pair_image(pair.visible), read_pair_image(pair.thermal)
        t0, c0 = time.perf_counter(), time.process_time()
        reg = register_images(vis, ir, params)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        err = (corner_error_px(reg.visible_to_thermal, references[pair.name], vis.shape)
               if reg.visible_to_thermal is not None else None)
        rows.append({"name": pair.name, "error_px": None if err is None else round(err, 3),
                     "refused": not reg.ok, "confidence": round(reg.confidence, 3),
                     "reason": reg.reason, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3)})
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    accepted = [r["error_px"] for r in rows if not r["refused"] and r["error_px"] is not None]

    def rate(px: float) -> float:
        return round(sum(e <= px for e in accepted) / n, 4) if n else 0.0

    return {
        "pairs": n,
        "success_rate_10px": rate(10.0),
        "success_rate_5px": rate(5.0),
        "median_error_px": round(float(np.median(accepted)), 3) if accepted else None,
        "refused": sum(r["refused"] for r in rows),
        "mean_seconds": round(float(np.mean([r["seconds"] for r in rows])), 3) if rows else None,
        "mean_cpu_seconds": round(float(np.mean([r["cpu_seconds"] for r in rows])), 3) if rows else None,
        "per_pair": rows,
    }


def evaluate_mismatched(pairs: list[ImagePair], params: AutoParams | None = None) -> dict:
    """Each visible image against the thermal image of the pair a third of the list away (a
    different scene): every one of these should be refused."""
    n = len(pairs)
    if n < 2:
        raise RegistrationError("mismatched pairs need at least 2 pairs in the folder")
    rows = []
    for i, pair in enumerate(pairs):
        other = pairs[(i + max(1, n // 3)) % n]
        reg = register_images(read_pair_image(pair.visible), read_pair_image(other.thermal), params)
        rows.append({"visible": pair.name, "thermal": other.name, "refused": not reg.ok,
                     "confidence": round(reg.confidence, 3), "reason": reg.reason})
    return {"mismatched_pairs": n, "mismatched_refused": sum(r["refused"] for r in rows), "mismatched": rows}


def evaluate_folder(pairs_dir: str | Path, homographies: str | Path | None = None,
                    params: AutoParams | None = None, mismatched: bool = False) -> dict:
    """`evaluate_pairs` over a folder of pairs; the reference CSV defaults to
    `<pairs_dir>/homographies.csv`."""
    pairs, _ = discover_pairs(pairs_dir)
    csv_path = Path(homographies) if homographies else Path(pairs_dir) / "homographies.csv"
    refs = load_reference_homographies(csv_path)
    if not any(p.name in refs for p in pairs):
        raise RegistrationError(f"no pair in '{pairs_dir}' has a row in '{csv_path}' (names are image stems)")
    result = evaluate_pairs(pairs, refs, params)
    if mismatched:
        result.update(evaluate_mismatched([p for p in pairs if p.name in refs], params))
    return result

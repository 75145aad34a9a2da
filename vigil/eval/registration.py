"""`vigil eval register`: scoring automatic registration against reference homographies.

Error of one pair = mean distance, in thermal pixels, between the 4 visible-image corners
mapped by the estimate and by the reference (visible -> thermal). A refused pair counts as a
failure for the success rates and is listed as refused; its error is reported when the
refusal came with a best guess, so one can see whether refusing was right.

Every summary is given twice more, for the development and the held-back half of the pairs
(`vigil.eval.split`): parameters are tuned on the first and judged on the second.

Derived pairs (`derive_pairs`) turn any folder of *aligned* visible/thermal pairs (VIFB,
U2Fusion's TNO and RoadScene) into unregistered ones with a known answer: the thermal image is
kept, the visible image is replaced by a view of part of the scene through a random, seeded
homography like a second camera's (a sub-window of 70-95 % of the width, 1.5-2.5 visible px per
thermal px, up to 2 degrees of roll and 2 % corner keystone). That homography is the reference.
It adds scenes the registration was never tuned on; its limits: the visible "camera" shares the
thermal one's centre of projection (no parallax), and an upsampled visible image is softer than
a real high-resolution one.
"""

from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path

import cv2
import numpy as np

from vigil.eval.split import held_back
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


def summarise(rows: list[dict], halves: bool = True) -> dict:
    """Success rates (refusals count as failures and are counted apart), median error, time;
    with `halves`, the same for the development and the held-back half."""
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
        # of the pairs it did not refuse, how many were right: a wrong warp is worse than a refusal
        "accepted_within_10px": (round(sum(e <= 10.0 for e in accepted) / len(accepted), 4)
                                 if accepted else None),
        "mean_seconds": round(float(np.mean([r["seconds"] for r in rows])), 3) if rows else None,
        "mean_cpu_seconds": round(float(np.mean([r["cpu_seconds"] for r in rows])), 3) if rows else None,
        **({"development": _brief(summarise([r for r in rows if r["name"] not in hold], False)),
            "held_back": _brief(summarise([r for r in rows if r["name"] in hold], False))}
           if halves and (hold := held_back(r["name"] for r in rows)) else {}),
        "per_pair": rows,
    }


def _brief(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("per_pair", "mean_seconds", "mean_cpu_seconds")}


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


# ---------------------------------------------------------------- derived pairs

def derive_homography(thermal_shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(visible -> thermal homography, visible (width, height)) of a simulated visible camera
    seeing a random sub-window of the thermal view (see the module docstring)."""
    rng = np.random.default_rng(seed)
    H, W = thermal_shape[:2]
    frac = rng.uniform(0.7, 0.95)
    ww = W * frac
    wh = min(H * rng.uniform(0.7, 0.95), ww * rng.uniform(0.55, 0.8))  # visible crops are wide
    cx = W / 2 + rng.uniform(-1, 1) * (W - ww) / 2
    cy = H / 2 + rng.uniform(-1, 1) * (H - wh) / 2
    up = rng.uniform(1.5, 2.5)
    vw, vh = int(round(ww * up)), int(round(wh * up))
    a = np.deg2rad(rng.uniform(-2, 2))
    # the window's corners in thermal pixels: rotated about its centre, each corner nudged
    # (keystone) by up to 2 % of the window size
    half = np.array([[-ww, -wh], [ww, -wh], [ww, wh], [-ww, wh]]) / 2
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = half @ rot.T + [cx, cy] + rng.uniform(-0.02, 0.02, (4, 2)) * [ww, wh]
    src = np.array([[0, 0], [vw, 0], [vw, vh], [0, vh]], np.float64)
    Hv = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
    return Hv / Hv[2, 2], (vw, vh)


def derive_pairs(aligned_dirs: list[str | Path], out_dir: str | Path) -> Path:
    """Unregistered pairs with reference homographies from folders of aligned pairs; writes
    `out_dir/visible`, `out_dir/infrared` and `out_dir/homographies.csv` and returns out_dir.
    A pair is named FOLDER_STEM (FOLDER: the folder's name, or its parent's for VIFB's `input`)
    and seeded by that name, so the same folders always give the same pairs."""
    out = Path(out_dir)
    (out / "visible").mkdir(parents=True, exist_ok=True)
    (out / "infrared").mkdir(parents=True, exist_ok=True)
    rows = []
    for folder in map(Path, aligned_dirs):
        pairs, _ = discover_pairs(folder)
        prefix = folder.resolve().parent.name if folder.name.lower() == "input" else folder.name
        for pair in pairs:
            vis, ir = read_pair_image(pair.visible), read_pair_image(pair.thermal)
            if ir.ndim == 3:
                ir = cv2.cvtColor(ir, cv2.COLOR_BGR2GRAY)
            if vis.shape[:2] != ir.shape[:2]:
                raise RegistrationError(f"pair '{pair.name}' in '{folder}' is not aligned (visible "
                                        f"{vis.shape[1]}x{vis.shape[0]}, thermal {ir.shape[1]}x{ir.shape[0]}); "
                                        "derived pairs need registered, same-size pairs")
            name = f"{prefix}_{pair.name}"
            seed = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
            Hv, size = derive_homography(ir.shape, seed)
            view = cv2.warpPerspective(vis, Hv, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_REFLECT)
            cv2.imwrite(str(out / "visible" / f"{name}.png"), view)
            cv2.imwrite(str(out / "infrared" / f"{name}.png"), ir)
            rows.append([name, *(f"{v:.10g}" for v in Hv.ravel())])
    with (out / "homographies.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", *H_KEYS])
        writer.writerows(rows)
    return out

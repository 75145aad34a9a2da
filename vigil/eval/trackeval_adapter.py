"""Score MOTChallenge result files with TrackEval (HOTA, CLEAR MOT, Identity).

TrackEval wants a fixed folder layout; we build it in a temporary folder with links to the
real sequence folders, so any set of sequences (from different benchmarks) can be scored.
MOT17 rules: distractor classes removed, only pedestrians (class 1, flag 1) scored.
MOT15-style ground truth (no class column) is scored in TrackEval's MOT15 mode.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from vigil.eval.mot_sequences import MotSequence


def _import_trackeval():
    # Old trackeval releases use numpy aliases removed in numpy 1.24; restore them if absent.
    for alias, typ in (("float", float), ("int", int), ("bool", bool), ("object", object)):
        if alias not in np.__dict__:
            setattr(np, alias, typ)
    import trackeval

    return trackeval


METRIC_KEYS = {"HOTA": ("HOTA", "HOTA"), "DetA": ("HOTA", "DetA"), "AssA": ("HOTA", "AssA"),
               "MOTA": ("CLEAR", "MOTA"), "IDF1": ("Identity", "IDF1"), "IDSW": ("CLEAR", "IDSW"),
               "FP": ("CLEAR", "CLR_FP"), "FN": ("CLEAR", "CLR_FN")}
PERCENT = {"HOTA", "DetA", "AssA", "MOTA", "IDF1"}


def _summary(res: dict) -> dict[str, float]:
    out = {}
    for key, (metric, field) in METRIC_KEYS.items():
        v = res[metric][field]
        v = float(np.mean(v)) if np.ndim(v) else float(v)  # HOTA fields are per-alpha arrays
        out[key] = 100.0 * v if key in PERCENT else v
    return out


def score(results: dict[str, dict[str, np.ndarray]], sequences: list[MotSequence],
          benchmark: str) -> dict[str, dict[str, dict[str, float]]]:
    """Score `results[tracker][seq] = rows (frame, id, l, t, w, h)` against the sequences' ground truth.

    Returns {tracker: {"combined": {...}, seq: {...}}} with percentages 0-100 (HOTA, MOTA, IDF1,
    DetA, AssA) and counts (IDSW, FP, FN). benchmark: 'MOT17' (preprocessing) or 'MOT15'."""
    te = _import_trackeval()
    with tempfile.TemporaryDirectory(prefix="vigil-mot-") as tmp:
        gt_root, tr_root = Path(tmp) / "gt", Path(tmp) / "trackers"
        gt_root.mkdir()
        for seq in sequences:
            os.symlink(seq.path.resolve(), gt_root / seq.name)
        for tracker, per_seq in results.items():
            for seq in sequences:
                write_mot_results(per_seq[seq.name], tr_root / tracker / "data" / f"{seq.name}.txt")
        dataset_cfg = {
            "GT_FOLDER": str(gt_root), "TRACKERS_FOLDER": str(tr_root), "OUTPUT_FOLDER": str(Path(tmp) / "out"),
            "TRACKERS_TO_EVAL": list(results), "BENCHMARK": benchmark, "SPLIT_TO_EVAL": "train",
            "SKIP_SPLIT_FOL": True, "SEQ_INFO": {s.name: s.length for s in sequences},
            "DO_PREPROC": benchmark != "MOT15", "PRINT_CONFIG": False,
        }
        eval_cfg = {"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
                    "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
                    "LOG_ON_ERROR": None, "BREAK_ON_ERROR": True}
        metrics = [te.metrics.HOTA({"PRINT_CONFIG": False}), te.metrics.CLEAR({"PRINT_CONFIG": False}),
                   te.metrics.Identity({"PRINT_CONFIG": False})]
        with contextlib.redirect_stdout(io.StringIO()):
            raw, _ = te.Evaluator(eval_cfg).evaluate([te.datasets.MotChallenge2DBox(dataset_cfg)], metrics)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for tracker, per_seq in raw["MotChallenge2DBox"].items():
        out[tracker] = {("combined" if seq == "COMBINED_SEQ" else seq): _summary(res["pedestrian"])
                        for seq, res in per_seq.items()}
    return out


def write_mot_results(rows: np.ndarray, path: Path) -> None:
    """MOTChallenge result file: frame, id, left, top, width, height, 1, -1, -1, -1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for r in rows:
            f.write(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,-1,-1,-1\n")

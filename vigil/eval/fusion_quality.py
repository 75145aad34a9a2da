"""`vigil eval fusion`: scoring fusion methods on folders of pairs, ranking them beside
VIFB's published methods, and setting them beside a published deep-learning method's figures
(`--compare cddfuse`).

VIFB scored every method's output as written to disk: JPEG at MATLAB's default quality 75,
colour images scored per channel. `score_pairs` does the same by default so Vigil's numbers
sit in VIFB's table fairly.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import rankdata

from vigil.errors import VigilError
from vigil.eval.split import held_back
from vigil.fusion.fuse import fuse, resolve_method
from vigil.fusion.metrics import METRICS, VIFB_NAMES, evaluate
from vigil.fusion.metrics_cddfuse import CDDFUSE_CITATION, CDDFUSE_TNO, CDDFUSE_TNO_PAIRS
from vigil.fusion.metrics_cddfuse import METRIC_NAMES as CDDFUSE_METRICS
from vigil.fusion.metrics_cddfuse import evaluate as evaluate_cddfuse
from vigil.fusion.pairs import ImagePair, discover_pairs, read_pair_image

# The seven metrics VIFB's overall ranking uses (all higher-is-better).
RANK_METRICS = ("EN", "SD", "SF", "AG", "MI", "SSIM", "Qabf")
# metrics_long.csv also lists MST_SR, whose numbers duplicate LP_SR's; it is not one of
# VIFB's 25 methods (information.txt), so it is left out of rankings.
VIFB_EXCLUDED = ("MST_SR",)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise VigilError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


@dataclass
class MethodScore:
    method: str
    per_pair: dict[str, dict[str, float]] = field(default_factory=dict)
    ms_per_pair: list[float] = field(default_factory=list)

    @property
    def mean(self) -> dict[str, float]:
        names = next(iter(self.per_pair.values())).keys() if self.per_pair else []
        return {n: float(np.mean([v[n] for v in self.per_pair.values()])) for n in names}


def score_pairs(pairs: list[ImagePair], method: str = "default", metrics: list[str] | None = None,
                jpeg_quality: int | None = 75, save_dir: Path | None = None) -> MethodScore:
    """Fuse every pair with `method` and score it (after a JPEG round trip when jpeg_quality)."""
    name = resolve_method(method)
    out = MethodScore(name)
    for pair in pairs:
        vis, ir = read_pair_image(pair.visible), read_pair_image(pair.thermal)
        t0 = time.perf_counter()
        fused = fuse(vis, ir, name)
        out.ms_per_pair.append((time.perf_counter() - t0) * 1000)
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(save_dir / f"{pair.name}_{name}.jpg"), fused,
                        [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality or 95)])
        scored = jpeg_roundtrip(fused, jpeg_quality) if jpeg_quality else fused
        out.per_pair[pair.name] = evaluate(vis, ir, scored, metrics)
    return out


def load_vifb_means(csv_path: str | Path, exclude: tuple[str, ...] = VIFB_EXCLUDED,
                    images: set[str] | None = None) -> dict[str, dict[str, float]]:
    """Mean over images (all, or those named) of each metric for each VIFB method, keyed by
    Vigil's short metric names."""
    path = Path(csv_path)
    if not path.is_file():
        raise VigilError(f"VIFB metrics table '{path}' does not exist (expected metrics_long.csv)")
    back = {v: k for k, v in VIFB_NAMES.items()}
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["method"] in exclude or row["metric"] not in back:
                continue
            if images is not None and row["image"] not in images:
                continue
            acc[(row["method"], back[row["metric"]])].append(float(row["value"]))
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for (method, metric), vals in acc.items():
        table[method][metric] = float(np.mean(vals))
    return dict(table)


def rank_methods(table: dict[str, dict[str, float]], metrics: tuple[str, ...] = RANK_METRICS
                 ) -> list[tuple[str, float, dict[str, float]]]:
    """VIFB-style overall ranking: per metric, rank the methods' mean values (1 = best, ties
    share the average rank; lower-is-better metrics are flipped), then average the ranks.
    Returns (method, mean rank, per-metric ranks), best first."""
    methods = list(table)
    ranks: dict[str, dict[str, float]] = {m: {} for m in methods}
    for metric in metrics:
        higher = METRICS[metric][1]
        vals = np.array([table[m][metric] for m in methods])
        r = rankdata(-vals if higher else vals, method="average")
        for m, rk in zip(methods, r):
            ranks[m][metric] = float(rk)
    rows = [(m, float(np.mean(list(ranks[m].values()))), ranks[m]) for m in methods]
    return sorted(rows, key=lambda row: (row[1], row[0]))


def evaluate_methods(pairs_dir: Path, methods: list[str], jpeg_quality: int | None = 75,
                     vifb_csv: Path | None = None) -> dict:
    """Mean metrics per method over the pairs in `pairs_dir`, with each method's mean ms per
    pair, and (with VIFB's metrics_long.csv) the ranking among VIFB's methods.

    Returns {"pairs": n, "means": {method: metrics}, "ms_per_pair": {method: ms},
    "ranking": [(method, mean rank, ranks)] or None, "halves": {"development" | "held-back":
    ranking on that half's images only} or None}."""
    found, _ = discover_pairs(pairs_dir)
    means: dict[str, dict[str, float]] = {}
    timing: dict[str, float] = {}
    scores = {}
    for m in methods:
        scores[m] = score = score_pairs(found, m, jpeg_quality=jpeg_quality)
        means[m] = score.mean
        timing[m] = float(sum(score.ms_per_pair) / len(score.ms_per_pair))
    ranking = halves = None
    if vifb_csv is not None:
        table = load_vifb_means(vifb_csv)
        table.update({f"vigil:{m}": means[m] for m in methods})
        ranking = rank_methods(table)
        # Each half ranked on its own images, so a method chosen on the development half can be
        # judged on pairs it never saw.
        hold = held_back(p.name for p in found)
        halves = {}
        for half, names in (("development", {p.name for p in found} - hold), ("held-back", hold)):
            sub = load_vifb_means(vifb_csv, images=names)
            for m in methods:
                sub[f"vigil:{m}"] = {n: float(np.mean([scores[m].per_pair[k][n] for k in names]))
                                     for n in RANK_METRICS}
            halves[half] = rank_methods(sub)
    return {"pairs": len(found), "means": means, "ms_per_pair": timing, "ranking": ranking, "halves": halves}


# Published figures Vigil can be set beside, by name: (citation, metrics, how they were computed).
PUBLISHED = {"cddfuse": ("CDDFuse", CDDFUSE_CITATION, CDDFUSE_TNO_PAIRS, CDDFUSE_TNO)}


def compare_published(pairs_dir: Path, methods: list[str], against: str = "cddfuse") -> dict:
    """Vigil's methods scored the way a published method's evaluator scores (for CDDFuse:
    `vigil.fusion.metrics_cddfuse`), on the development and held-back halves of the pairs and on
    all of them, each row marked with the metrics where it beats the published figure.

    Returns {"against": {"name", "citation", "pairs", "metrics"}, "pairs": n,
    "rows": [{"method", "half", "pairs", "metrics", "beats", "loses"}]}."""
    if against not in PUBLISHED:
        raise VigilError(f"--compare {against!r} is not known; use one of: {', '.join(PUBLISHED)}")
    name, citation, n_published, published = PUBLISHED[against]
    found, _ = discover_pairs(pairs_dir)
    hold = held_back(p.name for p in found)
    images = [(p.name, read_pair_image(p.visible), read_pair_image(p.thermal)) for p in found]
    rows = []
    for m in methods:
        per_pair = {name: evaluate_cddfuse(vis, ir, fuse(vis, ir, m)) for name, vis, ir in images}
        for half, keys in (("development", [k for k in per_pair if k not in hold]),
                           ("held-back", [k for k in per_pair if k in hold]),
                           ("all", list(per_pair))):
            if not keys:
                continue
            mean = {n: float(np.mean([per_pair[k][n] for k in keys])) for n in CDDFUSE_METRICS}
            rows.append({"method": m, "half": half, "pairs": len(keys), "metrics": mean,
                         "beats": [n for n in published if mean[n] > published[n]],
                         "loses": [n for n in published if mean[n] <= published[n]]})
    return {"against": {"name": name, "citation": citation, "pairs": n_published, "metrics": dict(published)},
            "pairs": len(found), "rows": rows}

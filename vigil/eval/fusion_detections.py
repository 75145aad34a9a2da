"""`vigil eval fusion --detections`: what each thermal mode gives the detector, and the
brightness thresholds of mode `auto` measured from it.

For every registered pair the detector (Vigil's own, `vigil.detect`) runs on the RGB image, the
thermal image and their fusion. Real pairs alone are few and their brightness is whatever was
recorded, so every pair is also seen through simulated low light: the RGB image is dimmed in
linear light and given sensor noise (`low_light`), the thermal image is left as it is (a
thermal camera does not need light). That gives each pair a brightness sweep on which the
modes can be compared.

The measure of a mode on an image is the detector's evidence: the number of detections at or
above the detector's confidence threshold and their mean confidence, summed as `score`
(count x mean confidence). There is no ground truth here, so a mode that hallucinates boxes
would score too; the per-class table shows where the detections come from.

Each image also gives each mode a `share`: its score over the best mode's score on that image
(images where no mode detects anything are left out), so every image counts once.

`auto`'s thresholds (dark: thermal below it; bright: RGB at or above it; fused between) are
chosen on a development half of the pairs (a stable hash of the pair's name decides the half)
to maximise auto's summed share, and reported on the held-back half.

Auto's probes (`vigil.fusion.compose`: now and then the detector also sees the inputs auto did
not choose, and auto moves to one that finds clearly more) are measured on halves of each image:
on a still pair a probe of the scored image itself would be an oracle, so the probe looks at the
other half (other objects, the same light and cameras, as a later frame of a video would be) and
its choice is scored on this half; every mode is scored on the same halves beside it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

import cv2
import numpy as np

from vigil.eval.split import held_back
from vigil.fusion.compose import auto_band, brightness, probe_choice
from vigil.fusion.fuse import fuse, resolve_method
from vigil.fusion.images import to_gray
from vigil.fusion.pairs import ImagePair, read_pair_image
from vigil.types import CLASS_NAMES, Detections

MODES = ("rgb", "thermal", "fused")
ALL_MODES = (*MODES, "auto")
EXPOSURES = (1.0, 0.25, 0.06)
"""Light levels simulated per pair, as a fraction of the recorded exposure (1.0 = as recorded)."""
NIGHT_BELOW = 100.0
"""Mean RGB luma under which a sample counts as a night image in the report (VIFB's night
scenes measure 41-86, its daylight scenes 90-175; lit night streets reach 120)."""
CACHE_VERSION = "2"  # bump when what is cached (detections per image) changes meaning
HALVES = "|halves"  # cache suffix: detections on the left and right halves of a mode's image


class Detector(Protocol):
    def detect(self, images: list[np.ndarray]) -> list[Detections]: ...


def low_light(vis: np.ndarray, exposure: float, seed: int = 0, read_noise: float = 2.0) -> np.ndarray:
    """The RGB image as a camera would record it with `exposure` times the light: dimmed in linear
    light (sRGB-like gamma 2.2) with shot noise growing as the signal falls, plus read noise."""
    if exposure >= 1.0:
        return vis
    rng = np.random.default_rng(seed)
    lin = (vis.astype(np.float32) / 255.0) ** 2.2 * exposure
    # shot noise: photon counts, ~1000 electrons at full well for a small surveillance sensor
    full_well = 1000.0
    electrons = rng.poisson(lin * full_well).astype(np.float32)
    out = (np.clip(electrons / full_well, 0, 1) ** (1 / 2.2)) * 255.0
    out += rng.normal(0.0, read_noise, out.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def mode_image(mode: str, vis: np.ndarray, ir: np.ndarray, method: str) -> np.ndarray:
    """The detector's input in `mode` for one registered pair (BGR, the visible image's size)."""
    ir = to_gray(ir)
    if ir.shape != vis.shape[:2]:
        ir = cv2.resize(ir, (vis.shape[1], vis.shape[0]), interpolation=cv2.INTER_LINEAR)
    if mode == "rgb":
        out = vis
    elif mode == "thermal":
        out = ir
    else:
        out = fuse(vis, ir, method)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR) if out.ndim == 2 else out


@dataclass
class Sample:
    """One pair at one light level: its RGB brightness and each mode's detections."""

    pair: str
    dataset: str
    exposure: float
    brightness: float
    dets: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # mode -> (class id, conf)
    halves: dict[str, tuple[float, float]] = field(default_factory=dict)  # mode -> score on left, right half

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.pair}"

    @property
    def group(self) -> str:
        light = "night" if self.brightness < NIGHT_BELOW else "day"
        return light if self.exposure >= 1.0 else f"{light} (dimmed)"

    def score(self, mode: str) -> float:
        return float(sum(c for _, c in self.dets[mode]))


def _cache_key(parts: Iterable[object]) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:20]


def measure(datasets: dict[str, list[ImagePair]], detector: Detector, detector_id: str,
            method: str = "default", exposures: tuple[float, ...] = EXPOSURES,
            cache_dir: Path | None = None, progress: Callable[[str], None] | None = None) -> list[Sample]:
    """Detections per mode for every pair at every light level (cached per image on disk:
    the detector is the slow part and the inputs do not change between runs)."""
    method = resolve_method(method)
    cache = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "vigil-fusion-detections"
    cache.mkdir(parents=True, exist_ok=True)
    samples = []
    total = sum(len(p) for p in datasets.values()) * len(exposures)
    for dataset, pairs in datasets.items():
        for pair in pairs:
            vis0, ir = read_pair_image(pair.visible), read_pair_image(pair.thermal)
            if vis0.ndim == 2:
                vis0 = cv2.cvtColor(vis0, cv2.COLOR_GRAY2BGR)
            for exposure in exposures:
                seed = int(_cache_key([pair.name, exposure])[:8], 16)
                vis = low_light(vis0, exposure, seed)
                # one cache file per image; the fused entry is per method, so comparing methods
                # re-runs only the detector on the fused images
                key = _cache_key([CACHE_VERSION, detector_id, pair.visible.resolve(),
                                  pair.visible.stat().st_mtime_ns, pair.thermal.resolve(),
                                  pair.thermal.stat().st_mtime_ns, exposure])
                path = cache / f"{key}.json"
                stored = json.loads(path.read_text()) if path.exists() else {}
                wanted = {"rgb": "rgb", "thermal": "thermal", "fused": f"fused:{method}"}
                missing = [m for m in MODES if wanted[m] not in stored or wanted[m] + HALVES not in stored]
                if missing:
                    images = [mode_image(m, vis, ir, method) for m in missing]
                    half = vis.shape[1] // 2
                    found = iter(detector.detect([crop for im in images
                                                  for crop in (im, im[:, :half], im[:, half:])]))
                    for m in missing:
                        whole, left, right = ([(int(c), float(x)) for c, x in zip(d.class_id, d.confidence)]
                                              for d in (next(found), next(found), next(found)))
                        stored[wanted[m]], stored[wanted[m] + HALVES] = whole, [left, right]
                    path.write_text(json.dumps(stored))
                dets = {m: [(int(c), float(x)) for c, x in stored[wanted[m]]] for m in MODES}
                halves = {m: (sum(x for _, x in stored[wanted[m] + HALVES][0]),
                              sum(x for _, x in stored[wanted[m] + HALVES][1])) for m in MODES}
                samples.append(Sample(pair.name, dataset, exposure, brightness(vis), dets, halves))
                if progress is not None:
                    progress(f"{len(samples)}/{total} {dataset}/{pair.name} x{exposure:g}")
    for s in samples:
        s.dets["auto"] = []  # filled by choose_auto
    return samples


def choose_auto(samples: list[Sample], dark: float, bright: float) -> None:
    """Give each sample auto's detections: those of the mode auto picks at its brightness; and on
    each half, what auto with probes gives: the brightness choice, corrected by a probe of the
    other half (`probe_choice`, the composer's own rule)."""
    for s in samples:
        band = auto_band(s.brightness, dark, bright)
        s.dets["auto"] = s.dets[band]
        if s.halves:
            s.halves["auto"] = s.halves[band]
            picks = [probe_choice(band, {m: s.halves[m][1 - h] for m in MODES}) for h in (0, 1)]
            s.halves["auto (probes)"] = (s.halves[picks[0]][0], s.halves[picks[1]][1])


def fit_thresholds(samples: list[Sample], step: float = 5.0) -> tuple[float, float]:
    """(dark, bright) maximising auto's summed share of each image's best score: every image
    counts once (a crowded street would otherwise decide alone); images where no mode detects
    anything say nothing and drop out. Among equal totals the widest fused band wins."""
    levels = np.array([s.brightness for s in samples])
    raw = np.array([[s.score(m) for s in samples] for m in MODES])
    share = raw / np.maximum(raw.max(axis=0), 1e-9)
    rgb, thermal, fused = share
    grid = np.arange(0.0, 255.0 + step, step)
    best: tuple[float, float, float] | None = None
    for dark in grid:
        for bright in grid[grid >= dark]:
            pick = np.where(levels >= bright, rgb, np.where(levels < dark, thermal, fused))
            total = round(float(pick.sum()), 6)
            if best is None or (total, bright - dark) > (best[0], best[2] - best[1]):
                best = (total, float(dark), float(bright))
    assert best is not None
    return best[1], best[2]


def summarise(samples: list[Sample]) -> dict:
    """Per group (day / night, real / dimmed) and mode: images, detections, mean confidence,
    score, share and detections per class; and auto's score over the best single mode's."""
    out: dict = {}
    for group in sorted({s.group for s in samples}):
        rows = [s for s in samples if s.group == group]
        out[group] = {}
        for m in ALL_MODES:
            confs = [c for s in rows for _, c in s.dets[m]]
            per_class = {}
            for k, name in enumerate(CLASS_NAMES):
                cc = [c for s in rows for cls, c in s.dets[m] if cls == k]
                if cc:
                    per_class[name] = {"detections": len(cc), "mean_confidence": round(float(np.mean(cc)), 4)}
            shares = [s.score(m) / best for s in rows if (best := max(s.score(k) for k in MODES)) > 0]
            out[group][m] = {"images": len(rows), "detections": len(confs),
                             "share": round(float(np.mean(shares)), 4) if shares else 0.0,
                             "mean_confidence": round(float(np.mean(confs)), 4) if confs else 0.0,
                             "score": round(float(sum(confs)), 3),
                             "per_class": per_class}
        # auto against the best single mode of the group (1.0 = as good; the bar is 0.98)
        best_mode = max(MODES, key=lambda m: out[group][m]["score"])
        best_score = out[group][best_mode]["score"]
        ratio = round(out[group]["auto"]["score"] / best_score, 4) if best_score else None
        out[group]["auto_vs_best"] = {"best_mode": best_mode, "ratio": ratio}
        if all(s.halves for s in rows):
            out[group]["halves"] = _halves(rows)
    return out


def _halves(rows: list[Sample]) -> dict:
    """Scores summed over both halves of every image, per mode and for auto with and without
    probes, and each auto over the best single mode on the halves."""
    modes = (*MODES, "auto", "auto (probes)")
    score = {m: round(float(sum(sum(s.halves[m]) for s in rows)), 3) for m in modes}
    best_mode = max(MODES, key=lambda m: score[m])
    best = score[best_mode]
    return {"score": score, "best_mode": best_mode,
            "auto_vs_best": round(score["auto"] / best, 4) if best else None,
            "probes_vs_best": round(score["auto (probes)"] / best, 4) if best else None}


def evaluate(samples: list[Sample]) -> dict:
    """Fit auto's thresholds on the development half, report every mode on both halves."""
    hold = held_back(s.key for s in samples)
    dev = [s for s in samples if s.key not in hold]
    held = [s for s in samples if s.key in hold]
    dark, bright = fit_thresholds(dev)
    # the same fit on the other half: how far apart the two land says how firm the thresholds are
    check = fit_thresholds(held) if held else (dark, bright)
    choose_auto(samples, dark, bright)
    return {"dark_threshold": dark, "bright_threshold": bright, "held_back_fit": list(check),
            "night_below": NIGHT_BELOW,
            "exposures": sorted({s.exposure for s in samples}, reverse=True),
            "development_pairs": sorted({s.key for s in dev}), "held_back_pairs": sorted({s.key for s in held}),
            "development": summarise(dev), "held_back": summarise(held)}

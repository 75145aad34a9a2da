"""Detection-driven mode choice: the low-light simulation, the threshold fit and
`vigil eval fusion --detections` on real pairs with the real detector."""

import json
import os

import numpy as np
import pytest

from tests.fusion.data import VIFB_INPUT, need
from tests.support.data import YOLO_ONNX
from vigil.cli import main
from vigil.config.fusion import ThermalConfig
from vigil.eval.fusion_detections import Sample, choose_auto, fit_thresholds, low_light, summarise
from vigil.eval.split import held_back
from vigil.fusion.compose import ThermalComposer, auto_band, brightness


def test_low_light_dims_adds_noise_and_is_repeatable():
    img = np.tile(np.linspace(0, 255, 64, dtype=np.float32), (48, 1)).astype(np.uint8)[..., None].repeat(3, 2)
    assert low_light(img, 1.0) is img
    a, b = low_light(img, 0.25, seed=3), low_light(img, 0.25, seed=3)
    assert np.array_equal(a, b) and a.shape == img.shape and a.dtype == np.uint8
    darker = low_light(img, 0.06, seed=3)
    assert brightness(darker) < brightness(a) < brightness(img)
    # gamma: a quarter of the light is far more than a quarter of the pixel value
    assert 0.45 < brightness(a) / brightness(img) < 0.65
    assert not np.array_equal(low_light(img, 0.25, seed=4), a)  # noise, not a plain scale


def _sample(level: float, best: str, name: str) -> Sample:
    dets = {m: [(0, 0.5)] for m in ("rgb", "thermal", "fused")}
    dets[best] = [(0, 0.9), (2, 0.8)]
    return Sample(name, "synthetic", 1.0, level, dets)


def test_thresholds_are_where_the_best_mode_changes():
    # thermal best below 40, fused between 40 and 100, rgb from 100 up
    samples = [_sample(v, "thermal" if v < 40 else "fused" if v < 100 else "rgb", f"p{v}")
               for v in range(5, 200, 7)]
    dark, bright = fit_thresholds(samples)
    assert 33 < dark <= 40 and 96 < bright <= 100
    choose_auto(samples, dark, bright)
    table = summarise(samples)
    for group in table.values():  # auto picked the best mode on every image
        assert group["auto"]["share"] == 1.0 and group["auto_vs_best"]["ratio"] >= 1.0
        assert group["auto"]["detections"] >= max(group[m]["detections"] for m in ("rgb", "thermal", "fused"))


def test_held_back_half_is_balanced_and_stable():
    keys = [f"set/{i}" for i in range(41)]
    half = held_back(keys)
    assert len(half) == 20 and half == held_back(reversed(keys))
    assert half != set(keys[1::2])  # not the datasets' own order


def test_auto_band_is_the_composers_choice_away_from_hysteresis():
    comp = ThermalComposer(ThermalConfig(source="x", mode="auto"), "cam", estimator=None)
    cfg = comp.cfg
    for level in (5, cfg.dark_threshold - 6, cfg.bright_threshold + 6, 200):
        comp._band = "fused"  # from the middle band neither threshold is widened
        assert comp.auto_choice(np.full((8, 8, 3), level, np.uint8)) == auto_band(level, cfg.dark_threshold,
                                                                                   cfg.bright_threshold)


@pytest.fixture()
def two_pairs(tmp_path):
    root = tmp_path / "pairs"
    for sub in ("vi", "ir"):
        (root / sub).mkdir(parents=True)
    for name in ("fight", "walking"):  # a busy night scene, a daylight scene
        os.symlink(need(VIFB_INPUT / "VI" / f"{name}.jpg"), root / "vi" / f"{name}.jpg")
        os.symlink(need(VIFB_INPUT / "IR" / f"{name}.jpg"), root / "ir" / f"{name}.jpg")
    return root


def test_eval_fusion_detections_on_real_pairs(two_pairs, tmp_path, capsys):
    argv = ["eval", "fusion", "--detections", "--pairs", str(two_pairs), "--weights", str(need(YOLO_ONNX)),
            "--cache-dir", str(tmp_path / "cache"), "--format", "json"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 6  # 2 pairs x 3 light levels
    assert len(res["development_pairs"]) == 1 and len(res["held_back_pairs"]) == 1
    assert 0 <= res["dark_threshold"] <= res["bright_threshold"] <= 255
    groups = {**res["development"], **res["held_back"]}
    every = {m: sum(g[m]["detections"] for g in groups.values()) for m in ("rgb", "thermal", "fused", "auto")}
    assert min(every.values()) > 0
    # the thermal image is not dimmed: it gives the same detections at every light level, while the
    # dimmed RGB images lose detections
    cached = [json.loads(p.read_text()) for p in (tmp_path / "cache").glob("*.json")]
    assert len({json.dumps(c["thermal"]) for c in cached}) == 2
    assert all(set(c) == {m + h for m in ("rgb", "thermal", "fused:msd") for h in ("", "|halves")} for c in cached)
    # auto with probes is scored on image halves, beside every mode on the same halves: the probe
    # reads one half, its choice is scored on the other, so it is never better than the per-half best
    for g in groups.values():
        h = g["halves"]["score"]
        assert set(h) == {"rgb", "thermal", "fused", "auto", "auto (probes)"}
        assert h["auto (probes)"] <= sum(h[m] for m in ("rgb", "thermal", "fused"))
        best = max(h[m] for m in ("rgb", "thermal", "fused"))
        assert g["halves"]["probes_vs_best"] == (round(h["auto (probes)"] / best, 4) if best else None)
    real = [g for k, g in groups.items() if "dimmed" not in k]
    dimmed = [g for k, g in groups.items() if "dimmed" in k]
    assert sum(g["rgb"]["detections"] for g in real) > sum(g["rgb"]["detections"] for g in dimmed) / 2
    for g in groups.values():
        assert set(g["rgb"]["per_class"]) <= {"pedestrian", "bicycle", "car", "motorcycle", "bus", "truck"}
    # a second run reads the cache (no detector call changes it) and prints the table
    argv[-1] = "table"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "held-back" in out and "auto's thresholds" in out and "share" in out and "auto with probes" in out
    # another fusion method adds its fused detections beside the others
    assert main(argv[:-2] + ["--methods", "average", "--format", "json"]) == 0
    assert all({"fused:msd", "fused:average"} <= set(json.loads(p.read_text()))
               for p in (tmp_path / "cache").glob("*.json"))


def test_detections_mistakes_are_one_line_errors(two_pairs, capsys):
    assert main(["eval", "fusion", "--detections", "--pairs", str(two_pairs), "--weights", "nope.onnx"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["eval", "fusion", "--pairs", str(two_pairs), "--pairs", str(two_pairs)]) == 2
    assert "one --pairs" in capsys.readouterr().err

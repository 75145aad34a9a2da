"""Fusion metrics against VIFB's own MATLAB numbers, and VIF by its known properties."""

import csv
from collections import defaultdict

import cv2
import numpy as np
import pytest

from tests.fusion.data import VIFB_CSV, VIFB_FUSED, VIFB_INPUT, need
from vigil.fusion import metrics as M


def relative_errors(every_method: bool):
    """Relative error of every VIFB metric on the shared fused images: all 105 (21 pairs x 5
    methods), or 21 (each pair once, the methods taken in turn, so every method and every
    colour case is still covered)."""
    ref = {}
    with need(VIFB_CSV).open() as f:
        for r in csv.DictReader(f):
            ref[(r["image"], r["method"], r["metric"])] = float(r["value"])
    errors = defaultdict(list)
    fused_files = sorted(need(VIFB_FUSED).glob("*.jpg"))
    assert len(fused_files) >= 100
    if not every_method:
        by_image = defaultdict(list)
        for path in fused_files:
            by_image[path.stem.split("_", 1)[0]].append(path)
        fused_files = [paths[i % len(paths)] for i, (_, paths) in enumerate(sorted(by_image.items()))]
    for path in fused_files:
        image, method = path.stem.split("_", 1)
        vis = cv2.imread(str(VIFB_INPUT / "VI" / f"{image}.jpg"), cv2.IMREAD_UNCHANGED)
        ir = cv2.imread(str(VIFB_INPUT / "IR" / f"{image}.jpg"), cv2.IMREAD_UNCHANGED)
        fused = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        got = M.evaluate(vis, ir, fused, list(M.VIFB_NAMES))
        for name, vifb_name in M.VIFB_NAMES.items():
            want = ref[(image, method, vifb_name)]
            errors[name].append(abs(got[name] - want) / abs(want))
    return errors


@pytest.fixture(scope="module")
def errors_one_per_pair():
    return relative_errors(every_method=False)


@pytest.fixture(scope="module")
def errors_all():
    return relative_errors(every_method=True)


def check(errors, name):
    errs = np.array(errors[name])
    assert errs.mean() < 0.01, f"{name}: mean relative error {errs.mean():.4%}"
    # the conventions are reproduced exactly, so no single image should be far off either
    assert errs.max() < 0.02, f"{name}: worst relative error {errs.max():.4%}"


@pytest.mark.parametrize("name", list(M.VIFB_NAMES))
def test_metric_matches_vifb_on_every_pair(errors_one_per_pair, name):
    assert len(errors_one_per_pair[name]) == 21
    check(errors_one_per_pair, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(M.VIFB_NAMES))
def test_metric_matches_vifb_within_one_percent_on_all_fused_images(errors_all, name):
    assert len(errors_all[name]) >= 100
    check(errors_all, name)


@pytest.fixture(scope="module")
def kettle():
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "kettle.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "kettle.jpg")), cv2.IMREAD_GRAYSCALE)
    return vis, ir


def test_ssim_is_two_and_cross_entropy_zero_when_everything_is_one_image(kettle):
    vis, _ = kettle
    assert M.ssim(vis, vis, vis) == pytest.approx(2.0)
    assert M.cross_entropy(vis, vis, vis) == pytest.approx(0.0, abs=1e-12)
    assert M.qabf(vis, vis, vis) > 0.95


def test_sf_lays_channels_side_by_side_like_matlab():
    """A colour image whose channels are constant has no in-channel detail: its SF comes only
    from the R|G and G|B seams, which a per-channel SF would miss."""
    img = np.zeros((4, 5, 3), np.uint8)
    img[..., 2], img[..., 1], img[..., 0] = 10, 40, 100  # BGR: R=10, G=40, B=100
    # seams (R->G, G->B) are 30 and 60 on each of 4 rows; divided by H*W*C = 60
    assert M.spatial_frequency(None, None, img) == pytest.approx(np.sqrt(4 * (30**2 + 60**2) / 60))
    assert M.spatial_frequency(None, None, img[..., 0]) == 0.0


def test_vif_is_one_for_identical_sources_and_falls_with_distortion(kettle):
    vis, _ = kettle
    gray = cv2.cvtColor(vis, cv2.COLOR_BGR2GRAY)
    assert M.vif(gray, gray, gray) == pytest.approx(1.0, abs=1e-6)
    values = [M.vif(gray, gray, cv2.GaussianBlur(gray, (0, 0), s)) for s in (0.5, 1.5, 3.0, 6.0)]
    assert all(a > b for a, b in zip(values, values[1:])), values
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, gray.shape)
    noisy = [M.vif(gray, gray, np.clip(gray + s * noise, 0, 255).astype(np.uint8)) for s in (5, 20, 60)]
    assert 1.0 > noisy[0] > noisy[1] > noisy[2], noisy


def test_vif_is_symmetric_in_the_sources_and_rewards_keeping_them(kettle):
    vis, ir = kettle
    gray = cv2.cvtColor(vis, cv2.COLOR_BGR2GRAY)
    avg = ((gray.astype(np.float32) + ir) / 2).astype(np.uint8)
    assert M.vif(gray, ir, avg) == pytest.approx(M.vif(ir, gray, avg), rel=1e-6)  # ties pick either
    flat = np.full_like(gray, int(gray.mean()))
    assert M.vif(gray, ir, avg) > M.vif(gray, ir, flat) + 0.2
    assert 0.0 <= M.vif(gray, ir, flat) < 0.05


def test_unknown_metric_name_is_refused(kettle):
    vis, ir = kettle
    with pytest.raises(ValueError, match="unknown fusion metric"):
        M.evaluate(vis, ir, vis, ["EN", "nope"])

"""Registration: calibration from point pairs, automatic visible -> thermal estimation on real
RoadScene pairs (reference homographies), refusal on pairs that do not match."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.fusion.data import ROADSCENE_REG, TNO, VIFB_INPUT, need
from vigil.config.fusion import ThermalConfig
from vigil.eval.registration import derive_pairs, evaluate_folder, load_reference_homographies
from vigil.fusion.pairs import read_pair_image
from vigil.fusion.register import (
    AutoParams,
    Registration,
    RegistrationError,
    as_homography,
    calibrate,
    calibrate_file,
    corner_error_px,
    invert_homography,
    register_images,
    warp_thermal_to_visible,
)

H_TRUE = np.array([[0.41, -0.012, 38.5], [0.009, 0.405, -6.2], [2e-5, -3e-5, 1.0]])


def _project(H, pts):
    return cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), H).reshape(-1, 2)


def _grid_points(n=9, w=1400, h=1000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([50, 50], [w - 50, h - 50], size=(n, 2))


# ------------------------------------------------------------------ calibration from points

def test_calibration_recovers_a_known_homography_from_exact_points():
    vis = _grid_points(6)
    reg = calibrate(vis, _project(H_TRUE, vis))
    assert reg.ok and reg.method == "points"
    assert np.allclose(reg.visible_to_thermal, H_TRUE, rtol=1e-5, atol=1e-6)
    assert reg.reprojection_rms_px < 1e-4


def test_calibration_with_noisy_points_reports_the_noise_as_reprojection_error():
    vis = _grid_points(40, seed=1)
    rng = np.random.default_rng(2)
    noisy = _project(H_TRUE, vis) + rng.normal(0, 0.5, size=(40, 2))
    reg = calibrate(vis, noisy)
    assert 0.3 < reg.reprojection_rms_px < 0.8  # ~0.5 px * sqrt(2) less the 8 fitted dof
    assert corner_error_px(reg.visible_to_thermal, H_TRUE, (1000, 1400)) < 1.5


def test_affine_calibration_fits_an_affine_map_exactly():
    A = np.array([[0.4, 0.01, 20.0], [-0.02, 0.39, 7.0], [0, 0, 1.0]])
    vis = _grid_points(5, seed=3)
    reg = calibrate(vis, _project(A, vis), model="affine")
    assert np.allclose(reg.visible_to_thermal, A, atol=1e-9)


@pytest.mark.parametrize("vis, ir, model, words", [
    ([[0, 0], [10, 0], [0, 10]], [[0, 0], [4, 0], [0, 4]], "homography", "at least 4"),
    ([[0, 0], [10, 0], [20, 0], [30, 0]], [[0, 0], [1, 0], [0, 1], [1, 1]], "homography", "one line"),
    ([[0, 0], [10, 0], [0, 10], [9, 9]], [[0, 0], [4, 0], [0, 4]], "homography", "in pairs"),
    ([[0, 0], [10, 0], [0, 10], [9, 9]], [[0, 0], [4, 0], [0, 4], [4, 4]], "projective", "unknown model"),
])
def test_calibration_rejects_unusable_points_with_a_clear_error(vis, ir, model, words):
    with pytest.raises(RegistrationError, match=words):
        calibrate(vis, ir, model)


def test_points_file_round_trip(tmp_path):
    vis = _grid_points(5, seed=4)
    ir = _project(H_TRUE, vis)
    lines = ["model: homography", "points:"] + [
        f"  - {{visible: [{v[0]:.6f}, {v[1]:.6f}], thermal: [{t[0]:.6f}, {t[1]:.6f}]}}" for v, t in zip(vis, ir)]
    path = tmp_path / "points.yaml"
    path.write_text("\n".join(lines) + "\n")
    reg = calibrate_file(path)
    assert corner_error_px(reg.visible_to_thermal, H_TRUE, (1000, 1400)) < 1e-3
    bad = tmp_path / "bad.yaml"
    bad.write_text("points:\n  - {visible: [1, 2], thermal: [3]}\n")
    with pytest.raises(RegistrationError, match="entry 1"):
        calibrate_file(bad)
    with pytest.raises(RegistrationError, match="does not exist"):
        calibrate_file(tmp_path / "missing.yaml")


# ------------------------------------------------------------------ directions and the site config

def test_thermal_to_visible_is_the_inverse_and_fits_the_site_config():
    reg = Registration(H_TRUE.copy(), True, 0.9, "auto")
    back = reg.thermal_to_visible
    assert np.allclose(back @ H_TRUE / (back @ H_TRUE)[2, 2], np.eye(3), atol=1e-9)
    cfg = ThermalConfig(source="thermal.mp4", homography=reg.config_homography())
    assert np.allclose(as_homography(cfg.homography), invert_homography(H_TRUE))
    with pytest.raises(RegistrationError, match="refused"):
        Registration(H_TRUE, False, 0.1, "auto", "no distinct match").config_homography()
    with pytest.raises(RegistrationError, match="3x3"):
        as_homography([[1, 0], [0, 1]])


def test_warp_thermal_to_visible_puts_a_thermal_spot_where_the_homography_says():
    ir = np.zeros((512, 640), np.uint8)
    cv2.circle(ir, (300, 200), 6, 255, -1)
    vis_size = (1400, 1000)
    warped = warp_thermal_to_visible(ir, invert_homography(H_TRUE), vis_size)
    assert warped.shape == (1000, 1400)
    ys, xs = np.nonzero(warped > 128)
    expected = _project(invert_homography(H_TRUE), [[300, 200]])[0]
    assert np.hypot(xs.mean() - expected[0], ys.mean() - expected[1]) < 1.5


# ------------------------------------------------------------------ automatic registration (real pairs)

def _roadscene(name):
    vis = read_pair_image(need(ROADSCENE_REG / "visible" / f"{name}.jpg"))
    ir = read_pair_image(need(ROADSCENE_REG / "infrared" / f"{name}.png"))
    return vis, ir


@pytest.fixture(scope="module")
def references():
    return load_reference_homographies(need(ROADSCENE_REG / "homographies.csv"))


@pytest.mark.parametrize("name", ["FLIR_00018", "FLIR_00548", "FLIR_00993"])
def test_automatic_registration_of_real_pairs_is_within_10px(name, references):
    vis, ir = _roadscene(name)
    reg = register_images(vis, ir)
    assert reg.ok, reg.reason
    assert reg.confidence >= 0.5
    assert corner_error_px(reg.visible_to_thermal, references[name], vis.shape) < 10


@pytest.mark.parametrize("vis_name, ir_name", [("FLIR_00006", "FLIR_00306"), ("FLIR_00452", "FLIR_00018"),
                                               ("FLIR_00691", "FLIR_00122")])
def test_mismatched_pairs_are_refused_not_answered(vis_name, ir_name):
    vis, _ = _roadscene(vis_name)
    _, ir = _roadscene(ir_name)
    reg = register_images(vis, ir)
    assert not reg.ok
    assert reg.confidence < 0.5
    assert reg.reason and reg.reason != "ok"


def test_a_featureless_thermal_frame_is_refused():
    vis, _ = _roadscene("FLIR_00018")
    flat = np.full((512, 640), 90, np.uint8) + np.random.default_rng(0).integers(0, 3, (512, 640), dtype=np.uint8)
    reg = register_images(vis, flat)
    assert not reg.ok


def test_recovers_a_synthetic_zoom_and_offset_on_another_dataset():
    """VIFB pairs are pixel-aligned; cropping and zooming the visible image gives a known answer
    in a different scene, size and scale from the RoadScene pairs."""
    vis = read_pair_image(need(VIFB_INPUT / "VI" / "snow.jpg"))
    ir = read_pair_image(need(VIFB_INPUT / "IR" / "snow.jpg"))
    h, w = vis.shape[:2]
    crop = np.array([[1.7, 0.03, -0.15 * w * 1.7], [-0.02, 1.7, -0.1 * h * 1.7], [0, 0, 1.0]])
    zoomed = cv2.warpPerspective(vis, crop, (int(w * 1.7 * 0.7), int(h * 1.7 * 0.75)))
    reg = register_images(zoomed, ir)
    assert reg.ok, reg.reason
    assert corner_error_px(reg.visible_to_thermal, invert_homography(crop), zoomed.shape) < 5


def test_a_soft_pair_keeps_the_coarser_estimate_when_the_full_resolution_step_loses_agreement(tmp_path):
    """TNO_4 as a derived pair (an upsampled, soft visible view of a grainy thermal scene): the
    half-resolution patches agree, the full-resolution ones do not (13 of 125). It used to be
    refused although its estimate was 4.5 px off; now the half-resolution fit is judged on its
    own patches, with the consensus limit scaled to their resolution, and accepted."""
    src = tmp_path / "TNO"
    for sub in ("vis", "ir"):
        (src / sub).mkdir(parents=True)
        (src / sub / "4.bmp").symlink_to(need(TNO / sub / "4.bmp"))
    out = derive_pairs([src], tmp_path / "derived")
    ref = load_reference_homographies(out / "homographies.csv")["TNO_4"]
    vis = read_pair_image(out / "visible" / "TNO_4.png")
    reg = register_images(vis, read_pair_image(out / "infrared" / "TNO_4.png"))
    assert reg.ok, reg.reason
    assert reg.stats["fell_back_from"] == "step2"
    # half-resolution matches spread the corners more than the full-resolution limit allows
    limit = AutoParams().max_corner_spread
    assert limit < reg.stats["corner_spread_px"] <= limit / 0.5
    assert corner_error_px(reg.visible_to_thermal, ref, vis.shape) < 10


def _derived_vifb(tmp_path, names):
    """VIFB pairs as derived (unregistered) pairs, named and seeded as `vigil eval register` does."""
    src = tmp_path / "VIFB" / "input"
    for sub in ("VI", "IR"):
        (src / sub).mkdir(parents=True)
        for name in names:
            (src / sub / f"{name}.jpg").symlink_to(need(VIFB_INPUT / sub / f"{name}.jpg"))
    out = derive_pairs([src], tmp_path / "derived")
    refs = load_reference_homographies(out / "homographies.csv")
    return {name: (read_pair_image(out / "visible" / f"VIFB_{name}.png"),
                   read_pair_image(out / "infrared" / f"VIFB_{name}.png"), refs[f"VIFB_{name}"]) for name in names}


def test_a_night_pair_is_refused_with_its_reason_because_its_patches_agree_no_more_than_chance(tmp_path):
    """VIFB elecbike at night (lamp bloom and lit foliage in the visible image, a flat, noisy
    thermal one): refused, and rightly: its best guess is hundreds of px off. Even started from
    the reference homography its half-resolution patches agree no more than a wrong alignment's,
    so no search could find it; brightness normalisation, denoising and a noise-floor weighting
    (docs/fusion.md) did not change that. A night visible image against another night scene's
    thermal one is refused too."""
    from vigil.fusion.images import to_gray
    from vigil.fusion.register_auto import refine_patches, required_inliers

    pairs = _derived_vifb(tmp_path, ["elecbike", "carLight"])
    vis, ir, ref = pairs["elecbike"]
    reg = register_images(vis, ir)
    assert not reg.ok and reg.confidence < 0.5
    assert "textured patches agree" in reg.reason
    assert corner_error_px(reg.visible_to_thermal, ref, vis.shape) > 10  # refusing was right
    p = AutoParams()
    res, patch, radius = p.refine_levels[0]
    gray_vis, gray_ir = to_gray(vis).astype(np.float32), to_gray(ir).astype(np.float32)
    at_truth = refine_patches(gray_vis, gray_ir, ref, res, patch, radius, p)
    assert at_truth.inliers < required_inliers(at_truth.matches, p), (at_truth.inliers, at_truth.matches)

    other_ir = pairs["carLight"][1]
    mismatched = register_images(vis, other_ir)
    assert not mismatched.ok and mismatched.confidence < 0.5 and mismatched.reason != "ok"


# ------------------------------------------------------------------ full evaluation (slow)

@pytest.mark.slow
def test_roadscene_all_pairs_meet_the_10px_bar_and_every_mismatch_is_refused():
    result = evaluate_folder(need(ROADSCENE_REG), mismatched=True)
    assert result["pairs"] == 20
    assert result["success_rate_10px"] >= 0.9, result
    assert result["success_rate_5px"] <= result["success_rate_10px"]
    assert max(r["cpu_seconds"] for r in result["per_pair"]) < 10
    assert result["mismatched_refused"] == result["mismatched_pairs"] == 20, result["mismatched"]

"""Registration over time: a real pair whose visible camera pans and zooms (synthetically, with a
known motion) is followed within 2 px; jumps are refused unless they repeat."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fusion.data import ROADSCENE_REG, need
from vigil.config.fusion import ThermalConfig
from vigil.fusion.compose import ThermalComposer
from vigil.fusion.pairs import read_pair_image
from vigil.fusion.register import invert_homography, register_images
from vigil.fusion.register_track import RegistrationTrack, blend, corner_shift

FRAME = (1200, 640)  # the simulated visible camera's frame (width, height)


def _view(vis: np.ndarray, zoom: float, ox: float, oy: float) -> tuple[np.ndarray, np.ndarray]:
    """The visible camera's frame after a pan to (ox, oy) and a zoom, and the map frame px ->
    original visible px."""
    import cv2

    C = np.array([[1 / zoom, 0, ox], [0, 1 / zoom, oy], [0, 0, 1.0]])
    return cv2.warpPerspective(vis, C, FRAME, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP), C


@pytest.fixture(scope="module")
def pair():
    return (read_pair_image(need(ROADSCENE_REG / "visible" / "FLIR_00548.jpg")),
            read_pair_image(need(ROADSCENE_REG / "infrared" / "FLIR_00548.png")))


def test_warp_follows_a_pan_and_zoom_within_2px(pair):
    vis, ir = pair
    frame0, C0 = _view(vis, 1.0, 100, 60)
    reg = register_images(frame0, ir)
    assert reg.ok, reg.reason
    # the scene-to-thermal map the first estimate implies: later frames' truth is this times C_t
    # (the test checks that the warp follows the motion; the estimate's own accuracy is
    # vigil eval register's business)
    scene_to_ir = reg.visible_to_thermal @ np.linalg.inv(C0)
    track = RegistrationTrack(reg.visible_to_thermal, alpha=0.5)
    errors = []
    steps = [(1.0 + 0.006 * t, 100 + 3.0 * t, 60 + 1.5 * t) for t in range(1, 8)]  # pan right/down, zoom in
    steps += [steps[-1]] * 3  # the camera stops: the warp catches up
    for zoom, ox, oy in steps:
        frame, C = _view(vis, zoom, ox, oy)
        assert track.update(frame, ir), track.stats.last_reason
        errors.append(corner_shift(track.H, scene_to_ir @ C, frame.shape))
    moved = corner_shift(scene_to_ir @ _view(vis, *steps[-1])[1], reg.visible_to_thermal, frame0.shape)
    assert moved > 8  # the camera moved far more than the tolerance
    assert max(errors[-3:]) < 2.0, errors  # after the motion: within 2 px
    assert max(errors) < 4.0, errors  # during it: a lag of about one step
    assert track.stats.followed == len(steps) and track.stats.jumps_refused == 0


def test_a_jump_is_refused_and_the_warp_kept(pair):
    vis, ir = pair
    frame0, C0 = _view(vis, 1.0, 100, 60)
    reg = register_images(frame0, ir)
    track = RegistrationTrack(reg.visible_to_thermal)
    far, _ = _view(vis, 1.0, 180, 120)  # one frame 32 thermal px away
    before = track.H.copy()
    assert not track.update(far, ir)
    assert np.allclose(track.H, before)
    assert "refused" in track.stats.last_reason


def _shifted(dx: float) -> np.ndarray:
    return np.array([[0.4, 0, 20 + dx], [0, 0.4, 10], [0, 0, 1.0]])


def test_jumps_are_taken_only_when_they_repeat_and_steps_are_blended():
    answers = iter([_shifted(4), _shifted(40), _shifted(40.5), _shifted(0), _shifted(40), _shifted(40),
                    _shifted(40.2)])
    track = RegistrationTrack(_shifted(0), refiner=lambda v, t, H: (next(answers), "ok"), alpha=0.5, confirm=3)
    img = np.zeros((500, 1000), np.uint8)
    assert track.update(img, img) and np.isclose(track.H[0, 2], 22)  # half way to a small step
    assert not track.update(img, img) and not track.update(img, img)  # a jump, twice
    assert track.stats.jumps_refused == 2 and np.isclose(track.H[0, 2], 22)
    assert track.update(img, img) and np.isclose(track.H[0, 2], 21)  # back near: the jump run is broken
    assert not track.update(img, img) and not track.update(img, img)
    assert track.update(img, img) and np.isclose(track.H[0, 2], 60.2)  # third agreeing jump: re-pointed
    assert track.stats.reseated == 1


def test_blend_moves_corners_linearly():
    a, b = _shifted(0), np.array([[0.5, 0, 30], [0, 0.5, 10], [0, 0, 1.0]])
    half = blend(a, b, 0.5, (400, 800))
    assert np.isclose(corner_shift(a, half, (400, 800)), corner_shift(half, b, (400, 800)))
    assert np.allclose(blend(a, b, 1.0, (400, 800)), b)


def test_composer_refines_every_n_frames_and_keeps_the_warp_on_a_refusal():
    cfg = ThermalConfig(source="x", mode="thermal", refine_every=2)
    ir_to_vis = invert_homography(_shifted(0))
    answers = iter([(_shifted(2), "ok"), (None, "only 3 of 90 textured patches agree")])
    comp = ThermalComposer(cfg, "cam", estimator=lambda v, t: ir_to_vis, refiner=lambda v, t, H: next(answers))
    vis, ir = np.zeros((240, 320, 3), np.uint8), np.zeros((120, 160), np.uint8)
    comp(vis, ir)  # estimated
    first = comp.warp.H.copy()
    comp(vis, ir)
    assert np.allclose(comp.warp.H, first)  # one frame since: not yet
    comp(vis, ir)  # second: refined, half way to a 2 px shift
    assert np.isclose(invert_homography(comp.warp.H)[0, 2], 21)
    comp(vis, ir)
    comp(vis, ir)  # refused: kept
    assert np.isclose(invert_homography(comp.warp.H)[0, 2], 21)
    assert comp.track is not None and comp.track.stats.refused == 1
    assert "3 of 90" in comp.track.stats.last_reason

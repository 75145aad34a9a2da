"""Pairing RGB and thermal streams by time, warping, modes, and the thermal config."""

from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from tests.fusion.streams import write_video
from vigil.config.fusion import ThermalConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError, SourceError
from vigil.fusion.compose import ThermalWarp
from vigil.fusion.fuse import fuse
from vigil.sources.factory import open_recording
from vigil.sources.paired import ImageFolderSource, PairedSource, PairingStats, match_by_time
from vigil.types import Frame

T0 = datetime(2026, 11, 1, 20, 0, tzinfo=timezone.utc)


def frames(times, value=100, shape=(48, 64, 3)):
    out = []
    for i, t in enumerate(times):
        img = np.full(shape, value, np.uint8)
        img[10:20, 10 + i % 30:20 + i % 30] = 250  # something that moves
        out.append(Frame(image=img, index=i, pts=t, time=T0 + timedelta(seconds=t), camera_id="cam"))
    return out


def test_frames_pair_with_the_nearest_partner_within_tolerance_and_misses_are_counted():
    rgb = frames([i / 10 for i in range(10)])
    thermal = frames([i / 10 + 0.02 for i in range(14) if i != 5])  # one lost, four after the RGB ends
    stats = PairingStats()
    pairs = list(match_by_time(rgb, thermal, 0.05, stats))
    assert [p is None for _, p in pairs] == [i == 5 for i in range(10)]
    assert all(abs(p.pts - r.pts - 0.02) < 1e-9 for r, p in pairs if p is not None)
    assert (stats.matched, stats.unmatched_rgb) == (9, 1)
    # only what the RGB stream needed was read: up to 1.02 (read, unpaired), not 1.12 and on
    assert stats.thermal_frames == 10 and stats.unmatched_thermal == 1

    stats = PairingStats()
    assert all(p is None for _, p in match_by_time(rgb, frames([i / 10 + 0.05 for i in range(10)]), 0.02, stats))
    assert stats.unmatched_rgb == 10 and stats.unmatched_thermal == 10


def test_a_slower_thermal_camera_serves_several_rgb_frames():
    rgb = frames([i / 30 for i in range(30)])  # 30 fps
    thermal = frames([i / 9 for i in range(9)])  # 9 fps, as export-limited thermal cores run
    stats = PairingStats()
    pairs = list(match_by_time(rgb, thermal, 0.02, stats))
    used = [p.index for _, p in pairs if p is not None]
    assert stats.matched == len(used) and len(set(used)) == 9 and stats.unmatched_thermal == 0
    assert stats.unmatched_rgb == 30 - len(used) > 0


def _cfg(**kw):
    return ThermalConfig(source="unused", homography=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], **kw)


def test_modes_choose_what_the_detector_sees():
    rgb = frames([0.0, 0.1, 0.2], value=120)
    thermal = frames([0.0, 0.2], value=30)

    out = list(PairedSource(rgb, thermal, _cfg(mode="fused")))
    assert [f.index for f in out] == [0, 2]  # frame 1 has no partner: dropped in fused mode
    assert np.array_equal(out[0].image, fuse(rgb[0].image, cv2.cvtColor(thermal[0].image, cv2.COLOR_BGR2GRAY)))
    assert out[0].time == rgb[0].time and out[0].camera_id == "cam"

    out = list(PairedSource(rgb, thermal, _cfg(mode="thermal")))
    assert np.array_equal(out[1].image, thermal[1].image)

    src = PairedSource(rgb, thermal, _cfg(mode="auto", bright_threshold=100))
    out = list(src)  # bright daylight RGB: the detector sees the plain RGB frames, partner or not
    assert [f.image is r.image for f, r in zip(out, rgb)] == [True] * 3
    assert src.composer.stats.shown_rgb == 3 and src.composer.stats.shown_fused == 0
    src = PairedSource(rgb, thermal, _cfg(mode="auto", bright_threshold=200))
    out = list(src)  # not bright enough for RGB alone, not dark: fused where a partner exists
    assert [f.index for f in out] == [0, 1, 2] and np.array_equal(out[1].image, rgb[1].image)
    assert np.array_equal(out[0].image, fuse(rgb[0].image, cv2.cvtColor(thermal[0].image, cv2.COLOR_BGR2GRAY)))
    assert src.composer.stats.shown_rgb == 1 and src.composer.stats.shown_fused == 2

    def explode():
        raise AssertionError("rgb mode must not read the thermal stream")
        yield

    src = PairedSource(rgb, explode(), _cfg(mode="rgb"))
    assert [f.image is r.image for f, r in zip(src, rgb)] == [True] * 3


def test_auto_mode_shows_thermal_while_the_visible_frame_is_dark():
    bright, dark = frames([0.0, 0.1], value=150), frames([0.2, 0.3], value=10)
    thermal = frames([0.0, 0.1, 0.2, 0.3], value=90)
    src = PairedSource(bright + dark, thermal, _cfg(mode="auto", dark_threshold=40))
    out = list(src)
    assert src.composer.stats.shown_thermal == 2 and src.composer.stats.shown_rgb == 2
    assert np.array_equal(out[3].image, thermal[3].image)
    assert out[0].image is bright[0].image  # daylight: plain RGB


def test_auto_mode_moves_between_bands_with_hysteresis():
    from vigil.fusion.compose import ThermalComposer

    comp = ThermalComposer(_cfg(mode="auto", dark_threshold=40, bright_threshold=90), "cam")
    levels = [120, 88, 86, 84, 60, 42, 38, 43, 46, 80, 92, 95]
    # rgb holds until 5 below bright (85); thermal holds until 5 above dark (45); fused leaves at the thresholds
    want = ["rgb", "rgb", "rgb", "fused", "fused", "fused", "thermal", "thermal", "fused", "fused", "rgb", "rgb"]
    assert [comp.auto_choice(np.full((8, 8, 3), v, np.uint8)) for v in levels] == want


def test_thermal_is_warped_into_the_rgb_view_and_rgb_fills_what_it_does_not_see():
    thermal = np.zeros((24, 32), np.uint8)
    thermal[8:12, 8:12] = 255
    visible = np.full((48, 64, 3), 77, np.uint8)
    warp = ThermalWarp(np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1.0]]))
    up = warp(thermal, visible)
    assert up.shape == (48, 64) and up[17:23, 17:23].min() > 200 and up[30:40, 30:40].max() == 0
    shifted = ThermalWarp(np.array([[1, 0, 40], [0, 1, 0], [0, 0, 1.0]]))(thermal, visible)
    assert (shifted[:, :40] == 77).all() and (shifted[:24, 40:] == np.pad(thermal, ((0, 0), (0, 0)))[:, :24]).all()


def test_homography_is_estimated_on_the_first_pairs_or_refused_clearly():
    rgb, thermal = frames([i / 10 for i in range(8)]), frames([i / 10 for i in range(8)])
    calls = []

    def refuses_twice(vis, ir):
        calls.append(1)
        if len(calls) <= 2:
            raise SourceError("automatic registration refused: too little structure")
        return np.eye(3)

    src = PairedSource(rgb, thermal, ThermalConfig(source="x"), "cam", estimator=refuses_twice)
    out = list(src)
    assert len(out) == 6 and src.composer.stats.dropped == 2 and len(calls) == 3

    def never(vis, ir):
        raise SourceError("automatic registration refused: no match")

    with pytest.raises(SourceError, match="could not register.*set thermal.homography"):
        list(PairedSource(rgb, thermal, ThermalConfig(source="x"), "cam", estimator=never))


def test_thermal_config_is_strict():
    with pytest.raises(ValidationError, match="3x3"):
        ThermalConfig(source="t.mp4", homography=[[1, 0], [0, 1]])
    with pytest.raises(ValidationError, match="unknown fusion method"):
        ThermalConfig(source="t.mp4", method="magic")
    with pytest.raises(ValidationError, match="extra"):
        ThermalConfig(source="t.mp4", homograpy=[[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValidationError):
        ThermalConfig(source="t.mp4", mode="night")


def test_camera_sources_open_files_and_image_folders(tmp_path):
    rgb = [np.full((48, 64, 3), 100 + i, np.uint8) for i in range(6)]
    write_video(tmp_path / "rgb.mp4", rgb, 5)
    (tmp_path / "ir").mkdir()
    for i in range(6):
        cv2.imwrite(str(tmp_path / "ir" / f"{i}.png"), np.full((24, 32), 50, np.uint8))
    cam = CameraConfig(id="c", start_time=T0, thermal={"source": "ir", "mode": "thermal",
                                                       "homography": [[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]]})
    src = open_recording(cam, tmp_path / "rgb.mp4", base_dir=tmp_path)
    out = list(src)
    assert len(out) == 6 and out[0].image.shape == (48, 64, 3) and abs(int(out[0].image[20, 30, 0]) - 50) <= 1
    assert src.stats.matched == 6
    plain = CameraConfig(id="c")
    assert not isinstance(open_recording(plain, tmp_path / "rgb.mp4"), PairedSource)
    missing = CameraConfig(id="c", thermal={"source": "nope.mp4"})
    with pytest.raises(SourceError, match="thermal source .* does not exist"):
        open_recording(missing, tmp_path / "rgb.mp4", base_dir=tmp_path)
    url = CameraConfig(id="c", thermal={"source": "rtsp://cam/thermal"})
    with pytest.raises(ConfigError, match="is a stream"):
        open_recording(url, tmp_path / "rgb.mp4", base_dir=tmp_path)
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path / "ir" / "..", "c")  # tmp_path holds only rgb.mp4 and ir/


def test_a_site_config_camera_takes_a_thermal_section(tmp_path):
    from vigil.config.load import load_site

    (tmp_path / "p.yaml").write_text("detector:\n  weights: yolo.onnx\n")
    (tmp_path / "site.yaml").write_text(
        "pipeline: p.yaml\n"
        "cameras:\n"
        "  - id: gate\n"
        "    source: rgb.mp4\n"
        "    thermal:\n"
        "      source: thermal.mp4\n"
        "      mode: auto\n"
        "      method: gff\n"
        "      homography: [[2.5, 0, 10], [0, 2.5, -4], [0, 0, 1]]\n"
        "      max_time_delta: 0.03\n"
        "      dark_threshold: 35\n")
    cam = load_site(tmp_path / "site.yaml").site.camera("gate")
    assert cam.thermal.mode == "auto" and cam.thermal.homography[0][0] == 2.5
    assert cam.thermal.max_time_delta == 0.03 and cam.thermal.start_time is None

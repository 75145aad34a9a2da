"""End to end: a recorded RGB camera and a lower-resolution thermal camera of the same street
(two short videos built from a shared VIFB pair, the thermal one with lost frames) ->
pairing by time -> automatic registration -> warp -> fusion -> YOLO -> tracking -> counting."""

import os
from collections import Counter
from datetime import datetime, timezone

import cv2
import numpy as np
import pytest

from tests.fusion.data import VIFB_INPUT, need
from tests.fusion.streams import pan_streams, write_video
from tests.support.data import YOLO_ONNX
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.site import CameraConfig
from vigil.pipeline.camera import CameraPipeline
from vigil.sources.factory import open_recording as open_camera_source
from vigil.sources.paired import PairedSource

pytestmark = pytest.mark.slow

FPS = 10
LOST = {7, 19, 23}  # thermal frames the thermal camera dropped
SCALE = 2.0  # RGB pixels per thermal pixel
WIDTH = 224  # thermal view width (of snow's 448)


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    """snow: a street with cars and people in snow; the camera pair pans, so they cross the view."""
    tmp = tmp_path_factory.mktemp("pair")
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "snow.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "snow.jpg")), cv2.IMREAD_GRAYSCALE)
    rgb, thermal = pan_streams(vis, ir, width=WIDTH, step=8, rgb_scale=SCALE)
    write_video(tmp / "rgb.mp4", rgb, FPS)
    write_video(tmp / "thermal.mp4", thermal, FPS, keep=[i for i in range(len(thermal)) if i not in LOST])
    return tmp, len(rgb), rgb[0].shape


@pytest.fixture(scope="module")
def detector():
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from vigil.detect.yolo import YoloDetector

    return YoloDetector.from_config(DetectorConfig(weights=str(need(YOLO_ONNX)), imgsz=640, batch=4))


def run_camera(camera: CameraConfig, rgb_path, base_dir, detector):
    source = open_camera_source(camera, rgb_path, base_dir=base_dir)
    pipe = CameraPipeline(camera, PipelineConfig(detector=DetectorConfig(weights=str(YOLO_ONNX))))
    events, frames, batch = [], [], []

    def flush():
        for frame, dets in zip(batch, detector.detect([f.image for f in batch])):
            events.extend(pipe.process(frame, dets))
        batch.clear()

    for frame in source:
        frames.append(frame)
        batch.append(frame)
        if len(batch) == 4:
            flush()
    flush()
    events.extend(pipe.finish())
    return source, frames, events


def camera(shape, **thermal):
    h, w = shape[:2]
    return CameraConfig(
        id="street", start_time=datetime(2026, 11, 1, 22, 0, tzinfo=timezone.utc),
        lines=[{"name": "mid", "points": [[w // 2, 0], [w // 2, h - 1]], "in_side": "left", "anchor": "center"}],
        thermal={"source": "thermal.mp4", "max_time_delta": 0.04, **thermal})


def test_registered_fused_stream_is_detected_tracked_and_counted(streams, detector):
    tmp, n, shape = streams
    cam = camera(shape, mode="fused")  # no homography: estimated from the first pairs
    source, frames, events = run_camera(cam, tmp / "rgb.mp4", tmp, detector)
    assert isinstance(source, PairedSource)

    # pairing: every RGB frame whose thermal partner was lost is counted and left out
    st = source.stats
    assert (st.rgb_frames, st.matched, st.unmatched_rgb, st.unmatched_thermal) == (n, n - len(LOST), len(LOST), 0)
    assert len(frames) == n - len(LOST) and not {f.index for f in frames} & LOST
    assert all(f.image.shape == shape for f in frames)

    # registration found the 2x magnification between the cameras: corners within 10 thermal px
    # (registration's own acceptance bar; the rest of the error is registration's business)
    corners = np.array([[0, 0, 1], [WIDTH - 1, 0, 1], [WIDTH - 1, 323, 1], [0, 323, 1]], float).T
    mapped = source.composer.warp.H @ corners
    mapped = (mapped[:2] / mapped[2]).T
    assert np.abs(mapped - corners[:2].T * SCALE).max() < 10 * SCALE, mapped

    # cars and people drift right-to-left through the view and cross the middle line
    crossings = Counter((e.class_name, e.direction) for e in events if e.kind == "line")
    assert sum(n for (cls, _), n in crossings.items() if cls in ("car", "truck", "pedestrian")) >= 2, events
    assert {d for _, d in crossings} == {"out"}, crossings  # right to left only (left side is "in")


def test_thermal_mode_sees_the_warped_thermal_image(streams):
    tmp, n, shape = streams
    H = [[SCALE, 0, 0.5], [0, SCALE, 0.5], [0, 0, 1]]  # known calibration this time
    source = open_camera_source(camera(shape, mode="thermal", homography=H), tmp / "rgb.mp4", base_dir=tmp)
    first = next(iter(source))
    gray = cv2.cvtColor(first.image, cv2.COLOR_BGR2GRAY)
    assert np.allclose(first.image[..., 0], first.image[..., 2])  # thermal is gray
    ir0 = cv2.imread(str(VIFB_INPUT / "IR" / "snow.jpg"), cv2.IMREAD_GRAYSCALE)[:, :WIDTH]
    expect = cv2.resize(ir0, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    assert np.abs(gray.astype(int) - expect).mean() < 3  # H.264 and interpolation

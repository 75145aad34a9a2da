"""The overlay, snapshots and the video writer on a real decoded frame (the demo clip)."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone

import av
import cv2
import numpy as np
import pytest

from tests.support.data import VIDEO, need
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.pipeline import PipelineConfig
from vigil.config.site import CameraConfig
from vigil.config.snapshots import SnapshotConfig
from vigil.pipeline.camera import CameraPipeline
from vigil.render.overlay import Overlay, Tally, in_side_band, to_supervision
from vigil.render.snapshot import Snapshotter, crop, encode_capped
from vigil.render.video import VideoWriter
from vigil.types import CountEvent, Detections, Frame

T0 = datetime(2026, 11, 1, 8, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    with av.open(str(need(VIDEO / "saoyan_test.mp4"))) as c:
        return next(c.decode(video=0)).to_ndarray(format="bgr24")


def camera(in_side: str = "left", zones: bool = True) -> CameraConfig:
    return CameraConfig(id="cam", lines=[LineConfig(name="main", points=((120, 200), (630, 200)), in_side=in_side)],
                        zones=[ZoneConfig(name="lot", polygon=[(400, 250), (600, 250), (600, 340), (400, 340)])]
                        if zones else [])


def tracks(n: int = 3) -> Detections:
    xyxy = [[100 + 60 * i, 220, 150 + 60 * i, 260] for i in range(n)]
    return Detections(xyxy=xyxy, confidence=[0.9] * n, class_id=[2] * n, tracker_id=list(range(1, n + 1)))


def event(track_id: int = 1, direction: str = "in") -> CountEvent:
    return CountEvent("cam", "line", "main", track_id, "car", direction, T0)  # type: ignore[arg-type]


def test_vigil_detections_map_onto_supervision():
    d = tracks(3)
    s = to_supervision(d)
    assert np.array_equal(s.xyxy, d.xyxy) and np.array_equal(s.tracker_id, [1, 2, 3])
    assert list(s.data["class_name"]) == ["car"] * 3
    untracked = Detections(xyxy=[[0, 0, 5, 5]], class_id=[0])
    assert to_supervision(untracked).tracker_id is None


@pytest.mark.parametrize("in_side, shaded_y, clear_y", [("left", 190, 210), ("right", 210, 190)])
def test_the_in_side_is_shaded_and_flips_with_in_side(image, in_side, shaded_y, clear_y):
    out = Overlay(camera(in_side, zones=False)).draw(image)
    changed = np.abs(out.astype(int) - image.astype(int)).sum(axis=2)
    # along the middle of the line: 10 px on the in side shaded green, the other side untouched
    xs = slice(250, 450)
    assert changed[shaded_y, xs].min() > 20
    def green(img):  # G - R (BGR order)
        return img[shaded_y, xs, 1].astype(int) - img[shaded_y, xs, 2]
    assert (green(out) - green(image)).mean() > 30
    assert changed[clear_y, xs].max() == 0
    band = in_side_band(camera(in_side).lines[0])
    assert (band[2:, 1] < 200).all() if in_side == "left" else (band[2:, 1] > 200).all()


def test_drawing_is_deterministic_and_leaves_the_input_alone(image):
    before = image.copy()
    tally = Tally()
    tally.add([event()])
    a = Overlay(camera()).draw(image, tracks(), tally)
    b = Overlay(camera()).draw(image, tracks(), tally)
    assert np.array_equal(a, b) and np.array_equal(image, before)
    assert not np.array_equal(a, image)


def test_the_counts_panel_changes_only_when_a_count_does(image):
    ov = Overlay(camera())
    t0, t1 = Tally(), Tally()
    t1.add([event()])
    a, b = ov.draw(image, None, t0), ov.draw(image, None, t1)
    x1, y1, x2, y2 = ov.panel_box(ov.panel_lines(t1))
    diff = np.abs(a.astype(int) - b.astype(int)).sum(axis=2)
    assert diff[y1:y2, x1:x2].sum() > 0  # the panel shows the new count
    line_label = diff.copy()
    line_label[y1:y2, x1:x2] = 0
    assert line_label.sum() > 0  # and so does the line's own label
    assert ov.panel_lines(t1)[0] == "main: in 1  out 0"
    t1.add([CountEvent("cam", "zone", "lot", 4, "car", "in", T0), CountEvent("cam", "zone", "lot", 5, "car", "in", T0),
            CountEvent("cam", "zone", "lot", 4, "car", "out", T0, dwell_s=2.0)])
    assert ov.panel_lines(t1)[1] == "lot: entered 2  inside 1"


def test_boxes_ids_and_traces_are_drawn(image):
    ov = Overlay(camera(zones=False))
    d = tracks(1)
    for _ in range(5):  # the box moves right: its trace follows
        d.xyxy[:, [0, 2]] += 10
        out = ov.draw(image, d)
    box = out[d.xyxy[0, 1].astype(int), int(d.xyxy[0, 0]) + 5:int(d.xyxy[0, 2]) - 5]
    assert np.abs(box.astype(int) - image[int(d.xyxy[0, 1]), int(d.xyxy[0, 0]) + 5:int(d.xyxy[0, 2]) - 5]).sum() > 0
    trace_y = int(d.xyxy[0, 3])  # bottom centre, where the line test looks
    trace = np.abs(out[trace_y, 130:175].astype(int) - image[trace_y, 130:175]).sum(axis=1)
    assert (trace > 0).sum() >= 20


def test_overlay_is_fast_enough_for_every_frame(image):
    ov, tally, d = Overlay(camera()), Tally(), tracks(20)
    times = []
    for _ in range(30):
        t = time.perf_counter()
        ov.draw(image, d, tally)
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.05, f"median {statistics.median(times) * 1000:.1f} ms per frame"


def test_snapshot_is_a_capped_jpeg_of_the_object(image):
    box = np.array([280, 40, 305, 70], np.float32)  # a car near the top of the first frame
    part = crop(image, box, 0.15, 320)
    assert part.shape[:2] == (40, 33)  # 30x25 box + 15% each side, rounded outwards
    jpeg = encode_capped(crop(image, np.array([0, 0, 640, 360]), 0, 640), 4 * 1024)
    assert jpeg is not None and len(jpeg) <= 4 * 1024
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
    # a box hanging over the edge is clipped; a box outside the frame gives nothing
    assert crop(image, np.array([630, 350, 700, 400]), 0, 320).shape[:2] == (10, 10)
    assert crop(image, np.array([700, 400, 720, 420]), 0, 320).size == 0


def test_snapshots_attach_to_events_whose_track_is_on_the_frame(image):
    snap = Snapshotter(SnapshotConfig(enabled=True, max_kb=8))
    frame = Frame(image, 0, 0.0, T0, "cam")
    out = snap.attach(frame, tracks(2), [event(2), event(9)])
    assert out[0].snapshot is not None and len(out[0].snapshot) <= 8 * 1024
    assert out[1].snapshot is None  # track 9 is not on this frame
    assert out[0] == event(2)  # the crop is not part of the event's identity


class Broken:
    def __call__(self, frame, tracks, events):
        raise OSError("No space left on device")

    def close(self):
        pass


def test_a_failing_observer_is_dropped_and_counting_goes_on(image):
    seen = []

    class Keeps:
        def __call__(self, frame, tracks, events):
            seen.append(frame.index)

        def close(self):
            seen.append("closed")

    pipe = CameraPipeline(camera(), PipelineConfig(detector={"weights": "unused.onnx"}), observers=[Broken(), Keeps()])
    for i in range(3):
        pipe.process(Frame(image, i, i / 10, T0, "cam"), tracks(2))
    assert seen == [0, 1, 2]
    assert any("Broken stopped at frame 0" in w and "No space left" in w for w in pipe.warnings)
    pipe.close()
    assert seen[-1] == "closed"


def test_video_writer_round_trips_through_pyav(tmp_path, image):
    w = VideoWriter(tmp_path / "v.mp4", 29.97 / 2)
    for i in range(12):
        w.write(np.roll(image, 4 * i, axis=1))
    w.close()
    with av.open(str(tmp_path / "v.mp4")) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
        rate = c.streams.video[0].average_rate
    assert len(frames) == 12 and frames[0].shape == image.shape
    assert abs(float(rate) - 29.97 / 2) < 0.01
    assert np.abs(frames[5].astype(int) - np.roll(image, 20, axis=1)).mean() < 6  # lossy, but the same picture

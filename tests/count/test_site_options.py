"""Per line/zone filters, masks, detector overrides, safe coordinates and in_direction: unit
cases on synthetic tracks (the real-clip cases are in test_site_e2e.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from tests.count.countkit import T0, at, box, frame, run, tally, walk
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.scale import to_pixels
from vigil.config.site import CameraConfig
from vigil.count import CameraCounter
from vigil.errors import ConfigError
from vigil.pipeline.camera import CameraPipeline
from vigil.types import CLASS_IDS, Detections, Frame

H_LINE = [[0, 100], [200, 100]]  # drawn left to right: "right" is below it


def crossing_down(cls: str, tid: int) -> list[Detections]:
    return [frame({tid: (50 + tid, y, cls)}) for y in (60, 80, 120, 140)]


def test_trucks_only_line_counts_only_trucks():
    lines = [LineConfig(name="all", points=H_LINE), LineConfig(name="trucks", points=H_LINE, classes=["truck"]),
             LineConfig(name="heavy", points=H_LINE, classes=["heavy"])]
    c = CameraCounter("cam", lines, [])
    frames = [d for k, cls in enumerate(["car", "truck", "bus", "truck", "pedestrian"], 1)
              for d in crossing_down(cls, k)]
    events = run(c, frames)
    by_line: dict[str, list[str]] = {}
    for e in events:
        by_line.setdefault(e.name, []).append(e.class_name)
    assert sorted(by_line["all"]) == ["bus", "car", "pedestrian", "truck", "truck"]
    assert by_line["trucks"] == ["truck", "truck"]
    assert sorted(by_line["heavy"]) == ["bus", "truck", "truck"]


def test_confidence_and_area_filters_hide_boxes_from_one_line_only():
    small, big = 10.0, 60.0  # box sides: areas 100 and 3600 square pixels
    lines = [LineConfig(name="all", points=H_LINE),
             LineConfig(name="big", points=H_LINE, min_area=1000),
             LineConfig(name="small", points=H_LINE, max_area=1000),
             LineConfig(name="sure", points=H_LINE, min_confidence=0.6)]
    c = CameraCounter("cam", lines, [])
    events = []
    for k, y in enumerate((60, 80, 120, 140)):
        xyxy = [box(50, y, small, small), box(100, y, big, big), box(150, y, big, big)]
        dets = Detections(xyxy=xyxy, confidence=[0.9, 0.9, 0.3], class_id=[2, 2, 2], tracker_id=[1, 2, 3])
        events += c.update(dets, at(k))
    got = {(e.name, e.track_id) for e in events}
    assert got == {("all", 1), ("all", 2), ("all", 3), ("big", 2), ("big", 3), ("small", 1),
                   ("sure", 1), ("sure", 2)}


def test_zone_class_filter():
    zone = ZoneConfig(name="z", polygon=[(0, 0), (100, 0), (100, 100), (0, 100)], classes=["pedestrian"])
    c = CameraCounter("cam", [], [zone])
    events = walk(c, 1, [(150, 50), (50, 50)], cls="car") + walk(c, 2, [(150, 50), (50, 50)], cls="pedestrian")
    assert [(e.track_id, e.direction) for e in events] == [(2, "in")]


@pytest.mark.parametrize("points, direction, side", [
    (H_LINE, "down", "right"), (H_LINE, "up", "left"),
    ([[200, 100], [0, 100]], "down", "left"),
    ([[100, 0], [100, 200]], "right", "left"), ([[100, 0], [100, 200]], "left", "right"),
    ([[0, 100], [200, 140]], "down", "right"),   # 11 degrees off horizontal: still across the motion
])
def test_in_direction_sets_the_side(points, direction, side):
    line = LineConfig(name="l", points=points, in_direction=direction)
    assert line.in_side == side
    c = CameraCounter("cam", [line], [])
    path = {"down": [(100, 60), (100, 150)], "up": [(100, 150), (100, 60)],
            "right": [(60, 100), (140, 100)], "left": [(140, 100), (60, 100)]}[direction]
    assert tally(walk(c, 1, path)) == {("line", "l", "in"): 1}


def test_to_pixels_scales_everything_and_checks_the_aspect():
    ref = CameraConfig(id="c", reference_size=(1280, 720), lines=[{"name": "l", "points": [[0, 400], [1280, 400]],
                                                                  "min_area": 400, "min_distance": 10}],
                       zones=[{"name": "z", "polygon": [[0, 0], [100, 0], [100, 100]]}],
                       masks=[[[0, 0], [640, 0], [0, 360]]],
                       ground={"image": [[0, 700], [1280, 700], [900, 300], [380, 300]],
                               "world": [[0, 0], [10, 0], [10, 30], [0, 30]]})
    px = to_pixels(ref, 640, 360)
    assert px.lines[0].points == ((0, 200), (640, 200)) and px.lines[0].min_area == 100
    assert px.lines[0].min_distance == 5
    assert px.zones[0].polygon == [(0, 0), (50, 0), (50, 50)] and px.masks[0] == [(0, 0), (320, 0), (0, 180)]
    assert px.ground is not None and px.ground.image[2] == (450, 150)
    assert to_pixels(ref, 1280, 720) is ref
    rel = CameraConfig(id="c", coordinates="relative", lines=[{"name": "l", "points": [[0, 0.5], [1, 0.5]]}])
    assert to_pixels(rel, 640, 360).lines[0].points == ((0, 180), (640, 180))
    with pytest.raises(ConfigError, match=r"the video is 640x480 \(aspect 1.333\) but reference_size is 1280x720"):
        to_pixels(ref, 640, 480)


def pipe_for(camera: CameraConfig) -> CameraPipeline:
    return CameraPipeline(camera, PipelineConfig(detector=DetectorConfig(weights="unused.onnx")))


def blank(w: int = 640, h: int = 360) -> Frame:
    return Frame(np.zeros((h, w, 3), np.uint8), 0, 0.0, T0)


def test_mask_and_detector_overrides_drop_detections_before_tracking():
    cam = CameraConfig(id="c", coordinates="relative", masks=[[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]],
                       detector={"confidence": 0.5, "classes": ["car", "bus"]})
    pipe = pipe_for(cam)
    feet_x = [100, 300, 400, 500, 600]   # the mask covers x < 320 (half of 640)
    dets = Detections(xyxy=[box(x, 200) for x in feet_x], confidence=[0.9, 0.9, 0.9, 0.4, 0.9],
                      class_id=[CLASS_IDS[c] for c in ("car", "car", "truck", "bus", "bus")])
    kept = pipe.prepare(blank(), dets)
    assert kept.anchors()[:, 0].tolist() == [600]
    assert pipe.prepare(blank(), kept).anchors()[:, 0].tolist() == [600]  # a second pass changes nothing


@pytest.mark.parametrize("reid", [False, True])
def test_masked_detections_are_never_embedded(reid):
    """Through the round: the camera's filters run once, before re-ID, so the embedder is asked
    for kept rows only and the tracker gets exactly those."""
    from vigil.config.reid import ReidConfig
    from vigil.pipeline.round import AnalysisRound

    cam = CameraConfig(id="c", masks=[[[0, 0], [320, 0], [320, 360], [0, 360]]])
    pipe = CameraPipeline(cam, PipelineConfig(detector=DetectorConfig(weights="unused.onnx"),
                                              reid=ReidConfig(weights="unused.pth") if reid else None))
    dets = Detections(xyxy=[box(x, 200) for x in (100, 400, 200, 500)], class_id=[2] * 4)
    asked = []

    class Detector:
        def detect(self, images):
            return [dets for _ in images]

    class Embedder:  # records what it is asked to embed
        def embed_batch(self, images, batch, wanted):
            asked.extend((d.anchors()[:, 0].tolist(), w) for d, w in zip(batch, wanted))
            return batch

    (res,) = AnalysisRound(Detector(), Embedder())([(pipe, blank())])
    assert res.error is None and res.detections is not None
    assert res.detections.anchors()[:, 0].tolist() == [400, 500]
    ((rows, wanted),) = asked
    assert rows == [400, 500]  # the masked rows never reach the embedder
    assert wanted is None if not reid else wanted.tolist() == [True, True]  # new tracks: all embedded


@pytest.mark.parametrize("fails", ["wanted", "embed"])
def test_a_camera_whose_crops_cannot_be_embedded_fails_alone_and_is_logged(fails, caplog):
    """The shared re-ID pass fails, so each camera is embedded on its own: the camera whose re-ID
    step fails loses this frame (not tracked) and is logged as any step's fault; the other is
    embedded and tracked."""
    from vigil.config.reid import ReidConfig
    from vigil.pipeline.round import AnalysisRound

    a, b = (CameraPipeline(CameraConfig(id=c), PipelineConfig(detector=DetectorConfig(weights="unused.onnx"),
                                                              reid=ReidConfig(weights="unused.pth")))
            for c in ("a", "b"))
    dets = Detections(xyxy=[box(400, 200)], class_id=[2])

    class Detector:
        def detect(self, images):
            return [dets for _ in images]

    class Embedder:
        def embed_batch(self, images, batch, wanted):
            raise RuntimeError("out of GPU memory")

        def embed(self, image, d, wanted):
            if image is bad.image:
                raise RuntimeError("crop outside the frame")
            return Detections(d.xyxy, d.confidence, d.class_id, embedding=np.ones((len(d), 4), np.float32))

    def refuse(frame, d):
        raise RuntimeError("crop outside the frame")

    bad = blank()
    if fails == "wanted":
        a.embedding_wanted = refuse
    with caplog.at_level(logging.ERROR, logger="vigil"):
        ra, rb = AnalysisRound(Detector(), Embedder())([(a, bad), (b, blank())])
    assert ra.error == "RuntimeError: crop outside the frame" and ra.detections is None and a.last_tracks is None
    assert rb.error is None and rb.detections is not None and rb.detections.embedding is not None
    assert b.last_tracks is not None and len(b.last_tracks) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["a: pipeline error on frame 0 (1 so far)"]


def test_a_masked_object_never_counts():
    cam = CameraConfig(id="c", masks=[[[0, 0], [100, 0], [100, 360], [0, 360]]],
                       lines=[{"name": "l", "points": [[0, 100], [640, 100]]}])
    pipe = pipe_for(cam)
    events = []
    for k, y in enumerate(range(40, 200, 8)):
        dets = Detections(xyxy=[box(50, y), box(300, y)], confidence=[0.9, 0.9], class_id=[2, 2])
        events += pipe.process(Frame(np.zeros((360, 640, 3), np.uint8), k, k / 10, T0 + timedelta(seconds=k / 10)),
                               dets)
    assert len(events) == 1  # the car at x=300; the one under the mask is never tracked


def test_aspect_mismatch_fails_the_first_frame_with_one_clear_error():
    pipe = pipe_for(CameraConfig(id="c", reference_size=(1280, 720), lines=[{"name": "l",
                                                                            "points": [[0, 1], [9, 9]]}]))
    with pytest.raises(ConfigError, match="reference_size is 1280x720"):
        pipe.prepare(blank(640, 480), Detections.empty())


@pytest.mark.parametrize("data, message", [
    # An unknown class is found against the pipeline's classes (test_site_bad_input, test_site_classes).
    ({"lines": [{"name": "l", "points": H_LINE, "classes": []}]}, "classes is empty"),
    ({"lines": [{"name": "l", "points": H_LINE, "min_area": 50, "max_area": 10}]}, "swap them"),
    ({"lines": [{"name": "l", "points": H_LINE, "in_direction": "up", "in_side": "right"}]}, "they disagree"),
    ({"lines": [{"name": "l", "points": H_LINE, "in_direction": "left"}]}, "runs mostly up-down"),
    ({"coordinates": "relative", "lines": [{"name": "l", "points": [[0, 0.5], [640, 0.5]]}]}, "from 0 to 1"),
    ({"reference_size": [1280, 720], "coordinates": "relative"}, "do not go together"),
    ({"reference_size": [1280, 720], "lines": [{"name": "l", "points": [[0, 1], [2000, 1]]}]},
     "within reference_size"),
    ({"masks": [[[0, 0], [1, 1]]]}, "at least 3 points"),
    ({"ground": {"image": [[0, 0], [1, 0], [1, 1]], "world": [[0, 0], [1, 0], [1, 1], [0, 1]]}}, "exactly 4"),
    ({"ground": {"image": [[0, 0], [1, 1], [1, 0], [0, 1]], "world": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
     "convex quadrilateral"),
])
def test_bad_camera_options_are_refused_with_a_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        CameraConfig.model_validate({"id": "c", **data})

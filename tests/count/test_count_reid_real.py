"""Re-ID de-duplication with real detections and real OSNet embeddings: a person's track is cut
in two (an id switch across a one-second gap) and the counter must still see one visit."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.data import MODELS, REPO, VIDEO, YOLO_ONNX, need
from vigil.config.load import load_site
from vigil.count import CameraCounter
from vigil.types import CLASS_IDS, Detections

CLIP = VIDEO / "intel_one-by-one-person-detection.mp4"
OSNET = MODELS / "osnet_x0_25_msmt17.pth"
FIRST, GAP, LAST = 396, (420, 430), 452    # the second person leaves through the exit at ~frame 440


@pytest.fixture(scope="module")
def person_rows():
    """(frame index, time, one-row Detections with embedding) of the person walking out, every 2nd frame."""
    from vigil.config.pipeline import DetectorConfig
    from vigil.config.reid import ReidConfig
    from vigil.detect.yolo import YoloDetector
    from vigil.reid import Embedder
    from vigil.sources.file import FileSource

    detector = YoloDetector.from_config(DetectorConfig(weights=str(need(YOLO_ONNX)), classes=["pedestrian"]))
    embedder = Embedder.from_config(ReidConfig(weights=str(need(OSNET))))
    frames = [f for f in FileSource(need(CLIP), "lobby", None, 2) if FIRST <= f.index <= LAST]
    rows = []
    for frame, dets in zip(frames, detector.detect([f.image for f in frames])):
        if len(dets):
            biggest = dets[int(np.argmax(dets.area))]
            rows.append((frame.index, frame.time, embedder.embed(frame.image, biggest)))
    assert len(rows) >= len(frames) - 3, "the detector should see the one person in almost every frame"
    return rows


def replay_with_switch(rows, keep_embeddings: bool):
    cam = load_site(REPO / "configs" / "people.yaml").site.camera("lobby")
    counter = CameraCounter("lobby", cam.lines, cam.zones)
    events = []
    for index, time, det in rows:
        if GAP[0] <= index < GAP[1]:
            events += counter.update(Detections.empty(), time)        # lost for a second
            continue
        det = Detections(xyxy=det.xyxy, confidence=det.confidence, class_id=np.full(1, CLASS_IDS["pedestrian"]),
                         tracker_id=[1 if index < GAP[0] else 2],
                         embedding=det.embedding if keep_embeddings else None)
        events += counter.update(det, time)
    return events + counter.finish(rows[-1][1])


def test_real_id_switch_is_one_visit_with_reid(person_rows):
    events = replay_with_switch(person_rows, keep_embeddings=True)
    zone = [(e.track_id, e.direction) for e in events if e.kind == "zone"]
    assert zone == [(1, "in"), (1, "out")]  # one visit of one object: its first id throughout
    exit_dwell = [e.dwell_s for e in events if e.kind == "zone"][1]
    start = person_rows[0][0]
    assert exit_dwell > (GAP[1] - start) / 10          # the visit runs across the switch
    assert [(e.track_id, e.direction) for e in events if e.kind == "line"] == [(1, "out")]


def test_without_embeddings_the_switch_splits_the_visit(person_rows):
    events = replay_with_switch(person_rows, keep_embeddings=False)
    zone = sorted((e.track_id, e.direction) for e in events if e.kind == "zone")
    assert zone == [(1, "in"), (1, "out"), (2, "in"), (2, "out")]

"""Every CPU engine against the ultralytics reference (YOLO(.pt).predict, PyTorch float) on the
shared images and 100 frames of each shared video: the same boxes (same class, IoU >= 0.9)
for >= 95 % of the detections above 0.4 confidence, both ways round.

A detection of one side is looked for among all of the other side's detections down to
the detector's own floor (0.25), so one just above 0.4 on one side and just below it on
the other still counts as the same box."""

import numpy as np
import pytest

from tests.support.data import SHARED, VIDEO, need
from vigil.detect.yolo import YoloDetector
from vigil.types import COCO_TO_VIGIL

# sobral_highway_video.avi is left out: at 320x176 nothing in it reaches 0.4 on either side
# (0 of 0 boxes on 100 frames, measured), so it would compare nothing at the cost of ~18 s.
VIDEOS = ["saoyan_test.mp4", "ozlu_input_video.mp4", "intel_car-detection.mp4", "intel_one-by-one-person-detection.mp4"]
IMAGES = ["bus.jpg", "zidane.jpg", "street.png", "reid_ranking_results.jpg"]
ENGINES = ["openvino", "onnxruntime"]
FRAMES = 100
SHOWN, FLOOR, SAME = 0.4, 0.25, 0.9


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def found(a, b) -> tuple[int, int]:
    """(detections of a above SHOWN, how many of them b has: same class, IoU >= SAME)."""
    xa, ca, ka = a
    xb, _, kb = b
    sel = ca > SHOWN
    if not sel.any():
        return 0, 0
    if len(xb) == 0:
        return int(sel.sum()), 0
    m = (iou(xa[sel], xb) >= SAME) & (ka[sel][:, None] == kb[None, :])
    return int(sel.sum()), int(m.any(axis=1).sum())


@pytest.fixture(scope="module")
def reference(float_pt):
    from ultralytics import YOLO

    model = YOLO(str(float_pt))
    classes = sorted(COCO_TO_VIGIL)

    def run(frame):
        r = model.predict(frame, imgsz=640, conf=FLOOR, iou=0.7, classes=classes, verbose=False)[0].boxes
        cls = np.array([COCO_TO_VIGIL[int(c)] for c in r.cls.tolist()], np.int32)
        return r.xyxy.numpy(), r.conf.numpy(), cls

    return run


@pytest.fixture(scope="module")
def detectors(float_pt):
    return {e: YoloDetector(weights=float_pt, engine=e, confidence=FLOOR, batch=4) for e in ENGINES}


def spread_frames(path, n: int) -> list[np.ndarray]:
    """n frames spread over the whole clip (more scenes than its first n)."""
    import av

    with av.open(str(path)) as c:
        total = c.streams.video[0].frames or n
        keep = set(np.linspace(0, max(total - 1, 0), n).round().astype(int).tolist())
        return [f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i in keep]


# The clips with plenty to compare.
BUSY = {"images": 20, "saoyan_test.mp4": 300, "ozlu_input_video.mp4": 200, "intel_one-by-one-person-detection.mp4": 40}


@pytest.fixture(scope="module", params=["images", *(pytest.param(v, marks=pytest.mark.slow) for v in VIDEOS)])
def clip(request, reference):
    if request.param == "images":
        import cv2

        frames = [cv2.imread(str(need(SHARED / "images" / n))) for n in IMAGES]
    else:
        frames = spread_frames(need(VIDEO / request.param), FRAMES)
    return request.param, frames, [reference(f) for f in frames]


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_agrees_with_ultralytics(clip, detectors, engine):
    name, frames, ref = clip
    got = [(d.xyxy, d.confidence, d.class_id) for d in detectors[engine].detect(frames)]
    shown_ref = found_ref = shown_got = found_got = 0
    for r, g in zip(ref, got):
        n, k = found(r, g)
        shown_ref, found_ref = shown_ref + n, found_ref + k
        n, k = found(g, r)
        shown_got, found_got = shown_got + n, found_got + k
    print(f"{engine} on {name}: {found_ref}/{shown_ref} reference boxes found, {found_got}/{shown_got} back")
    assert shown_ref >= BUSY.get(name, 0), f"{name}: too few detections above {SHOWN} to compare"
    assert found_ref >= 0.95 * shown_ref, f"{engine} on {name}: only {found_ref}/{shown_ref} reference boxes"
    assert found_got >= 0.95 * shown_got, f"{engine} on {name}: only {found_got}/{shown_got} of its boxes"

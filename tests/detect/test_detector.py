"""The detector on real weights and real images (../shared/data)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.data import SHARED, YOLO_ONNX, need
from vigil.config.pipeline import DetectorConfig
from vigil.detect.labels import class_lookup
from vigil.detect.letterbox import letterbox_batch
from vigil.detect.yolo import YoloDetector
from vigil.errors import ConfigError, VigilError, WeightsNotFound
from vigil.types import CLASS_IDS


@pytest.fixture(scope="module")
def detector():
    return YoloDetector(weights=need(YOLO_ONNX), batch=4)


def image(name):
    return cv2.imread(str(need(SHARED / "images" / name)))


def test_bus_image_finds_bus_and_pedestrians(detector):
    d = detector.detect([image("bus.jpg")])[0]
    names = d.class_id.tolist()
    assert names.count(CLASS_IDS["pedestrian"]) >= 3
    assert CLASS_IDS["bus"] in names
    bus = d.xyxy[d.class_id == CLASS_IDS["bus"]][0]
    assert bus[2] - bus[0] > 600  # the bus spans most of the 810 px wide image
    assert (d.xyxy[:, 2] <= 810).all() and (d.xyxy[:, 3] <= 1080).all() and (d.xyxy >= 0).all()
    assert (d.confidence >= 0.25).all()


def test_batch_equals_single_frames(detector):
    imgs = [image("bus.jpg"), image("street.png"), image("zidane.jpg")]
    batched = detector.detect(imgs + imgs[:2])  # 5 frames: a full batch of 4 and a tail of 1
    assert len(batched) == 5
    for im, b in zip(imgs, batched):
        s = detector.detect([im])[0]
        assert len(s) == len(b)
        assert np.allclose(s.xyxy, b.xyxy, atol=0.5)
    assert len(batched[0]) == len(batched[3])


def test_kept_classes_filter(tmp_path):
    only_cars = YoloDetector(weights=need(YOLO_ONNX), classes=["car"])
    d = only_cars.detect([image("street.png")])[0]
    assert len(d) > 0 and set(d.class_id.tolist()) == {CLASS_IDS["car"]}


def test_fixed_input_size_mismatch_is_a_clear_error():
    with pytest.raises(ConfigError, match="fixed 640x640 input.*imgsz is 320"):
        YoloDetector(weights=need(YOLO_ONNX), imgsz=320)


def test_missing_weights_names_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_MODELS", str(tmp_path / "models"))
    with pytest.raises(WeightsNotFound) as err:
        YoloDetector.from_config(DetectorConfig(weights="nope.onnx"), base_dir=tmp_path / "pipes")
    msg = str(err.value)
    for place in (tmp_path / "pipes" / "nope.onnx", tmp_path / "models" / "nope.onnx", ".cache/vigil/nope.onnx"):
        assert str(place) in msg


def test_weights_found_in_vigil_models(monkeypatch):
    monkeypatch.setenv("VIGIL_MODELS", str(need(YOLO_ONNX).parent))
    det = YoloDetector.from_config(DetectorConfig(weights="yolov8n_int8.onnx"), base_dir=Path("/nonexistent"))
    assert det.weights == YOLO_ONNX.resolve()


def test_unreadable_weights_file(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(VigilError, match="cannot load detector weights"):
        YoloDetector(weights=bad)


def test_class_lookup_by_name_and_by_coco_index():
    lut = class_lookup({0: "person", 1: "car", 2: "dog"})
    assert lut[:3].tolist() == [CLASS_IDS["pedestrian"], CLASS_IDS["car"], -1]
    coco = class_lookup({i: f"class{i}" for i in range(80)})
    assert coco[7] == CLASS_IDS["truck"] and coco[5] == CLASS_IDS["bus"] and coco[4] == -1


def test_letterbox_round_trip():
    frames = [np.zeros((360, 640, 3), np.uint8), np.zeros((480, 320, 3), np.uint8)]
    batch, boxes = letterbox_batch(frames, 640, fixed=True)
    assert batch.shape == (2, 640, 640, 3)
    box = np.array([[100, 50, 200, 150]], np.float32)
    lb = boxes[0]
    inp = box.copy()
    inp[:, [0, 2]] = inp[:, [0, 2]] * lb.scale + lb.pad_x
    inp[:, [1, 3]] = inp[:, [1, 3]] * lb.scale + lb.pad_y
    assert np.allclose(lb.to_frame(inp, (360, 640)), box, atol=1e-3)
    rect, _ = letterbox_batch(frames[:1], 640, stride=32, fixed=False)
    assert rect.shape == (1, 384, 640, 3)  # dynamic models get a rectangle: less padding

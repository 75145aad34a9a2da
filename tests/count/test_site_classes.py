"""Custom classes: `detector.classes` as a mapping of a model's own labels (or class indices) to
Vigil classes, so a model trained on other labels counts in Vigil's series."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.support.data import SHARED, YOLO_ONNX, need
from vigil.config.pipeline import DetectorConfig
from vigil.detect.yolo import class_lookup
from vigil.errors import ConfigError
from vigil.types import CLASS_IDS

FORKLIFT_MODEL = {0: "forklift", 1: "Lorry", 2: "worker", 3: "pallet"}


def test_a_label_mapping_decides_every_class():
    cfg = DetectorConfig(weights="x.onnx", classes={"forklift": "truck", "lorry": "truck", 2: "pedestrian"})
    assert cfg.kept_classes == ["pedestrian", "truck"]
    lut = class_lookup(FORKLIFT_MODEL, cfg.label_map)
    assert lut[:4].tolist() == [CLASS_IDS["truck"], CLASS_IDS["truck"], CLASS_IDS["pedestrian"], -1]
    coco = class_lookup({0: "person", 1: "bicycle", 2: "car", 5: "bus", 7: "truck"}, {"bus": "truck"})
    assert coco[5] == CLASS_IDS["truck"] and coco[0] == coco[2] == coco[7] == -1  # only what is mapped


def test_a_label_the_model_lacks_is_one_clear_error():
    with pytest.raises(ConfigError, match="maps label 'crane', which the model does not have; its labels: "
                                          "forklift, Lorry, worker, pallet"):
        class_lookup(FORKLIFT_MODEL, {"crane": "truck"})


@pytest.mark.parametrize("classes, message", [
    ({"forklift": "forklift"}, "not a Vigil class"),
    ({}, "empty mapping"),
    ({" ": "car"}, "empty label"),
])
def test_bad_mappings_are_refused(classes, message):
    with pytest.raises(ValidationError, match=message):
        DetectorConfig(weights="x.onnx", classes=classes)


@pytest.mark.slow
def test_real_model_reports_its_buses_as_the_mapped_class():
    import cv2

    from vigil.detect.yolo import YoloDetector

    image = cv2.imread(str(need(SHARED / "images" / "bus.jpg")))
    plain = YoloDetector.from_config(DetectorConfig(weights=str(need(YOLO_ONNX)), workers=1)).detect([image])[0]
    mapped = YoloDetector.from_config(DetectorConfig(weights=str(YOLO_ONNX), workers=1,
                                                     classes={"bus": "truck"})).detect([image])[0]
    assert sorted(plain.class_id.tolist()).count(CLASS_IDS["bus"]) == 1 and len(plain) >= 5
    assert mapped.class_id.tolist() == [CLASS_IDS["truck"]]  # the bus, as a truck; the people are dropped

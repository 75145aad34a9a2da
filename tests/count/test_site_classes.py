"""Custom classes: `detector.classes` as a mapping of a model's own labels (or class indices) to
Vigil classes, so a model trained on other labels counts in Vigil's series."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from pydantic import ValidationError

from tests.count.countkit import at, box, run
from tests.support.data import SHARED, YOLO_ONNX, need
from vigil.classes import DEFAULT_VOCAB
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.pipeline import DetectorConfig
from vigil.count import CameraCounter
from vigil.detect.yolo import class_lookup
from vigil.errors import ConfigError
from vigil.types import CLASS_IDS, CLASS_NAMES, Detections

FORKLIFT_MODEL = {0: "forklift", 1: "Lorry", 2: "worker", 3: "pallet"}
FORKLIFT_CLASSES = {"forklift": "forklift", "lorry": "truck", "worker": "pedestrian", "pallet": "pallet_truck"}


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


@pytest.mark.parametrize("classes, groups, message", [
    ({"forklift": "vehicle"}, {}, "'vehicle', which is a group of classes; name the new class otherwise"),
    ({"forklift": "fork lift"}, {}, "'fork lift' is not a usable class name"),
    ({}, {}, "empty mapping"),
    ({" ": "car"}, {}, "empty label"),
    ({"forklift": "forklift"}, {"forklift": "car"}, "puts 'forklift' in 'car', which is a class, not a group"),
    ({"forklift": "forklift"}, {"crane": "vehicle"}, "groups names class 'crane', which detector.classes does not"),
    ({"forklift": "forklift"}, {"forklift": "a b"}, "groups: forklift: 'a b' is not a usable class name"),
    (["car", "forklift"], {}, "unknown class 'forklift'; choose from pedestrian, bicycle, car, motorcycle, bus, "
                              "truck, or map the model's label to a new class: classes: {<label>: forklift}"),
])
def test_bad_mappings_are_refused(classes, groups, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        DetectorConfig(weights="x.onnx", classes=classes, groups=groups)


def test_default_vocabulary_keeps_todays_class_ids():
    assert DEFAULT_VOCAB.names == CLASS_NAMES and [DEFAULT_VOCAB.id(c) for c in CLASS_NAMES] == list(range(6))
    assert DetectorConfig(weights="x.onnx").vocabulary == DEFAULT_VOCAB
    # A mapping onto Vigil's own classes (the earlier custom-class form) adds nothing.
    assert DetectorConfig(weights="x.onnx", classes={"lorry": "truck"}).vocabulary == DEFAULT_VOCAB
    assert DEFAULT_VOCAB.expand(["heavy", "pedestrian"]) == ["pedestrian", "bus", "truck"]


def test_new_classes_follow_the_six_with_their_groups():
    cfg = DetectorConfig(weights="x.onnx", classes=FORKLIFT_CLASSES, groups={"forklift": "vehicle"})
    vocab = cfg.vocabulary
    assert vocab.names == (*CLASS_NAMES, "forklift", "pallet_truck")
    assert cfg.kept_classes == ["pedestrian", "truck", "forklift", "pallet_truck"]
    lut = class_lookup(FORKLIFT_MODEL, cfg.label_map, vocab)
    assert lut[:4].tolist() == [6, 5, 0, 7]
    # forklift joined vehicle (filters and id switches); pallet_truck is its own group.
    assert vocab.expand(["vehicle"]) == ["bicycle", "car", "motorcycle", "bus", "truck", "forklift"]
    assert vocab.expand(["pallet_truck"]) == ["pallet_truck"]
    codes = vocab.group_codes()
    assert codes[6] == codes[CLASS_IDS["car"]] != codes[7] != codes[CLASS_IDS["pedestrian"]]
    with pytest.raises(ValueError, match="unknown class 'crane'; choose from pedestrian, .*, forklift, "
                                         "pallet_truck or a group: vehicle, motor_vehicle, heavy"):
        vocab.expand(["crane"])


def _crossing(tid: int, class_id: int) -> list[Detections]:
    return [Detections(xyxy=[box(50 + tid, y)], class_id=[class_id], tracker_id=[tid], confidence=[0.9])
            for y in (60, 80, 120, 140)]


def test_counter_counts_new_classes_by_name_and_filters_them():
    vocab = DetectorConfig(weights="x.onnx", classes=FORKLIFT_CLASSES, groups={"forklift": "vehicle"}).vocabulary
    line = [[0, 100], [200, 100]]
    lines = [LineConfig(name="all", points=line), LineConfig(name="forklifts", points=line, classes=["forklift"]),
             LineConfig(name="vehicles", points=line, classes=["vehicle"])]
    zone = ZoneConfig(name="yard", polygon=[[0, 100], [200, 100], [200, 200], [0, 200]])
    counter = CameraCounter("cam", lines, [zone], vocab=vocab)
    objects = [(1, vocab.id("forklift")), (2, vocab.id("pallet_truck")), (3, vocab.id("pedestrian")),
               (4, vocab.id("forklift"))]
    events = run(counter, [d for tid, cid in objects for d in _crossing(tid, cid)])
    got = Counter((e.name, e.class_name, e.direction) for e in events if e.kind == "line")
    assert got[("all", "forklift", "in")] == 2 and got[("all", "pallet_truck", "in")] == 1
    assert {k for k in got if k[0] == "forklifts"} == {("forklifts", "forklift", "in")}
    assert got[("forklifts", "forklift", "in")] == 2
    assert {k[1] for k in got if k[0] == "vehicles"} == {"forklift"}  # pallet_truck is not a vehicle here
    occupancy = counter.occupancy()["yard"]
    assert occupancy["forklift"] == 2 and occupancy["pallet_truck"] == 1 and occupancy["pedestrian"] == 1
    with pytest.raises(ConfigError, match="camera 'cam' line 'x': unknown class 'crane'"):
        CameraCounter("cam", [LineConfig(name="x", points=line, classes=["crane"])], [], vocab=vocab)
    with pytest.raises(ValueError, match="class_id 8 is not a class id of this pipeline"):
        counter.update(_crossing(9, 8)[0], at(50))


def test_overlay_and_live_view_name_new_classes():
    from vigil.render.overlay import to_supervision
    from vigil.web.frames import boxes_json

    vocab = DetectorConfig(weights="x.onnx", classes=FORKLIFT_CLASSES).vocabulary
    dets = Detections(xyxy=[box(10, 50), box(60, 50)], class_id=[6, 0], tracker_id=[3, -1], confidence=[0.9, 0.8])
    assert to_supervision(dets, vocab).data["class_name"].tolist() == ["forklift", "pedestrian"]
    assert [r["class"] for r in boxes_json(dets, vocab)] == ["forklift", "pedestrian"]
    assert [r["class"] for r in boxes_json(dets)] == ["6", "pedestrian"]  # an id the vocabulary lacks shows as is


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

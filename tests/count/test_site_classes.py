"""Custom classes: `detector.classes` as a mapping of a model's own labels (or class indices) to
Vigil classes, so a model trained on other labels counts in Vigil's series."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.count.countkit import at, box, run
from tests.support.data import SHARED, VIDEO, YOLO_ONNX, cut_video, need
from vigil.classes import DEFAULT_VOCAB
from vigil.cli import main
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.pipeline import DetectorConfig
from vigil.count import CameraCounter
from vigil.detect.labels import class_lookup, model_labels
from vigil.errors import ConfigError, VigilError
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
    ({"forklift": "forklift"}, {"forklift": "heavy"}, "puts 'forklift' in 'heavy', a fixed filter group of bus, truck"),
    ({"car": "car", "forklift": "forklift"}, {"car": "machine"}, "groups names 'car', one of Vigil's own classes"),
    (["car", "forklift"], {}, "unknown class 'forklift'; choose from pedestrian, bicycle, car, motorcycle, bus, "
                              "truck, or map the model's label to a new class: classes: {<label>: forklift}"),
    ({"Lorry": "truck", "lorry": "bus"}, {}, "classes maps label 'Lorry' and 'lorry', which differ only by case"),
    ({"forklift": "forklift"}, {"forklift": "vehicle", "ForkLift": "x"},
     "groups names class 'forklift' and 'ForkLift', which differ only by case"),
])
def test_bad_mappings_are_refused(classes, groups, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        DetectorConfig(weights="x.onnx", classes=classes, groups=groups)


def test_class_names_ignore_case_wherever_a_user_writes_one(tmp_path):
    """A site and pipeline written in any case load as the lower-case ones: line, zone and camera
    filters, output filters, detector.classes (labels and names) and groups."""
    from vigil.config.load import load_site

    def write(folder: str, case) -> Path:
        d = tmp_path / folder
        d.mkdir()
        (d / "p.yaml").write_text(f"detector:\n  weights: x.onnx\n  classes: {{{case('Car')}: {case('Forklift')}, "
                                  f"{case('person')}: {case('Pedestrian')}, 7: {case('Truck')}}}\n"
                                  f"  groups: {{{case('Forklift')}: {case('Machine')}}}\n")
        (d / "s.yaml").write_text(
            f"pipeline: p.yaml\ncameras:\n  - id: yard\n    source: x.mp4\n"
            f"    detector: {{classes: [{case('Forklift')}, {case('Truck')}, {case('Pedestrian')}]}}\n"
            f"    lines: [{{name: gate, points: [[0, 1], [9, 1]], classes: [{case('Machine')}, {case('Truck')}]}}]\n"
            f"    zones: [{{name: dock, polygon: [[0, 0], [9, 0], [9, 9]], classes: [{case('Heavy')}]}}]\n"
            f"outputs:\n  - {{name: hook, type: webhook, url: 'http://127.0.0.1:9/h', "
            f"filter: {{classes: [{case('Forklift')}]}}}}\n")
        return d / "s.yaml"

    lower = load_site(write("lower", str.lower))
    for case in (str.upper, str.title, lambda n: n[0].lower() + n[1:].upper()):
        mixed = load_site(write(case("Mixed"), case))
        assert (mixed.site, mixed.pipeline) == (lower.site, lower.pipeline)
    assert lower.pipeline.detector.kept_classes == ["pedestrian", "truck", "forklift"]
    assert lower.site.cameras[0].lines[0].classes == ["machine", "truck"]
    assert lower.site.outputs[0].filter.match("yard", "line", "gate", "forklift", "in")


def test_model_labels_equal_but_for_case_are_refused_naming_both():
    twins = {0: "Car", 1: "van", 2: "car"}
    for label_map in ({"car": "car"}, {"CAR": "truck"}, None):
        with pytest.raises(ConfigError, match=re.escape("the detector's labels 'Car' (class 0) and 'car' (class 2) "
                                                        "differ only by case")):
            class_lookup(twins, label_map)
    # By index the model's labels are unambiguous, and a label without a twin is found in any case.
    assert class_lookup(twins, {"0": "car", "2": "truck", "VAN": "bus"})[:3].tolist() == [
        CLASS_IDS["car"], CLASS_IDS["bus"], CLASS_IDS["truck"]]


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


# ---------------------------------------------------------------- `vigil check` reads the model's labels

@pytest.mark.parametrize("name", ["yolov8n_int8.onnx", "yolov8n_int8.tflite", "yolo11n_int8.tflite",
                                  "yolov8n_dequant.pt"])
def test_labels_are_read_from_the_weights_metadata(name):
    labels = model_labels(need(SHARED / "models" / name))
    assert labels is not None and len(labels) == 80
    assert (labels[0], labels[2], labels[7], labels[79]) == ("person", "car", "truck", "toothbrush")


def test_labels_of_openvino_and_tensorrt_exports(tmp_path):
    ov = tmp_path / "forklift_openvino_model"
    ov.mkdir()
    (ov / "forklift.xml").write_text("<net/>")
    (ov / "metadata.yaml").write_text("task: detect\nnames:\n  0: forklift\n  1: pallet\n")
    assert model_labels(ov) == model_labels(ov / "forklift.xml") == {0: "forklift", 1: "pallet"}
    meta = json.dumps({"names": {"0": "forklift", "1": "pallet"}}).encode()
    (tmp_path / "m.engine").write_bytes(len(meta).to_bytes(4, "little") + meta + b"\0" * 64)
    assert model_labels(tmp_path / "m.engine") == {0: "forklift", 1: "pallet"}
    # TorchScript as ultralytics exports it: torch.jit.save with the metadata as an extra config.txt
    import torch

    scripted = torch.jit.script(torch.nn.Identity())
    torch.jit.save(scripted, str(tmp_path / "m.torchscript"), _extra_files={"config.txt": meta.decode()})
    assert model_labels(tmp_path / "m.torchscript") == {0: "forklift", 1: "pallet"}
    torch.jit.save(scripted, str(tmp_path / "bare.torchscript"))  # no metadata: checked when the model loads
    assert model_labels(tmp_path / "bare.torchscript") is None
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(VigilError, match="cannot read the class labels of detector weights .*bad.onnx"):
        model_labels(tmp_path / "bad.onnx")


def _check_site(tmp: Path, classes: str, line_classes: str) -> Path:
    (tmp / "p.yaml").write_text(f"detector:\n  weights: {YOLO_ONNX}\n  classes: {classes}\n")
    (tmp / "s.yaml").write_text(f"pipeline: p.yaml\ncameras:\n  - id: road\n    source: {VIDEO / 'saoyan_test.mp4'}\n"
                                f"    lines:\n      - {{name: l, classes: {line_classes}, {LINE[1:]}\n")
    return tmp / "s.yaml"


@pytest.mark.parametrize("classes, line_classes", [("{car: forklift, person: pedestrian}", "[forklift]"),
                                                   ("{CAR: ForkLift, Person: PEDESTRIAN}", "[Forklift]")])
def test_check_counts_a_mapping_against_the_models_labels(tmp_path, capsys, classes, line_classes):
    need(YOLO_ONNX), need(VIDEO / "saoyan_test.mp4")
    assert main(["check", str(_check_site(tmp_path, classes, line_classes))]) == 0
    assert "ok: detector labels: 80 in yolov8n_int8.onnx; counted as person->pedestrian, car->forklift" \
        in capsys.readouterr().out


def test_check_refuses_a_model_whose_labels_differ_only_by_case(tmp_path, capsys):
    need(VIDEO / "saoyan_test.mp4")
    ov = tmp_path / "twins_openvino_model"  # an OpenVINO export's labels, read from its metadata
    ov.mkdir()
    (ov / "metadata.yaml").write_text("task: detect\nnames:\n  0: Car\n  1: van\n  2: car\n")
    site = _check_site(tmp_path, "{car: car}", "[car]")
    (tmp_path / "p.yaml").write_text(f"detector:\n  weights: {ov}\n  classes: {{car: car}}\n")
    assert main(["check", str(site)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the detector's labels 'Car' (class 0) and 'car' (class 2) differ only by case, and "
                   "Vigil's class names ignore case; map the model's classes by index instead, e.g. "
                   "detector.classes: {0: <class>, 2: <other class>}"], err


@pytest.mark.parametrize("classes, line_classes, needle", [
    ("{crane: forklift}", "[forklift]", "detector.classes maps label 'crane', which the model does not have; "
                                        "its labels: person, bicycle, car"),
    ("{car: forklift}", "[forklifts]", "camera 'road' line 'l': unknown class 'forklifts'; the pipeline's "
                                       "detector reports forklift"),
    ("{car: forklift}", "[car]", "line 'l': classes has 'car', which the pipeline's detector does not keep "
                                 "(forklift)"),
])
def test_check_names_a_bad_class_in_one_line(tmp_path, capsys, classes, line_classes, needle):
    need(YOLO_ONNX), need(VIDEO / "saoyan_test.mp4")
    assert main(["check", str(_check_site(tmp_path, classes, line_classes))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


# ---------------------------------------------------------------- the real pipeline, end to end

# COCO models stand in for a custom model honestly: cars, buses and trucks are renamed to classes
# Vigil has never heard of, in the same relative order, so every vote ties the same way and the
# counts must equal the stock run's, class for class.
RENAMED = {"car": "forklift", "bus": "coach", "truck": "lorry"}
LINE = "{points: [[120, 200], [630, 200]], in_side: left}"


def _replay(tmp: Path, clip: Path, classes: str, only: str) -> str:
    groups = "  groups: {forklift: vehicle, coach: vehicle, lorry: vehicle}\n" if "{" in classes else ""
    (tmp / "p.yaml").write_text(f"detector:\n  weights: {YOLO_ONNX}\n  classes: {classes}\n  batch: 4\n{groups}"
                                "frame_stride: 2\ntracker: {per_class: false, new_track_threshold: 0.5, min_hits: 2}\n")
    (tmp / "s.yaml").write_text(f"pipeline: p.yaml\ncameras:\n  - id: road\n    source: {clip}\n    lines:\n"
                                f"      - {{name: away, {LINE[1:]}\n"
                                f"      - {{name: only, classes: [{only}], {LINE[1:]}\n"
                                f"      - {{name: vehicles, classes: [vehicle], {LINE[1:]}\n")
    db = f"sqlite:///{tmp / 'events.db'}"
    assert main(["replay", str(tmp / "s.yaml"), "--db", db, "--no-progress"]) == 0
    return db


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    need(YOLO_ONNX)
    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path_factory.mktemp("clip") / "cut.mp4", 96, 400)
    stock = _replay(tmp_path_factory.mktemp("stock"), clip, "[car, bus, truck]", "car")
    custom = _replay(tmp_path_factory.mktemp("custom"), clip, str(RENAMED).replace("'", ""), "forklift")
    return stock, custom


def _counts(db: str, *args: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["counts", "--db", db, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_custom_class_model_counts_under_its_own_names(replays, capsys):
    stock_db, custom_db = replays
    stock = {(r["line"], r["class"], r["direction"]): r["count"] for r in _counts(stock_db, capsys=capsys)}
    custom = {(r["line"], r["class"], r["direction"]): r["count"] for r in _counts(custom_db, capsys=capsys)}
    print("stock:", stock, "custom:", custom)
    # This stretch of the clip has cars and a truck crossing (4 at the time of writing).
    assert stock[("away", "car", "in")] >= 2 and stock[("away", "truck", "in")] >= 1
    renamed = {(line, RENAMED[c], d): n for (line, c, d), n in stock.items() if line == "away"}
    assert {k: n for k, n in custom.items() if k[0] == "away"} == renamed
    assert any(c == "forklift" for _, c, _ in custom)
    # The line filtered on the new class counts exactly the forklifts the unfiltered line counts.
    only = {k: n for k, n in custom.items() if k[0] == "only"}
    assert only == {("only", c, d): n for (line, c, d), n in custom.items() if line == "away" and c == "forklift"}
    # detector.groups put the new classes in vehicle: a vehicles line counts them all.
    assert {(c, d): n for (line, c, d), n in custom.items() if line == "vehicles"} == \
           {(c, d): n for (line, c, d), n in custom.items() if line == "away"}
    # --class takes the new name; events carry it too.
    rows = _counts(custom_db, "--class", "forklift", "--line", "away", capsys=capsys)
    assert rows and sum(r["count"] for r in rows) == sum(n for k, n in only.items())
    # Class names ignore case on the command line too.
    assert _counts(custom_db, "--class", "ForkLift", "--line", "away", capsys=capsys) == rows
    cars = _counts(stock_db, "--class", "car", capsys=capsys)
    assert cars and _counts(stock_db, "--class", "CAR", capsys=capsys) == cars
    assert main(["events", "--db", custom_db, "--class", "lorry", "--format", "json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert len(events) == sum(n for (_, c, _), n in custom.items() if c == "lorry")
    assert all(e["class"] == "lorry" for e in events)
    # The API answers the same rows as the CLI for the new class.
    from tests.api.apikit import local_client
    from vigil.api.app import create_app
    from vigil.store import Store

    store = Store(custom_db, create=False)
    try:
        client = local_client(create_app(store))
        api = client.get("/api/counts", params={"class": "forklift", "line": "away"})
        api_mixed = client.get("/api/counts", params={"class": "Forklift", "line": "away"})
    finally:
        store.close()
    assert api.status_code == 200 and api.json() == rows
    assert api_mixed.status_code == 200 and api_mixed.json() == rows
    # With --config, a class the pipeline reports is known even before any was counted, and a
    # group covers the classes detector.groups put in it.
    site = str(Path(custom_db.removeprefix("sqlite:///")).parent / "s.yaml")
    assert main(["counts", "--db", custom_db, "--config", site, "--class", "coach"]) == 0
    assert main(["counts", "--db", stock_db, "--class", "coach"]) == 2
    assert "unknown class 'coach'" in capsys.readouterr().err
    vehicles = _counts(custom_db, "--config", site, "--class", "vehicle", "--line", "away", capsys=capsys)
    assert vehicles == _counts(custom_db, "--line", "away", capsys=capsys)

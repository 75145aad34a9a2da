"""Engine choice (`detector.engine`), the export cache, and the OpenVINO engine on real weights."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.support.data import REPO, SHARED, VIDEO, YOLO_ONNX, need
from vigil.config.pipeline import DetectorConfig
from vigil.detect import engines
from vigil.detect.engines import choose_engine
from vigil.detect.export_cache import cache_dir
from vigil.detect.yolo import YoloDetector
from vigil.errors import ConfigError
from vigil.types import CLASS_IDS

CPU = torch.device("cpu")


def test_auto_picks_by_format_and_hardware(tmp_path, monkeypatch):
    pt, onnx, ir = tmp_path / "m.pt", tmp_path / "m.onnx", tmp_path / "m_openvino_model"
    ir.mkdir()
    assert choose_engine("auto", onnx, CPU) == "onnxruntime"
    assert choose_engine("auto", ir, CPU) == "openvino"
    assert choose_engine("auto", tmp_path / "m.engine", CPU) == "tensorrt"
    assert choose_engine("auto", tmp_path / "m.torchscript", CPU) == "torch"
    assert choose_engine("auto", pt, CPU) == "openvino"  # installed here
    assert choose_engine("auto", pt, torch.device("cuda:0")) in ("tensorrt", "torch")
    monkeypatch.setattr(engines, "installed", lambda e: e not in ("openvino", "tensorrt"))
    assert choose_engine("auto", pt, CPU) == "onnxruntime"
    assert choose_engine("auto", pt, torch.device("cuda:0")) == "torch"


def test_asked_for_engine_that_is_missing_or_cannot_run_the_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="'tensorrt' needs an NVIDIA GPU"):
        choose_engine("tensorrt", tmp_path / "m.pt", CPU)
    with pytest.raises(ConfigError, match="cannot run 'm.tflite'"):
        choose_engine("onnxruntime", tmp_path / "m.tflite", CPU)
    monkeypatch.setattr(engines, "installed", lambda e: e != "openvino")
    with pytest.raises(ConfigError, match="'openvino' is not installed .*'openvino' is missing"):
        choose_engine("openvino", tmp_path / "m.pt", CPU)


def test_cli_refuses_a_missing_engine_in_one_line(tmp_path, float_pt):
    """A site whose pipeline asks for TensorRT on this GPU-less machine: exit 2, one line."""
    if torch.cuda.is_available():
        pytest.skip("this machine has an NVIDIA GPU: TensorRT may be there")
    need(VIDEO / "saoyan_test.mp4")
    (tmp_path / "p.yaml").write_text(f"detector:\n  weights: {float_pt}\n  engine: tensorrt\n")
    (tmp_path / "site.yaml").write_text(
        "site: t\npipeline: p.yaml\ncameras:\n"
        f"  - id: a\n    source: {VIDEO / 'saoyan_test.mp4'}\n    lines:\n"
        "      - {name: l, points: [[0, 200], [639, 200]], in_side: left}\n")
    done = subprocess.run([sys.executable, "-m", "vigil", "replay", str(tmp_path / "site.yaml"), "--db",
                           f"sqlite:///{tmp_path / 'x.db'}", "--no-progress"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "YOLO_OFFLINE": "1"}, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: detector engine 'tensorrt' needs an NVIDIA GPU and none is available here; "
        "set detector.engine: auto"]


@pytest.fixture(scope="module")
def ov(float_pt):
    return YoloDetector(weights=float_pt, batch=4)


def test_pt_runs_on_openvino_with_right_sized_input(ov, float_pt):
    assert ov.engine == "openvino" and not ov.fixed
    assert "openvino" in ov.describe()
    frame = np.full((360, 640, 3), 90, np.uint8)
    x, _ = ov.planar.batch([frame], *__import__("vigil.detect.letterbox", fromlist=["x"]).input_shape(
        [frame.shape[:2]], ov.imgsz, ov.stride, ov.fixed))
    assert x.shape == (1, 3, 384, 640)  # a 16:9 camera costs 640x384, not 640x640
    bus = ov.detect([cv2.imread(str(need(SHARED / "images" / "bus.jpg")))])[0]
    assert CLASS_IDS["bus"] in bus.class_id.tolist() and (bus.class_id == CLASS_IDS["pedestrian"]).sum() >= 3


def test_export_is_cached_not_redone(ov, float_pt, capsys):
    entries = [p for p in cache_dir().iterdir() if not p.name.startswith(".")]
    ir = [p for p in entries if "openvino" in p.name]
    assert len(ir) == 1 and (ir[0] / "yolov8n_dequant_openvino_model").is_dir()
    before = {p: p.stat().st_mtime_ns for p in ir[0].rglob("*")}
    again = YoloDetector(weights=float_pt)
    assert again.engine == "openvino"
    assert "exporting" not in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in ir[0].rglob("*")} == before


def test_fixed_shape_onnx_keeps_the_square_path():
    det = YoloDetector(weights=need(YOLO_ONNX), engine="openvino")
    assert det.fixed and det.engine == "openvino"
    d = det.detect([cv2.imread(str(need(SHARED / "images" / "bus.jpg")))])[0]
    assert CLASS_IDS["bus"] in d.class_id.tolist()


def test_openvino_batch_of_four_equals_one_by_one(ov):
    """Real batching across cameras must not change a camera's detections beyond float noise."""
    import av

    frames = []
    for name, picks in (("saoyan_test.mp4", {30, 60, 90, 120}), ("intel_car-detection.mp4", {100}),
                        ("ozlu_input_video.mp4", {100})):
        with av.open(str(need(VIDEO / name))) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i in picks:
                    frames.append(f.to_ndarray(format="bgr24"))
                if i >= max(picks):
                    break
    batched = ov.detect(frames)  # six cameras, three frame sizes, in one round
    for im, b in zip(frames, batched):
        s = ov.detect([im])[0]
        assert len(s) == len(b)
        assert (s.class_id == b.class_id).all()
        assert np.allclose(s.xyxy, b.xyxy, atol=1.0)
        assert np.allclose(s.confidence, b.confidence, atol=0.02)
    assert all(len(b) > 0 for b in batched[:4])  # the road is busy: the comparison compared something


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_ENGINE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == Path(tmp_path / "c")


def test_vigil_status_names_the_engine(ov, tmp_path, capsys):
    """The running daemon's status file and `vigil status` say which engine detects."""
    import json
    import threading

    from vigil.cli import main
    from vigil.live.daemon import LiveDaemon
    from vigil.live.health import write_atomic
    from vigil.pipeline.round import AnalysisRound

    daemon = LiveDaemon([], AnalysisRound(ov), store=None, ready=threading.Event(), reader_stop=threading.Event())
    daemon.state = "running"
    snap = daemon.snapshot()
    assert snap["inference"]["engine"].startswith("openvino ")
    write_atomic(tmp_path / "status.json", {**snap, "status_interval": 1.0})  # as the status writer sets it
    assert main(["status", "--file", str(tmp_path / "status.json")]) == 0
    assert f"detector: {ov.describe()}" in capsys.readouterr().out
    assert json.loads((tmp_path / "status.json").read_text())["inference"]["engine"] == ov.describe()


def test_vigil_export_openvino_fills_the_cache_the_detector_reads(ov, float_pt, capsys):
    from vigil.cli import main

    assert main(["export", "openvino", str(float_pt)]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out.parent.parent == cache_dir() and (out / "metadata.yaml").is_file()
    assert main(["export", "openvino", str(float_pt), "--int8"]) == 2
    assert "needs --calibrate VIDEO" in capsys.readouterr().err


@pytest.mark.slow
def test_int8_calibrated_on_site_video_agrees_with_float(ov, float_pt, tmp_path, capsys):
    """NNCF int8 from frames of the site's own clip: a static-quantized model the detector runs,
    finding the float model's confident boxes."""
    from tests.detect.test_agreement import found
    from tests.support.data import cut_video
    from vigil.cli import main

    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "site.mp4", frames=60, start=200)
    assert main(["export", "openvino", str(float_pt), "--int8", "--calibrate", str(clip), "--frames", "30"]) == 0
    q = YoloDetector(weights=Path(capsys.readouterr().out.strip().splitlines()[-1]), batch=4)
    assert q.engine == "openvino" and q.describe().startswith("openvino int8+")
    import av

    with av.open(str(need(VIDEO / "saoyan_test.mp4"))) as c:  # other frames than the calibration's
        frames = [f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i % 40 == 0][:20]
    # The same model from a pipeline's `int8_calibrate`: quantised on first use, here taken from the cache.
    cfg = DetectorConfig(weights=str(float_pt), int8_calibrate=clip.name, int8_frames=30)
    assert YoloDetector.from_config(cfg, base_dir=clip.parent)._engine_weights() == q.weights
    assert "quantizing" not in capsys.readouterr().err
    shown = hit = 0
    for f, g in zip(ov.detect(frames), q.detect(frames)):
        n, k = found((f.xyxy, f.confidence, f.class_id), (g.xyxy, g.confidence, g.class_id))
        shown, hit = shown + n, hit + k
    assert shown >= 50 and hit >= 0.9 * shown, f"{hit}/{shown}"


def test_gpu_check_says_there_is_no_gpu_and_exits_0():
    if torch.cuda.is_available():
        pytest.skip("this machine has an NVIDIA GPU: scripts/gpu_check.py measures it instead")
    import json

    done = subprocess.run([sys.executable, "scripts/gpu_check.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "YOLO_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["gpu"] is None and "no NVIDIA GPU" in out["result"]


def test_static_batch_export_keeps_the_square_path_and_takes_short_batches(float_pt, capsys):
    from vigil.cli import main

    assert main(["export", "openvino", str(float_pt), "--static", "--batch", "2", "--imgsz", "320"]) == 0
    det = YoloDetector(weights=Path(capsys.readouterr().out.strip()), imgsz=320, batch=4)
    assert det.fixed and det.backend.max_batch == 2
    bus = cv2.imread(str(need(SHARED / "images" / "bus.jpg")))
    out = det.detect([bus, bus, bus])  # a batch of 2 and a padded one
    assert len(out) == 3 and all(CLASS_IDS["bus"] in d.class_id.tolist() for d in out)


def test_int8_calibrate_refuses_a_missing_video_and_a_non_openvino_detector(float_pt, tmp_path):
    with pytest.raises(ConfigError, match=r"int8_calibrate: video '.*nope.mp4' not found"):
        YoloDetector.from_config(DetectorConfig(weights=str(float_pt), int8_calibrate="nope.mp4"), base_dir=tmp_path)
    video = tmp_path / "site.mp4"
    video.write_bytes(b"")
    with pytest.raises(ConfigError, match="quantises .pt weights for OpenVINO, but this detector runs "
                                          "'yolov8n_int8.onnx' on onnxruntime"):
        YoloDetector(weights=need(YOLO_ONNX), int8_calibrate=video)

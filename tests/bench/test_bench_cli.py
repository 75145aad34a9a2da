"""`vigil bench pipeline` end to end on real video and weights, and its input errors."""

import json
from pathlib import Path

import pytest

from tests.support.data import VIDEO, YOLO_ONNX, need
from vigil.cli import main

SAOYAN = VIDEO / "saoyan_test.mp4"
LINE = "120,200,630,200"  # configs/demo.yaml's southbound line


def bench(capsys, *args):
    rc = main(["bench", "pipeline", "--video", str(need(SAOYAN)), "--weights", str(need(YOLO_ONNX)),
               "--line", LINE, "--format", "json", *args])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def check_side(side, frames):
    assert side["fps"] > 0
    assert side["rss_mib"]["peak"] >= side["rss_mib"]["start"] > 0
    assert {"in", "out", "by_class"} <= side["counts"].keys()
    assert side["camera_frames"] == frames


def test_short_run_reports_both_sides_on_every_frame(capsys):
    data = bench(capsys, "--seconds", "0.4")
    n = data["clip"]["frames"]
    assert 11 <= n <= 13
    check_side(data["peer"], n)
    check_side(data["vigil"], n)
    stages = data["vigil"]["stages_ms"]
    assert set(stages) == {"decode", "preprocess", "inference", "postprocess", "reid", "track", "count", "store"}
    assert stages["inference"] > stages["preprocess"] > 0 and stages["decode"] > 0 and stages["track"] > 0
    assert data["ratio"] == pytest.approx(data["vigil"]["fps"] / data["peer"]["fps"], rel=0.01)


def test_cameras_are_summed_and_skipping_is_reported_apart(capsys):
    data = bench(capsys, "--seconds", "0.3", "--cameras", "2", "--no-peer", "--stride", "3", "--repeat", "2")
    n = data["clip"]["frames"]
    assert data["vigil"]["cameras"] == 2 and data["vigil"]["camera_frames"] == 2 * n
    assert data["vigil"]["counts"]["cameras_agree"] is True
    assert data["ratio"] is None and "peer" not in data
    one = data["vigil_1_camera"]
    assert one["cameras"] == 1 and one["camera_frames"] == n
    assert data["per_camera_frame_gain"] == pytest.approx(data["vigil"]["fps"] / one["fps"], rel=0.01)
    assert len(data["vigil"]["fps_runs"]) == 2 and len(data["per_camera_frame_gain_runs"]) == 2
    assert min(data["vigil"]["fps_runs"]) <= data["vigil"]["fps"] <= max(data["vigil"]["fps_runs"])
    strided = data["vigil_strided"]
    assert strided["stride"] == 3 and strided["camera_frames"] == 2 * len(range(0, n, 3))


@pytest.mark.slow
def test_counts_agree_with_the_ultralytics_loop_on_ten_seconds(capsys):
    data = bench(capsys, "--seconds", "10")
    ultralytics, vigil = data["peer"]["counts"], data["vigil"]["counts"]
    total_ultralytics, total_vigil = ultralytics["in"] + ultralytics["out"], vigil["in"] + vigil["out"]
    assert total_ultralytics >= 5
    assert abs(total_vigil - total_ultralytics) <= max(2, 0.15 * total_ultralytics)
    assert data["vigil"]["events_stored"] == total_vigil  # every counted crossing is in the database


@pytest.mark.parametrize("args, message", [
    (["--line", "1,2,3"], "--line '1,2,3' is not four numbers"),
    (["--line", "5,5,5,5"], "two equal points"),
    (["--format", "xml"], "--format 'xml' is not known"),
])
def test_bad_options_are_one_line_errors(capsys, args, message):
    rc = main(["bench", "pipeline", "--video", str(need(SAOYAN)), "--weights", str(need(YOLO_ONNX)),
               "--seconds", "0.1", "--no-peer", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_missing_video_names_the_file(capsys, tmp_path):
    rc = main(["bench", "pipeline", "--video", str(tmp_path / "nope.mp4"), "--weights", str(need(YOLO_ONNX))])
    assert rc == 2 and "nope.mp4' does not exist" in capsys.readouterr().err


def test_export_refuses_an_already_exported_model(capsys):
    rc = main(["export", str(need(YOLO_ONNX)), "--format", "onnx"])
    assert rc == 2 and "already an exported model" in capsys.readouterr().err


def test_export_writes_a_model_the_detector_loads(capsys, tmp_path, monkeypatch):
    """A randomly initialised YOLOv8n built from ultralytics' own model YAML (no download)
    exported to TorchScript, then loaded and run by Vigil's detector."""
    import shutil

    import numpy as np
    import ultralytics

    from vigil.detect.yolo import YoloDetector

    src = Path(ultralytics.__file__).parent / "cfg" / "models" / "v8" / "yolov8.yaml"
    shutil.copy(src, tmp_path / "yolov8n.yaml")  # the "n" in the name picks the nano scale
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(tmp_path / "yolov8n.yaml"), "--format", "torchscript", "--imgsz", "64"]) == 0
    exported = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert exported.is_file() and exported.suffix == ".torchscript"
    det = YoloDetector(weights=exported, imgsz=64, device="cpu")
    out = det.detect([np.zeros((48, 64, 3), np.uint8)] * 2)
    assert len(out) == 2 and det.pool is None  # TorchScript takes the batched path, not the ONNX workers


@pytest.mark.slow
def test_live_capacity_sweep_runs_and_summarises(tmp_path):
    """bench/live_capacity.py end to end, briefly: real RTSP streams into the real daemon with the
    default pipeline's config but a detector that finds nothing (--decode-only), one JSON line per
    stream count and the summary."""
    import subprocess
    import sys

    from tests.support.rtsp_harness import gst_unavailable_reason

    if gst_unavailable_reason():
        pytest.skip(f"RTSP server unavailable: {gst_unavailable_reason()}")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(repo / "bench" / "live_capacity.py"), "capacity", "--streams", "2",
                          "--seconds", "3", "--warmup", "3", "--decode-only", "--hwaccel", "none"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    run, summary = rows
    assert run["streams"] == run["streaming"] == 2 and run["decoders"] == ["software"]
    assert 4.0 <= run["min_decoded_fps"] <= 6.0 and run["frame_stride"] == 1
    assert summary["bench"] == "capacity-summary"
    assert summary["max_sustained_streams"] == (2 if run["sustained"] else 0)

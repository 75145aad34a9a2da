"""`vigil bench outputs` runs end to end on a small backlog (real mosquitto, receiver process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.data import VIDEO, YOLO_ONNX, need
from vigil.cli import main


@pytest.mark.slow
def test_bench_outputs_backlog(capsys):
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto is not installed (scripts/system-deps.sh)")
    argv = ["bench", "outputs", "--video", str(need(VIDEO / "saoyan_test.mp4")), "--weights", str(need(YOLO_ONNX)),
            "--events", "300", "--rounds", "1", "--no-count", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == 300
    for kind in ("mqtt", "webhook", "webhook x50"):
        assert result["backlog_events_per_s"][kind]["median"] > 0


def test_bench_outputs_bad_input(capsys, tmp_path):
    assert main(["bench", "outputs", "--video", str(tmp_path / "none.mp4"), "--weights", "w.onnx"]) == 2
    assert "--video" in capsys.readouterr().err

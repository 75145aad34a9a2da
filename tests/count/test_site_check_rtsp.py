"""`vigil check` against a real RTSP server on loopback (GStreamer): a reachable camera is opened
and its first frame checked against the lines (a reference_size config drawn for the main stream
passes on the 640x360 stream); a refused port and a wrong password are one line each, password
masked."""

from __future__ import annotations

import pytest

from tests.support.data import YOLO_ONNX, need
from tests.support.rtsp_fixtures import demo_behind_password
from tests.support.rtsp_harness import free_port
from vigil.cli import main

pytestmark = pytest.mark.rtsp
PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def server():
    with demo_behind_password(PASSWORD) as srv:
        yield srv


def site(tmp_path, url: str) -> str:
    (tmp_path / "p.yaml").write_text(f"detector:\n  weights: {need(YOLO_ONNX)}\n")
    path = tmp_path / "site.yaml"
    path.write_text(f"pipeline: p.yaml\nlive: {{open_timeout: 5}}\ncameras:\n  - id: gate\n    source: {url}\n"
                    "    reference_size: [1280, 720]\n    lines:\n"
                    "      - {name: away, points: [[240, 400], [1260, 400]], in_direction: up}\n")
    return str(path)


def test_check_opens_the_stream_and_checks_the_lines(server, tmp_path, capsys):
    assert main(["check", site(tmp_path, server.url("cam", "viewer", PASSWORD))]) == 0
    out = capsys.readouterr().out
    assert "ok: camera 'gate': rtsp://viewer:***@127.0.0.1" in out and "opens at 640x360" in out
    assert PASSWORD not in out


@pytest.mark.parametrize("which", ["refused port", "wrong password"])
def test_check_names_an_unreachable_stream_in_one_line(server, tmp_path, capsys, which):
    url = (f"rtsp://127.0.0.1:{free_port()}/cam" if which == "refused port"
           else server.url("cam", "viewer", "wrong-pw"))
    assert main(["check", site(tmp_path, url)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: camera 'gate': source rtsp://") and "cannot be opened" in err[0]
    assert "wrong-pw" not in err[0] and "Traceback" not in err[0]

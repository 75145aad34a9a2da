"""`vigil check` against a real RTSP server on loopback (GStreamer): a reachable camera is opened
and its first frame checked against the lines (a reference_size config drawn for the main stream
passes on the 640x360 stream), and so is its thermal stream; a refused port and a wrong password
are one line each, password masked, for the RGB and the thermal stream alike."""

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


def site(tmp_path, url: str, thermal: str | None = None) -> str:
    (tmp_path / "p.yaml").write_text(f"detector:\n  weights: {need(YOLO_ONNX)}\n")
    path = tmp_path / "site.yaml"
    path.write_text(f"pipeline: p.yaml\nlive: {{open_timeout: 5}}\ncameras:\n  - id: gate\n    source: {url}\n"
                    + (f"    thermal: {{source: '{thermal}'}}\n" if thermal else "")
                    + "    reference_size: [1280, 720]\n    lines:\n"
                    "      - {name: away, points: [[240, 400], [1260, 400]], in_direction: up}\n")
    return str(path)


def test_check_opens_the_stream_and_checks_the_lines(server, tmp_path, capsys):
    # The thermal stream is the same mount, read by a second session as the daemon would.
    url = server.url("cam", "viewer", PASSWORD)
    assert main(["check", site(tmp_path, url, thermal=url)]) == 0
    out = capsys.readouterr().out
    assert "ok: camera 'gate': rtsp://viewer:***@127.0.0.1" in out and "opens at 640x360" in out
    assert "ok: camera 'gate': thermal rtsp://viewer:***@127.0.0.1" in out
    assert "opens at 640x360; no thermal.homography" in out
    assert PASSWORD not in out


@pytest.mark.parametrize("which", ["refused port", "wrong password"])
def test_check_names_an_unreachable_stream_in_one_line(server, tmp_path, capsys, which):
    url = (f"rtsp://127.0.0.1:{free_port()}/cam" if which == "refused port"
           else server.url("cam", "viewer", "wrong-pw"))
    assert main(["check", site(tmp_path, url)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: camera 'gate': source rtsp://") and "cannot be opened" in err[0]
    assert "wrong-pw" not in err[0] and "Traceback" not in err[0]


def test_check_names_an_unreachable_thermal_stream_in_its_own_line(server, tmp_path, capsys):
    # Both streams fail fast here (a good RGB stream takes seconds to open): one line each.
    refused = f"rtsp://127.0.0.1:{free_port()}/cam"
    assert main(["check", site(tmp_path, refused, thermal=server.url("cam", "viewer", "wrong-pw"))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith(f"error: camera 'gate': source {refused} cannot be opened"), err
    assert err[1].startswith("error: camera 'gate': thermal source rtsp://viewer:***@127.0.0.1:"), err
    assert "cannot be opened" in err[1] and "wrong-pw" not in err[1] and "Traceback" not in err[1]

"""`vigil preview` as a user runs it: real frames from a file and from a loopback RTSP stream."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.data import VIDEO, cut_video, need
from tests.support.rtsp_harness import RtspServer, gst_unavailable_reason, prepare_clip
from vigil.cli import main
from vigil.render.overlay import Overlay

LINE = "[{name: main, points: [[120, 200], [630, 200]], in_side: left}]"
ZONE = "[{name: lot, polygon: [[400, 250], [600, 250], [600, 340], [400, 340]]}]"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path_factory.mktemp("clip") / "cut.mp4", 5)


def site(tmp_path, cameras: dict[str, str], lines: str = LINE, zones: str = ZONE):
    cams = "\n".join(f"  - {{id: {cid}, source: '{src}', lines: {lines}, zones: {zones}}}"
                     for cid, src in cameras.items())
    path = tmp_path / "site.yaml"
    path.write_text(f"site: t\npipeline: p.yaml\ncameras:\n{cams}\n")
    (tmp_path / "p.yaml").write_text("detector: {weights: unused.onnx}\n")
    return path


def raw_first_frame(path) -> np.ndarray:
    import av
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="bgr24")


def test_preview_draws_lines_and_zones_on_the_first_frame(tmp_path, clip, capsys):
    out = tmp_path / "p.png"
    assert main(["preview", str(site(tmp_path, {"gate": clip})), "-o", str(out)]) == 0
    io = capsys.readouterr()
    assert "gate: 640x360 frame, 1 line(s), 1 zone(s)" in io.out and str(out) in io.out
    assert "warning" not in io.err
    img = cv2.imread(str(out))
    raw = raw_first_frame(clip)
    assert img.shape == raw.shape
    diff = np.abs(img.astype(int) - raw.astype(int)).sum(axis=2)
    assert diff[188:198, 250:450].min() > 20   # the in side (above the line) is shaded
    assert diff[260:330, 420:580].mean() > 10  # the zone is tinted
    assert diff[300:350, 50:150].max() < 30    # elsewhere: the frame itself (PNG is lossless; decoders agree)


def test_shapes_outside_the_frame_are_warned_about_one_line_each(tmp_path, clip, capsys):
    far = "[{name: far, points: [[1200, 700], [1800, 700]]}]"
    out = tmp_path / "p.png"
    assert main(["preview", str(site(tmp_path, {"gate": clip}, lines=far)), "-o", str(out)]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("warning:") and "'far'" in err[0] and "640x360" in err[0]
    assert out.is_file()


def test_several_cameras_give_one_png_each_and_a_bad_one_does_not_stop_the_others(tmp_path, clip, capsys):
    cfg = site(tmp_path, {"a": clip, "b": clip, "gone": tmp_path / "missing.mp4"})
    assert main(["preview", str(cfg), "-o", str(tmp_path / "shots") + "/"]) == 2
    io = capsys.readouterr()
    assert (tmp_path / "shots" / "a.png").is_file() and (tmp_path / "shots" / "b.png").is_file()
    assert not (tmp_path / "shots" / "gone.png").exists()
    errors = [ln for ln in io.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "missing.mp4" in errors[0] and "Traceback" not in io.err
    assert main(["preview", str(cfg), "--camera", "a", "-o", str(tmp_path / "one.png")]) == 0
    assert (tmp_path / "one.png").is_file()


@pytest.mark.parametrize("args, extra, says", [
    (["--camera", "nope"], "", "camera 'nope' is not in"),
    (["-o", "out.gif"], "", "give -o a .png or .jpg"),
    ([], "snapshots: {enabled: true, max_kb: 0}\n", "max_kb"),
    ([], "snapshots: {enable: true}\n", "enable"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, clip, capsys, args, extra, says):
    cfg = site(tmp_path, {"gate": clip})
    cfg.write_text(extra + cfg.read_text())
    assert main(["preview", str(cfg), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0]


def test_preview_of_an_rtsp_camera(tmp_path, capsys):
    reason = gst_unavailable_reason()
    if reason:
        pytest.skip(f"RTSP server unavailable: {reason}")
    served = prepare_clip(need(VIDEO / "saoyan_test.mp4"), fps=5, seconds=12)
    with RtspServer({"cam": served}).start() as srv:
        cfg = site(tmp_path, {"street": srv.url("cam")})
        out = tmp_path / "live.png"
        assert main(["preview", str(cfg), "-o", str(out), "--timeout", "20"]) == 0
    assert "street: 640x360 frame" in capsys.readouterr().out
    img = cv2.imread(str(out))
    assert img.shape == (360, 640, 3) and img[190, 250:450, 1].mean() > img[190, 250:450, 2].mean()


def test_preview_of_a_stream_that_never_answers_fails_within_the_readers_timeouts(tmp_path, capsys):
    """A server that accepts and then says nothing: the one attempt ends at the site's live
    read timeout (1 s here), not at the longer --timeout."""
    import socket
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"rtsp://u:pw@127.0.0.1:{silent.getsockname()[1]}/none"
        cfg = site(tmp_path, {"dead": url})
        cfg.write_text("live: {open_timeout: 1, read_timeout: 1}\n" + cfg.read_text())
        started = time.monotonic()
        assert main(["preview", str(cfg), "--timeout", "30", "-o", str(tmp_path / "x.png")]) == 2
        took = time.monotonic() - started
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: camera 'dead': {url.replace(':pw@', ':***@')}: "), err
    assert took < 5, took


def test_preview_of_a_refused_stream_gives_up_at_once_with_the_password_masked(tmp_path, capsys):
    """Preview is interactive: a camera that refuses is the answer. It used to back off and retry
    for the default 20 s (open + read timeouts), a `retrying in` line each time."""
    import time

    from tests.support.rtsp_harness import free_port

    port = free_port()  # nothing listens there
    cfg = site(tmp_path, {"gate": f"rtsp://admin:hunter2@127.0.0.1:{port}/stream1"})
    started = time.monotonic()
    assert main(["preview", str(cfg), "-o", str(tmp_path / "x.png")]) == 2
    took = time.monotonic() - started
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == [f"error: camera 'gate': rtsp://admin:***@127.0.0.1:{port}/stream1: connection refused; "
                   "is the camera up and the port right?"]
    assert took < 5, took
    assert not (tmp_path / "x.png").exists()


def test_annotate_into_a_file_is_one_line_and_exit_2_before_any_work(tmp_path, clip, capsys):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    assert main(["replay", str(site(tmp_path, {"gate": clip})), "--annotate", str(taken), "--no-progress",
                 "--db", f"sqlite:///{tmp_path / 'v.db'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --annotate {taken}: cannot make that folder"), err


def test_the_live_daemon_takes_snapshots_when_the_site_says_so(tmp_path, clip):
    """The daemon builds its camera pipelines from the same `snapshots:` section as replay."""
    from vigil.config.load import load_site
    from vigil.live.build import build_daemon
    from vigil.pipeline.round import AnalysisRound
    from vigil.store import Store

    cfg = site(tmp_path, {"gate": clip})
    base = cfg.read_text()
    for enabled in (True, False):
        cfg.write_text(f"snapshots: {{enabled: {str(enabled).lower()}, max_kb: 12}}\n" + base)
        with Store(f"sqlite:///{tmp_path / 'v.db'}") as store:
            daemon = build_daemon(load_site(cfg), store, AnalysisRound(detector=None), status_path=tmp_path / "s.json")
            pipe = daemon.cameras[0].pipeline
            assert (pipe.snapshots is not None) is enabled
            if pipe.snapshots is not None:
                assert pipe.snapshots.config.max_kb == 12


def test_reference_size_coordinates_are_drawn_in_the_frames_pixels(tmp_path, clip, capsys):
    """A line drawn for 1280x720 lands where the same line drawn for this 640x360 clip lands."""
    big = "[{name: main, points: [[240, 400], [1260, 400]], in_side: left}]"
    zone = "[{name: lot, polygon: [[800, 500], [1200, 500], [1200, 680], [800, 680]]}]"
    native, scaled = tmp_path / "native", tmp_path / "scaled"
    native.mkdir(), scaled.mkdir()
    cfg = site(scaled, {"gate": clip}, lines=big, zones=zone)
    cfg.write_text(cfg.read_text().replace("  - {id: gate,", "  - {id: gate, reference_size: [1280, 720],"))
    assert main(["preview", str(site(native, {"gate": clip})), "-o", str(native / "p.png")]) == 0
    assert main(["preview", str(cfg), "-o", str(scaled / "p.png")]) == 0
    assert "warning" not in capsys.readouterr().err
    a, b = cv2.imread(str(native / "p.png")), cv2.imread(str(scaled / "p.png"))
    below_panel = Overlay.panel_box(["x"] * 3)[3]  # the panels differ: each gives its config's own numbers
    diff = np.abs(a.astype(int) - b.astype(int)).sum(axis=2)[below_panel:]
    assert (diff > 60).mean() < 0.01, (diff > 60).mean()  # same picture but for anti-aliasing and labels
    # The panel gives the coordinates to type: as the config writes them, not in the frame's pixels.
    from vigil.config.load import load_site
    from vigil.config.scale import to_pixels

    cam = load_site(cfg).site.cameras[0]
    assert Overlay(to_pixels(cam, 640, 360), typed=cam).panel_lines(None) == [
        "main: A(240,400) B(1260,400) in_side left", "lot: zone of 4 points"]

"""`vigil run` on a camera whose RGB and thermal streams are two real loopback RTSP servers
(made from a shared VIFB still pair, panning so cars and people cross the view): the daemon
pairs the streams by time, warps the thermal frame into the RGB view and counts on fused
frames, as replay does with the same pair recorded."""

from __future__ import annotations

import threading

import cv2
import pytest

from tests.fusion.data import VIFB_INPUT, need
from tests.fusion.streams import pan_streams, write_video
from tests.support.data import YOLO_ONNX
from tests.support.rtsp_harness import wait_for
from vigil.config.load import load_site
from vigil.live.build import build_daemon
from vigil.pipeline.round import AnalysisRound

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

FPS = 2  # slow enough for this CPU to analyse every frame live
SCALE = 2.0  # RGB pixels per thermal pixel
WIDTH = 224  # thermal view width (of snow's 448)


class SpyDetector:
    """The real detector, remembering what each call was shown."""

    def __init__(self, real):
        self.real, self.images = real, []

    def detect(self, images):
        self.images.extend(images)
        return self.real.detect(images)


@pytest.fixture(scope="module")
def pair_streams(tmp_path_factory, gst):
    tmp = tmp_path_factory.mktemp("thermal-live")
    vis = cv2.imread(str(need(VIFB_INPUT / "VI" / "snow.jpg")))
    ir = cv2.imread(str(need(VIFB_INPUT / "IR" / "snow.jpg")), cv2.IMREAD_GRAYSCALE)
    rgb, thermal = pan_streams(vis, ir, width=WIDTH, step=8, rgb_scale=SCALE)
    return write_video(tmp / "rgb.mp4", rgb, FPS), write_video(tmp / "thermal.mp4", thermal, FPS), len(rgb), rgb[0]


def site_yaml(tmp_path, rgb_url: str, thermal_url: str, shape, mode: str) -> str:
    h, w = shape[:2]
    (tmp_path / "p.yaml").write_text(f"detector: {{weights: {need(YOLO_ONNX)}, imgsz: 640, batch: 4}}\n"
                                     "frame_stride: 1\ntracker: {max_lost_seconds: 15}\n")
    H = [[SCALE, 0, 0.5], [0, SCALE, 0.5], [0, 0, 1]]
    site = tmp_path / "site.yaml"
    site.write_text(
        f"site: thermal\npipeline: p.yaml\ndatabase: sqlite:///{tmp_path}/t.db\n"
        f"live: {{status_file: {tmp_path}/status.json, flush_interval: 0.5}}\n"
        "cameras:\n"
        f"  - id: street\n    source: '{rgb_url}'\n"
        f"    lines: [{{name: mid, points: [[{w // 2}, 0], [{w // 2}, {h - 1}]], in_side: left, anchor: center}}]\n"
        # and a zone over the whole view: every confirmed track is counted entering it, so the test
        # does not hang on whether a line crossing falls between the frames the daemon took
        f"    zones: [{{name: view, polygon: [[0, 0], [{w - 1}, 0], [{w - 1}, {h - 1}], [0, {h - 1}]]}}]\n"
        # one frame period: the two servers start their streams apart by any phase, and a tolerance
        # under half a period plus arrival jitter left many RGB frames unpaired (a CI run timed out)
        f"    thermal: {{source: '{thermal_url}', mode: {mode}, homography: {H}, max_time_delta: {1 / FPS}}}\n")
    return str(site)


def test_live_rgb_and_thermal_rtsp_streams_are_fused_and_counted(tmp_path, rtsp, pair_streams):
    from vigil.pipeline.stages import build_stages
    from vigil.store import Store

    rgb_file, thermal_file, n, first = pair_streams
    rgb_srv, thermal_srv = rtsp({"rgb": rgb_file}), rtsp({"ir": thermal_file})
    cfg = load_site(site_yaml(tmp_path, rgb_srv.url("rgb"), thermal_srv.url("ir"), first.shape, "fused"))
    detector, _ = build_stages(cfg)
    spy = SpyDetector(detector)
    store = Store(cfg.site.database)
    daemon = build_daemon(cfg, store, AnalysisRound(spy))
    cam = daemon.cameras[0]
    emitted: list = []
    daemon.on_events = emitted.extend
    stop = threading.Event()
    t = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    t.start()
    try:
        # the streams last n / FPS seconds; wait until both have ended (the readers back off)
        assert wait_for(lambda: cam.proc.processed >= n // 2, n / FPS + 60), daemon.snapshot()
        wait_for(lambda: cam.feed.stats.reconnects >= 1, n / FPS + 30)
    finally:
        stop.set()
        t.join(60)
    whole = cam.health(0.0)
    assert whole["detector_input"] == "fused"  # the dashboard's row
    health = whole["thermal"]
    assert health["mode"] == health["input"] == "fused" and health["matched"] >= n // 2, health
    from vigil.cli.live import thermal_line  # what `vigil status` prints for it

    assert thermal_line(whole).startswith(f"street thermal: mode fused; {health['matched']} paired")
    assert health["shown_fused"] == cam.proc.processed and health["shown_rgb"] == 0, health
    # the detector was shown fused frames, not the plain RGB ones
    assert spy.images and all(img.shape == first.shape for img in spy.images)
    assert not any((img == first).all() for img in spy.images)
    # people and cars seen on fused frames are counted (zone entries; line crossings when the
    # daemon's frames straddle one)
    assert sum(1 for e in emitted if e.kind == "zone" and e.direction == "in") >= 1, emitted
    rows = store.events(limit=None)
    assert len(rows) == len(emitted)
    assert {r["status"] for r in store.runs()} == {"stopped"}


def test_live_thermal_config_errors_are_one_line(tmp_path, capsys):
    from vigil.cli import main

    (tmp_path / "p.yaml").write_text("detector: {weights: nowhere.onnx}\n")
    site = tmp_path / "site.yaml"
    site.write_text("pipeline: p.yaml\ncameras:\n  - {id: a, source: 'rtsp://127.0.0.1:1/x', "
                    "thermal: {source: thermal.mp4, mode: fused}}\n")
    assert main(["run", str(site)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "both be streams or both be recordings" in err[0], err

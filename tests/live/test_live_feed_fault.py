"""A live camera whose frames cannot be composed stops alone: the daemon's other cameras go on."""

from __future__ import annotations

import threading

import cv2
import pytest

from tests.fusion.data import VIFB_INPUT
from tests.fusion.streams import write_video
from tests.support.data import VIDEO, cut_video, need
from vigil.config import load_site
from vigil.live.build import build_daemon
from vigil.pipeline.round import AnalysisRound
from vigil.store import Store
from vigil.types import Detections

pytestmark = pytest.mark.rtsp


class NoDetections:
    """The detector is not what this is about: the fault is in composing a camera's frame."""

    def detect(self, images):
        return [Detections.empty() for _ in images]


def test_a_thermal_stream_that_cannot_be_registered_stops_its_camera_alone(tmp_path, rtsp, clip5):
    # the "thermal" stream shows another scene altogether: automatic registration refuses every pair
    kettle = cv2.imread(str(need(VIFB_INPUT / "IR" / "kettle.jpg")))
    srv = rtsp({"rgb": clip5, "ir": write_video(tmp_path / "ir.mp4", [kettle] * 60, 5)})
    cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "cut.mp4", 24)
    (tmp_path / "p.yaml").write_text("detector:\n  weights: unused.onnx\n")
    (tmp_path / "site.yaml").write_text(
        "site: s\npipeline: p.yaml\n"
        f"database: sqlite:///{tmp_path / 'l.db'}\n"
        "cameras:\n"
        "  - id: plain\n    source: cut.mp4\n    start_time: '2026-11-01T08:00:00Z'\n"
        f"  - id: paired\n    source: '{srv.url('rgb')}'\n"
        f"    thermal: {{source: '{srv.url('ir')}', mode: fused, max_time_delta: 0.3}}\n")
    cfg = load_site(tmp_path / "site.yaml")
    store = Store(cfg.site.database)
    daemon = build_daemon(cfg, store, AnalysisRound(NoDetections()), status_path=tmp_path / "s.json")
    stop, failed = threading.Event(), []

    def run():
        try:
            daemon.run(stop)  # returns once the file camera ended and the stream camera stopped
        except BaseException as exc:  # before: the camera's SourceError stopped the whole daemon
            failed.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    stop.set()
    t.join(30)
    assert not failed, failed
    cams = {c.camera_id: c for c in daemon.cameras}
    assert cams["plain"].proc.processed == 24
    assert cams["paired"].closed and cams["paired"].proc.errors == 1 and cams["paired"].proc.processed == 0
    health = cams["paired"].health(0.0)  # what `vigil status` and the dashboard show
    assert health["state"] == "failed" and "thermal.homography" in health["last_error"]
    assert set(daemon.failures) == {"paired"}  # `vigil run` exits 2 naming it
    runs = {r["camera_id"]: r for r in store.runs()}
    assert runs["plain"]["status"] == "done"
    assert runs["paired"]["status"] == "error" and "could not register" in runs["paired"]["error"], runs

"""Replay and the live daemon are two drivers of one AnalysisRound: the same recording through
`Replay` and through the daemon's file feed gives the same events, frame for frame (the daemon
feeds a file camera every frame, so live keeps up), with the real detector and re-ID."""

from __future__ import annotations

import threading

import pytest

from tests.e2e.test_replay import AWAY, site
from tests.support.data import MODELS, VIDEO, cut_video, need
from vigil.config import load_site
from vigil.live.build import build_daemon
from vigil.pipeline.replay import Replay
from vigil.pipeline.round import AnalysisRound
from vigil.pipeline.stages import build_stages, plan_jobs
from vigil.store import Store
from vigil.timing import StageClock

pytestmark = pytest.mark.slow


def test_replay_and_daemon_file_feed_give_identical_events(tmp_path):
    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "cut.mp4", 120)
    path = site(tmp_path, clip, AWAY)
    pipe = tmp_path / "pipelines" / "p.yaml"  # selective re-ID on: both drivers embed the same crops
    pipe.write_text(pipe.read_text() + f"reid:\n  weights: {need(MODELS / 'osnet_x0_25_msmt17.pth')}\n")
    cfg = load_site(path)
    detector, embedder = build_stages(cfg)

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    clock = StageClock()
    results = Replay(cfg, store, detector, embedder, clock=clock).run(plan_jobs(cfg, [], None))
    assert results[0].status == "done"
    assert {"detect", "reid", "track", "count"} <= set(clock.seconds)  # the round timed every stage

    live_store = Store(f"sqlite:///{tmp_path / 'l.db'}")
    daemon = build_daemon(cfg, live_store, AnalysisRound(detector, embedder), status_path=tmp_path / "s.json")
    emitted: list = []
    daemon.on_events = emitted.extend
    daemon.run(threading.Event())  # returns when the file camera has finished
    assert daemon.cameras[0].proc.processed == results[0].frames > 0

    def rows(s):
        return [(r["kind"], r["name"], r["class_name"], r["direction"], r["track_id"], r["time"])
                for r in s.events(limit=None)]

    assert len(rows(store)) >= 1  # cars cross the line in these 4 s
    assert rows(live_store) == rows(store), (rows(live_store), rows(store))
    assert len(emitted) == len(rows(live_store))

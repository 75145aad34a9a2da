"""`vigil run` in a thread of the test process: the daemon object stays inspectable, and the
counters' own tally of what they emitted is kept beside what the store holds."""

from __future__ import annotations

import threading
from pathlib import Path

from vigil.config.load import load_site
from vigil.live.build import build_daemon
from vigil.pipeline.round import AnalysisRound


class InProcess:
    def __init__(self, site: Path, stages, join_timeout: float = 120.0):
        from vigil.store import Store

        self.cfg = load_site(site)
        self.store = Store(self.cfg.site.database)
        detector, embedder = stages
        self.daemon = build_daemon(self.cfg, self.store, AnalysisRound(detector, embedder))
        self.emitted: list = []
        self.daemon.on_events = self.emitted.extend
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.daemon.run, args=(self.stop,), daemon=True)
        self.join_timeout = join_timeout

    def cam(self, cid):
        return next(c for c in self.daemon.cameras if c.camera_id == cid)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(self.join_timeout)
        assert not self.thread.is_alive(), "daemon did not stop"

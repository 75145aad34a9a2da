"""`vigil runs` lists every run with its source masked, and `vigil counts` says when counts
include events of runs that ended early (interrupted, failed, error), without touching the
JSON/CSV on stdout."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.store.storekit import T0, random_events
from vigil.cli import main
from vigil.store import Store


def test_runs_lists_runs_with_masked_sources_and_counts_flag_partial_runs(store_url, capsys):
    s = Store(store_url)
    done = s.begin_run("gate-1", "rtsp://admin:hunter2@cam/stream", None, kind="live")
    s.write(done, random_events(50, T0, timedelta(hours=1), seed=1))
    s.finish_run(done, "stopped", 10)
    cut = s.begin_run("gate-2", "b.mp4", "h2")
    s.write(cut, [e.__class__(**{**vars(e), "camera_id": "gate-2"}) for e in random_events(7, T0, timedelta(hours=1))])
    s.finish_run(cut, "interrupted", 3, "replay interrupted")
    s.close()

    assert main(["runs", "--db", store_url, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["camera"], r["status"]) for r in rows] == [("gate-1", "stopped"), ("gate-2", "interrupted")]
    assert "hunter2" not in json.dumps(rows) and rows[0]["source"] == "rtsp://admin:***@cam/stream"

    assert main(["counts", "--db", store_url, "--format", "json"]) == 0
    out = capsys.readouterr()
    assert sum(r["count"] for r in json.loads(out.out)) == 57  # stdout is still pure JSON
    assert f"run {cut} (gate-2, interrupted, 7 events)" in out.err and "partial" in out.err
    assert main(["counts", "--db", store_url, "--camera", "gate-1"]) == 0
    assert "partial" not in capsys.readouterr().err  # only runs of the cameras asked about

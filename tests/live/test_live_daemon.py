"""The live daemon end to end against real RTSP streams from the loopback GStreamer server:
real PyAV decoding, real YOLO weights, real tracker and counter, real SQLite store.

These are slow on a 2-core CPU (every frame goes through the detector), so the clips that must
produce counts are served slowed down (see clip_slow) and the tests are marked slow."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.live.conftest import CLIP_SLOW_TRACKER, write_site
from tests.live.daemonkit import InProcess
from tests.support.rtsp_harness import wait_for

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def db_events(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT e.run_id, e.track_id, e.t_us, s.kind, s.name, s.class_name, s.direction "
                                "FROM events e JOIN series s ON s.id = e.series_id ORDER BY e.id").fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []


def test_two_cameras_one_dies_the_other_runs_on_and_it_comes_back(tmp_path, rtsp, clip_slow, stages):
    srv_a = rtsp({"cam": clip_slow})
    srv_b = rtsp({"cam": clip_slow})
    site = write_site(tmp_path, {"a": srv_a.url("cam"), "b": srv_b.url("cam")},
                      live="backoff: {initial: 0.5, maximum: 2}, flush_interval: 0.5", tracker=CLIP_SLOW_TRACKER)
    with InProcess(site, stages) as run:
        a, b = run.cam("a"), run.cam("b")
        assert wait_for(lambda: a.proc.processed >= 3 and b.proc.processed >= 3, 60), run.daemon.snapshot()
        # Let the first crossing (content ~0.6 s in, a few seconds here) be counted, then kill a.
        wait_for(lambda: a.proc.events >= 1, 40)
        before_kill = a.proc.events
        srv_a.kill()
        assert wait_for(lambda: a.feed.stats.state == "backoff", 15), a.health(time.monotonic())
        b_at_kill = b.proc.processed
        time.sleep(4)
        assert a.feed.stats.reconnects >= 1 and a.feed.stats.state in ("backoff", "connecting")
        assert b.proc.processed >= b_at_kill + 2, "camera b must keep producing while a is down"
        assert b.feed.stats.state == "streaming"
        # events a counted before it died are already in the database (flush interval 0.5 s)
        time.sleep(1)
        runs = {r["camera_id"]: r["id"] for r in run.store.runs()}
        assert sum(1 for e in db_events(tmp_path / "v.db") if e[0] == runs["a"]) >= before_kill
        processed_down = a.proc.processed
        srv_a.start()
        assert wait_for(lambda: a.feed.stats.state == "streaming" and a.proc.processed >= processed_down + 2, 30), \
            a.health(time.monotonic())
    events = db_events(tmp_path / "v.db")
    assert len(events) == len(run.emitted) == sum(c.proc.events for c in run.daemon.cameras)
    assert {r["status"] for r in run.store.runs()} == {"stopped"}
    print(f"\nevents a={a.proc.events} b={b.proc.events}; a reconnects={a.feed.stats.reconnects}; "
          f"dropped a={a.feed.slot.dropped} b={b.feed.slot.dropped}")


def run_cli(site: Path, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "vigil", "run", str(site), "--log-format", "json"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_until_counted(site: Path, tmp_path: Path, events: int) -> subprocess.Popen:
    """`vigil run` as a subprocess, returned once its status file shows `events` counted."""
    proc = run_cli(site, tmp_path)
    if not wait_for(lambda: cam_events(tmp_path) >= events or proc.poll() is not None, 120):
        proc.kill()
        pytest.fail(f"no {events} events within 120 s: {status(tmp_path)}")
    if proc.poll() is not None:
        pytest.fail(f"vigil run exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
    return proc


def status(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def cam_events(tmp_path: Path) -> int:
    return sum(c["events"] for c in status(tmp_path).get("cameras", []))


def test_sigterm_during_streaming_flushes_every_pending_event(tmp_path, rtsp, clip_slow):
    srv = rtsp({"cam": clip_slow})
    # A 30 s flush interval: nothing reaches the database before SIGTERM unless shutdown flushes it.
    # hwaccel cuda: on a machine without an NVIDIA decoder the camera runs in software, reported.
    site = write_site(tmp_path, {"a": srv.url("cam")}, live="flush_interval: 30, hwaccel: cuda",
                      tracker=CLIP_SLOW_TRACKER)
    proc = run_until_counted(site, tmp_path, 2)
    try:
        assert len(db_events(tmp_path / "v.db")) == 0  # all pending in the writer
        shown = subprocess.run([sys.executable, "-m", "vigil", "status", "--file", str(tmp_path / "status.json")],
                               capture_output=True, text=True, timeout=60, cwd=REPO)
        cam = status(tmp_path)["cameras"][0]
        if cam["decoder"] != "cuda":  # no usable NVIDIA decoder here
            assert cam["decoder"] == "software" and cam["decode_fallbacks"] == 1, cam
            assert "hardware decode fell back to software 1x" in shown.stdout, shown.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    final = status(tmp_path)
    assert final["state"] == "stopped"
    written = db_events(tmp_path / "v.db")
    assert len(written) == cam_events(tmp_path) >= 2
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(rec.get("event") == "stopped" for rec in logs) and "Traceback" not in err
    assert sum(rec.get("event") == "hwaccel_fallback" for rec in logs) == (final["cameras"][0]["decoder"] != "cuda")
    with sqlite3.connect(tmp_path / "v.db") as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("stopped",)]


def test_crash_loses_at_most_one_flush_interval(tmp_path, rtsp, clip_slow):
    srv = rtsp({"cam": clip_slow})
    site = write_site(tmp_path, {"a": srv.url("cam")}, live="flush_interval: 1, status_interval: 0.2",
                      tracker=CLIP_SLOW_TRACKER)
    proc = run_until_counted(site, tmp_path, 2)
    try:
        counted = cam_events(tmp_path)
        time.sleep(1.5)  # one flush interval (+ margin) after they were counted
        proc.kill()  # SIGKILL: no shutdown code runs
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(db_events(tmp_path / "v.db")) >= counted


def test_live_counts_match_replay_of_the_served_clip(tmp_path, rtsp, clip_slow, stages, capsys):
    """Every frame of the served clip analysed live (it is served slowly enough) must give the
    same crossings as `vigil replay` of that file; dropped frames, if any, are reported."""
    from vigil.cli import main

    srv = rtsp({"cam": clip_slow})
    site = write_site(tmp_path, {"a": srv.url("cam")}, live="backoff: {initial: 120}", tracker=CLIP_SLOW_TRACKER)
    n_frames = 60
    with InProcess(site, stages) as run:
        a = run.cam("a")
        # the stream ends after its last frame; the reader then waits in backoff (120 s)
        assert wait_for(lambda: a.feed.stats.state == "backoff" and len(a.feed.slot) == 0 and a.feed.stats.frames >= 1,
                        150), a.health(time.monotonic())
        # the last frame's inference: every decoded frame analysed (or dropped, or failed)
        assert wait_for(lambda: a.proc.processed + a.proc.errors + a.feed.slot.dropped >= a.feed.stats.frames, 30), \
            a.health(time.monotonic())
    live = Counter((e.name, e.class_name, e.direction) for e in run.emitted if e.kind == "line")
    decoded, dropped = a.feed.stats.frames, a.feed.slot.dropped + a.feed.stats.skipped

    db = tmp_path / "replay.db"
    assert main(["replay", str(site), f"a={clip_slow}", "--db", f"sqlite:///{db}", "--no-progress"]) == 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.name, s.class_name, s.direction, count(*) FROM events e "
                            "JOIN series s ON s.id = e.series_id WHERE s.kind = 'line' GROUP BY 1, 2, 3").fetchall()
    replay = Counter({(n, c, d): k for n, c, d, k in rows})
    report = {"frames_served": n_frames, "decoded": decoded, "dropped": dropped,
              "live": sum(live.values()), "replay": sum(replay.values())}
    print("\nlive vs replay:", json.dumps(report))
    (tmp_path / "parity.json").write_text(json.dumps(report))
    assert decoded == n_frames, "every served frame must arrive"
    assert sum(replay.values()) >= 2, "the clip has crossings"
    if dropped == 0:
        assert live == replay
    else:  # a loaded machine fell behind: the difference is bounded by what was dropped
        assert abs(sum(live.values()) - sum(replay.values())) <= dropped

"""Replays under faults, as users run them (`python -m vigil replay` processes), on SQLite and a
real PostgreSQL: the same file replayed twice at once, a replay killed with SIGKILL at a random
moment and run again, a PostgreSQL restart in the middle of a replay. Each ends with the counts
of one clean run and no run left `running`."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_replay import AWAY, site
from tests.support.data import VIDEO, cut_video, need
from tests.support.rtsp_harness import wait_for
from tests.support.tmpfs import mount_or_skip

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def vigil(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vigil", *args], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def counts(db: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "vigil", "counts", "--db", db, "--format", "json"], cwd=REPO,
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {(r["camera"], r.get("line") or r.get("zone"), r["class"], r["direction"]): r["count"]
            for r in json.loads(done.stdout)}


def stored_events(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.Error:  # not created yet, or locked for a moment
        return 0


def runs(db: str) -> list[dict]:
    from vigil.store import Store

    with Store(db) as s:
        return s.runs()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 3 s clip, its site config, the counts of one clean replay (SQLite) and how long that
    replay took, start to exit, on this machine now."""
    tmp = tmp_path_factory.mktemp("faults")
    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp / "cut.mp4", 120)
    cfg = site(tmp, clip, AWAY)
    db = f"sqlite:///{tmp / 'clean.db'}"
    t0 = time.monotonic()
    code, err = finish(vigil("replay", str(cfg), "--db", db, "--no-progress"))
    seconds = time.monotonic() - t0
    assert code == 0, err
    clean = counts(db)
    assert sum(clean.values()) >= 1, clean
    return cfg, clean, seconds


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'v.db'}"
    return request.getfixturevalue("pg_server").create_database()


def test_the_same_file_replayed_twice_at_once_counts_once(setup, db_url):
    cfg, clean, _ = setup
    procs = [vigil("replay", str(cfg), "--db", db_url, "--no-progress") for _ in range(2)]
    results = [finish(p) for p in procs]
    assert all(code in (0, 2) for code, _ in results), results
    assert counts(db_url) == clean
    statuses = sorted(r["status"] for r in runs(db_url))
    assert "running" not in statuses and statuses.count("done") == 1, statuses


def test_a_replay_killed_at_a_random_moment_and_run_again_counts_once(setup, db_url):
    cfg, clean, seconds = setup
    rng = random.Random(f"kill-{db_url[:8]}")
    for _ in range(2):
        proc = vigil("replay", str(cfg), "--db", db_url, "--no-progress")
        # Imports, model loading, the first frames or mid-run: a moment within the clean replay's
        # time (a fixed 4-14 s came after the replay had ended on an idle 2-core machine, ~9 s).
        time.sleep(rng.uniform(0.1, 0.6) * seconds)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, "the replay ended before it was killed"
    code, err = finish(vigil("replay", str(cfg), "--db", db_url, "--no-progress"))
    assert code == 0, err
    assert counts(db_url) == clean
    statuses = [r["status"] for r in runs(db_url)]
    assert statuses[-1] == "done" and "running" not in statuses, statuses


def test_a_replay_rides_out_a_postgres_restart(setup, restartable_pg):
    cfg, clean, _ = setup
    db = restartable_pg.url()
    proc = vigil("replay", str(cfg), "--db", db, "--progress")
    # Once the detector is loaded (its line on stderr: frames flow next), restart PostgreSQL
    # in the middle of the frames. A fixed 12 s came after the ~9 s replay had ended.
    head: list[str] = []
    while not (head and head[-1].startswith("detector:")):
        head.append(proc.stderr.readline())
        assert head[-1], "".join(head)  # it ended before loading the detector
    restartable_pg.restart_later(4.0, after_s=1.0).join()  # down for 4 s
    code, err = finish(proc)
    err = "".join(head) + err
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    assert counts(db) == clean
    assert [r["status"] for r in runs(db)] == ["done"]


def test_lines_drawn_for_another_resolution_are_warned_about(tmp_path):
    """Lines drawn for 640x360 on a 320x180 recording used to give a `done` replay with 0 counts
    and no word; now the replay says which line lies outside the picture."""
    import av
    import numpy as np

    from tests.fusion.streams import write_video

    frames = []
    with av.open(str(need(VIDEO / "saoyan_test.mp4"))) as inp:
        for i, f in enumerate(inp.decode(video=0)):
            if i >= 10:
                break
            frames.append(np.ascontiguousarray(f.to_ndarray(format="bgr24")[::2, ::2]))  # 320x180
    small = write_video(tmp_path / "small.mp4", frames, 15)
    near = "- name: near\n  points: [[10, 100], [300, 100]]\n  in_side: left\n"  # inside 320x180
    far = "- name: far\n  points: [[400, 250], [630, 250]]\n  in_side: left\n"  # drawn for 640x360
    cfg = site(tmp_path, small, near + far)
    code, err = finish(vigil("replay", str(cfg), "--db", f"sqlite:///{tmp_path / 'w.db'}", "--no-progress"))
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "'far'" in warnings[0] and "320x180" in warnings[0], err


def test_a_replay_waits_out_a_full_disk_and_counts_once(tmp_path):
    """SQLite on a small tmpfs that fills up while the replay writes; space comes back ten
    seconds later. The replay waits (the writer keeps the events and retries), ends `done`, and
    counts what a clean replay of the same 10 s clip counts."""
    with mount_or_skip(tmp_path / "disk", "3m") as disk:
        clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "cut10.mp4", 300)
        cfg = site(tmp_path, clip, AWAY)
        clean_db = f"sqlite:///{tmp_path / 'clean.db'}"
        code, err = finish(vigil("replay", str(cfg), "--db", clean_db, "--no-progress"))
        assert code == 0, err
        clean = counts(clean_db)
        db = f"sqlite:///{disk.path / 'v.db'}"
        log = tmp_path / "replay.err"
        with open(log, "w") as err_file:
            proc = subprocess.Popen([sys.executable, "-m", "vigil", "replay", str(cfg), "--db", db, "--no-progress"],
                                    cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=err_file, text=True)
        # Fill the disk once the replay is writing events, and give space back once a write has
        # failed (polled, not slept: on a loaded machine the first events come late).
        assert wait_for(lambda: stored_events(disk.path / "v.db") > 0, 240), log.read_text()[-2000:]
        disk.fill()
        assert wait_for(lambda: "database write failed, retrying" in log.read_text(), 120), log.read_text()[-2000:]
        time.sleep(2)
        disk.free()  # space comes back
        proc.wait(600)
        code, err = proc.returncode, log.read_text()
        assert code == 0, err[-2000:]
        assert "Traceback" not in err
        assert "database write failed, retrying" in err and "database writes resumed" in err, err[-2000:]
        assert counts(db) == clean
        assert [r["status"] for r in runs(db)] == ["done"]

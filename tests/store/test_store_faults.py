"""Faults without double counts (issue 19): a PostgreSQL restart or a full disk under a busy
writer, runs left `running` by a killed process, and events saved to a spill file when the
database is gone at close. Real servers, real processes, real full file systems. Concurrent
replays and migrations: test_store_concurrency.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.storekit import T0
from tests.support.rtsp_harness import wait_for
from vigil.store import Store, StoreError, spill
from vigil.store.schema import runs
from vigil.store.writer import SeriesIds, write_events
from vigil.types import CountEvent


def numbered(n: int, start: int = 0, camera: str = "gate-1") -> list[CountEvent]:
    """Events whose track ids are unique, so duplicates are visible."""
    return [CountEvent(camera, "line", "L1", start + i, "car", "in" if i % 2 else "out",
                       T0 + timedelta(milliseconds=start + i)) for i in range(n)]


def stored_tracks(store: Store) -> Counter:
    return Counter(e["track_id"] for e in store.events(limit=None))


def status(store: Store, run_id: int) -> str:
    return next(r["status"] for r in store.runs() if r["id"] == run_id)


# -- 1 and 6. a PostgreSQL restart under a busy writer -----------------------------------------
@pytest.mark.postgres
@pytest.mark.slow
def test_a_writer_rides_out_postgres_restarts_storing_each_event_once(restartable_pg, tmp_path):
    """Events are put without pause while the server is stopped (immediate mode: clients are
    cut off mid-transaction) and started again, three times. Nothing is lost or doubled,
    put() never raises, and begin/finish_run ride out the outage too."""
    url = restartable_pg.create_database()
    store = Store(url, spill_dir=tmp_path / "spill")
    run = store.begin_run("gate-1", "rtsp://cam", None, kind="live")
    w = store.writer(flush_interval=0.05)
    put, stop, errors = 0, threading.Event(), []

    def produce():
        nonlocal put
        try:
            while not stop.is_set():
                w.put(run, numbered(5, put))
                put += 5
                time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - the test fails on any
            errors.append(exc)

    producer = threading.Thread(target=produce)
    producer.start()
    health = []
    for _ in range(3):
        time.sleep(0.5)
        restartable_pg.halt()
        time.sleep(1.0)
        health.append((w.healthy, w.pending))
        restartable_pg.resume()
    time.sleep(0.5)
    stop.set()
    producer.join()
    # finish_run while the server is down: retried until it is back
    w.flush(timeout=60)
    assert w.failures >= 3 and w.healthy and w.pending == 0
    restarter = restartable_pg.restart_later(down_s=2.0)
    time.sleep(0.3)
    store.finish_run(run, "done", frames=put)
    restarter.join()
    w.close()
    assert errors == []
    assert all(not ok and pending > 0 for ok, pending in health), health  # the outages were seen
    tracks = stored_tracks(store)
    assert sum(tracks.values()) == put and max(tracks.values()) == 1 and len(tracks) == put
    assert sum(r["count"] for r in store.counts()) == put
    assert status(store, run) == "done"
    store.close()


@pytest.mark.postgres
def test_close_with_the_database_gone_spills_and_the_next_open_stores_once(restartable_pg, tmp_path):
    url = restartable_pg.create_database()
    spill = tmp_path / "spill"
    store = Store(url, spill_dir=spill)
    run = store.begin_run("gate-1", "a.mp4", "h")
    w = store.writer(flush_interval=0.05)
    w.put(run, numbered(100))
    w.flush()
    restartable_pg.halt()
    try:
        w.put(run, numbered(50, 100))
        with pytest.raises(StoreError, match=r"50 events were not stored .*saved to .*next opened"):
            w.close(timeout=1.0)
        assert len(list(spill.glob("*.jsonl"))) == 1
    finally:
        restartable_pg.resume()
    for _ in range(2):  # the second open finds nothing left to do
        with Store(url, spill_dir=spill) as again:
            assert sum(stored_tracks(again).values()) == 150 and max(stored_tracks(again).values()) == 1
    assert not list(spill.glob("*.jsonl"))


@pytest.mark.postgres
def test_a_long_outage_moves_waiting_events_to_disk_and_stores_them_in_order_once(restartable_pg, tmp_path):
    """Writes fail for longer than spill_after: what waits (the batch being retried included)
    leaves memory for spill files, and the writer stores them itself when the server is back,
    before anything put since, each event once."""
    url = restartable_pg.create_database()
    spill = tmp_path / "spill"
    store = Store(url, spill_dir=spill)
    run = store.begin_run("gate-1", "rtsp://cam", None, kind="live")
    w = store.writer(flush_interval=0.05, spill_after=0.4)
    w.put(run, numbered(50))
    w.flush()
    restartable_pg.halt()
    try:
        for k in range(30):  # 3 s of events while the server is down
            w.put(run, numbered(10, 50 + 10 * k))
            time.sleep(0.1)
        assert w.spilled >= 200 and len(list(spill.glob("*.jsonl"))) >= 2, (w.spilled, list(spill.iterdir()))
        assert w.pending == 300  # still owed to the database: flush would wait for them
    finally:
        restartable_pg.resume()
    w.put(run, numbered(20, 350))  # put after the outage: stored after the spilled ones
    w.flush(timeout=60)
    assert not list(spill.glob("*.jsonl*"))
    tracks = stored_tracks(store)
    assert len(tracks) == 370 and max(tracks.values()) == 1
    ids = sorted((e["id"], e["track_id"]) for e in store.events(limit=None))
    assert [t for _, t in ids] == list(range(370))  # committed in the order they were put
    w.close()
    store.close()


SPILL_THEN_DIE = """
import os, signal, sys, time
from pathlib import Path
from tests.store.test_store_faults import numbered
from vigil.store import Store
s = Store(sys.argv[1], spill_dir=Path(sys.argv[2]))
r = s.begin_run("gate-1", "rtsp://cam", None, kind="live")
w = s.writer(flush_interval=0.05, spill_after=0.3)
w.put(r, numbered(40)); w.flush()
print("ready", flush=True)
sys.stdin.readline()  # the server is down now
w.put(r, numbered(60, 40))
while w.spilled < 60:
    time.sleep(0.05)
os.kill(os.getpid(), signal.SIGKILL)  # a crash in the middle of the outage
"""


@pytest.mark.postgres
def test_events_spilled_during_an_outage_survive_a_crash(restartable_pg, tmp_path):
    """Killed during a long outage: the events it had moved to disk are stored by the next open."""
    url = restartable_pg.create_database()
    spill = tmp_path / "spill"
    p = subprocess.Popen([sys.executable, "-c", SPILL_THEN_DIE, url, str(spill)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
        restartable_pg.halt()
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.wait(60) == -9, p.stderr.read() if p.stderr else ""
    finally:
        if p.poll() is None:
            p.kill()
        restartable_pg.resume()
    with Store(url, spill_dir=spill) as again:
        tracks = stored_tracks(again)
        assert len(tracks) == 100 and max(tracks.values()) == 1
    assert not list(spill.glob("*.jsonl"))


class Outage:
    """The writer's database calls fail as a lost connection does while `down` is set: edge cases
    of the spill path, which the PostgreSQL tests above exercise with a real outage."""

    def __init__(self, monkeypatch) -> None:
        import vigil.store.writer as writer_mod

        self.down, real = threading.Event(), writer_mod.write_events

        def flaky(*a, **kw):
            if self.down.is_set():
                raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
            return real(*a, **kw)

        monkeypatch.setattr(writer_mod, "write_events", flaky)

    def spill(self, tmp_path, events: list[CountEvent], max_backoff: float = 0.05):
        """A SQLite store, a run and its writer, whose `events` this outage (left on) moved to a spill file."""
        store = Store(f"sqlite:///{tmp_path / 'v.db'}", spill_dir=tmp_path / "spill")
        run = store.begin_run("gate-1", "a.mp4", None)
        w = store.writer(flush_interval=0.05, spill_after=0.2, max_backoff=max_backoff)
        self.down.set()
        w.put(run, events)
        assert wait_for(lambda: w.spilled == len(events), 10)
        return store, run, w


def test_a_refused_event_in_a_spilled_batch_costs_only_itself(tmp_path, monkeypatch):
    outage = Outage(monkeypatch)
    bad = CountEvent("gate-1", "line", "L1", 2**70, "car", "in", T0)  # no 64-bit integer holds the track id
    store, _, w = outage.spill(tmp_path, numbered(9) + [bad])
    outage.down.clear()
    w.flush(timeout=10)
    assert len(store.events(limit=None)) == 9 and w.rejected == 1
    kept = list((tmp_path / "spill").iterdir())  # only the refused event, under its batch's token
    assert [p.name.endswith(".refused.jsonl.failed") for p in kept] == [True]
    assert [e.track_id for _, _, b in spill.load(kept[0]) for _, e in b] == [2**70]
    w.close()
    store.close()


def test_an_idle_writer_waits_quietly_through_an_outage(tmp_path, monkeypatch):
    import vigil.store.writer as writer_mod

    outage, loops = Outage(monkeypatch), [0]
    should_spill = writer_mod.EventWriter._should_spill

    def counting(self, now):
        loops[0] += 1
        return should_spill(self, now)

    monkeypatch.setattr(writer_mod.EventWriter, "_should_spill", counting)
    store, _, w = outage.spill(tmp_path, numbered(10), max_backoff=2.0)
    time.sleep(0.5)
    before = loops[0]
    time.sleep(2.0)
    spins = loops[0] - before
    outage.down.clear()
    w.flush(timeout=10)
    w.close()
    store.close()
    assert spins < 50, spins  # woken by its backoff and heartbeat, not in a loop (it was ~1800)


def test_a_spill_file_another_process_stored_first_is_stored_once(tmp_path, monkeypatch):
    """Every Store open imports spill files, this live writer's included: the writer finds its file
    gone, counts it settled, and nothing is stored twice."""
    outage = Outage(monkeypatch)
    url, spill = f"sqlite:///{tmp_path / 'v.db'}", tmp_path / "spill"
    store, run, w = outage.spill(tmp_path, numbered(30), max_backoff=0.3)
    other = "import sys; from pathlib import Path; from vigil.store import Store; " \
            "Store(sys.argv[1], spill_dir=Path(sys.argv[2])).close()"
    opened = subprocess.run([sys.executable, "-c", other, url, str(spill)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert opened.returncode == 0, opened.stderr
    assert not list(spill.iterdir())  # that open stored the file
    w.put(run, numbered(5, 30))
    outage.down.clear()
    w.flush(timeout=10)
    tracks = stored_tracks(store)
    assert len(tracks) == 35 and max(tracks.values()) == 1 and w.pending == 0 and w.rejected == 0
    w.close()
    store.close()


def test_a_batch_retried_after_an_ambiguous_commit_is_stored_once(store):
    """The connection may drop after the server committed: the retry must not store it again."""
    run = store.begin_run("gate-1", "a.mp4", None)
    batch = [(run, e) for e in numbered(10)]
    ids = SeriesIds()
    assert write_events(store.engine, ids, batch, token=("w-1", 1)).stored == 10
    assert write_events(store.engine, ids, batch, token=("w-1", 1)).duplicate
    assert write_events(store.engine, ids, batch[:3], token=("w-1", 2)).stored == 3
    assert len(store.events(limit=None)) == 13


# -- 1. a full disk ---------------------------------------------------------------------------
def test_a_full_disk_holds_the_events_until_space_is_freed(small_disk):
    disk = small_disk
    store = Store(f"sqlite:///{disk.path / 'vigil.db'}")
    disk.limit(store.engine)
    run = store.begin_run("gate-1", "a.mp4", None)
    w = store.writer(flush_interval=0.02)
    w.put(run, numbered(200))
    w.flush()
    disk.fill(store.engine)
    n = 200
    deadline = time.monotonic() + 20
    while w.healthy and time.monotonic() < deadline:
        w.put(run, numbered(200, n))
        n += 200
        time.sleep(0.02)
    assert not w.healthy and w.pending > 0, "the disk never filled up"
    assert "full" in w.last_error or "I/O" in w.last_error, w.last_error
    w.put(run, numbered(200, n))  # put still accepts while the disk is full
    n += 200
    disk.free()
    w.flush(timeout=30)
    assert w.healthy and w.pending == 0
    w.close()
    tracks = stored_tracks(store)
    assert len(tracks) == n and max(tracks.values()) == 1
    assert sum(r["count"] for r in store.counts()) == n
    store.close()


def test_flush_times_out_with_the_cause(small_disk, tmp_path):
    disk = small_disk
    store = Store(f"sqlite:///{disk.path / 'vigil.db'}", spill_dir=tmp_path / "spill")
    disk.limit(store.engine)
    run = store.begin_run("gate-1", "a.mp4", None)
    w = store.writer(flush_interval=0.02)
    disk.fill(store.engine)
    w.put(run, numbered(3000))
    # the first attempt must have failed before the timeout can name its cause (slow under load)
    deadline = time.monotonic() + 60
    while w.last_error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(StoreError, match=r"3000 events not yet stored .* after 0.5 s: .*(full|I/O)"):
        w.flush(timeout=0.5)
    disk.free()
    w.close()
    assert len(store.events(limit=None)) == 3000
    store.close()


# -- 6. runs left running by a killed process ---------------------------------------------------
KILLED = "import os, signal, sys; from vigil.store import Store; from tests.store.test_store_faults import numbered; " \
         "s = Store(sys.argv[1]); r = s.begin_run('gate-1', 'rtsp://cam', None, kind='live'); " \
         "s.write(r, numbered(7)); print(r, flush=True); os.kill(os.getpid(), signal.SIGKILL)"


def age_heartbeat(store: Store, run_id: int, seconds: float) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run_id)
                     .values(heartbeat_us=runs.c.heartbeat_us - int(seconds * 1e6)))


def test_a_run_of_a_killed_process_is_marked_interrupted_and_listed(store_url):
    p = subprocess.run([sys.executable, "-c", KILLED, store_url], capture_output=True, text=True, timeout=60,
                       check=False)
    assert p.returncode == -9, p.stderr
    dead = int(p.stdout.strip())
    with Store(store_url) as s:
        assert status(s, dead) == "running"  # still fresh: it may be alive
        age_heartbeat(s, dead, 61)
    with Store(store_url, stale_after=60) as s:  # opening reconciles
        assert status(s, dead) == "interrupted"
        (r,) = s.incomplete_runs()
        assert (r["id"], r["camera"], r["events"], r["status"]) == (dead, "gate-1", 7, "interrupted")
        assert r["first_event"] == T0 and "partial" in r["error"]
        assert s.incomplete_runs(camera="gate-1", since=T0, until=T0 + timedelta(seconds=1))
        assert not s.incomplete_runs(camera="gate-2")
        assert not s.incomplete_runs(since=T0 + timedelta(hours=1))
        assert not s.incomplete_runs(until=T0.isoformat())
        s.finish_run(dead, "done", 10)  # a run that turns out alive can still finish normally
        assert not s.incomplete_runs()


def test_a_writer_keeps_an_idle_run_alive(store_url):
    s = Store(store_url)
    run = s.begin_run("gate-1", "rtsp://quiet", None, kind="live")
    age_heartbeat(s, run, 600)
    w = s.writer(flush_interval=1.0, heartbeat=0.05)  # no events at all: beats keep it alive
    time.sleep(0.5)
    with Store(store_url, stale_after=30) as other:
        other.begin_run("gate-2", "b.mp4", None)  # begin_run reconciles too
        assert status(other, run) == "running"
    w.close()
    s.finish_run(run, "stopped", 0)
    s.close()


def test_stale_after_has_a_floor(tmp_path):
    with pytest.raises(ValueError, match="at least 30"):
        Store(f"sqlite:///{tmp_path / 'v.db'}", stale_after=5)


def test_opening_does_not_wait_for_a_busy_writer(tmp_path):
    """Reconciling on open only writes when it finds dead runs: a CLI or API opening the database
    while a writer holds SQLite's write lock is not held up (nor fails on a read-only file)."""
    url = f"sqlite:///{tmp_path / 'v.db'}"
    Store(url).close()
    holder = sqlite3.connect(tmp_path / "v.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        with Store(url, create=False) as s:
            assert s.counts() == []
        assert time.monotonic() - t0 < 5
    finally:
        holder.rollback()
        holder.close()


def test_a_spill_file_with_refused_events_does_not_block_opening(tmp_path):
    from vigil.store import spill

    url, folder = f"sqlite:///{tmp_path / 'v.db'}", tmp_path / "spill"
    with Store(url, spill_dir=None) as s:
        run = s.begin_run("gate-1", "a.mp4", None)
    bad = CountEvent("gate-1", "line", "L1", 2**70, "car", "in", T0)  # track id beyond BIGINT
    spill.save(folder, "w-1", [("w-1", 1, [(run, e) for e in numbered(5)]), ("w-1", 2, [(run, bad)]),
                               ("w-1", 3, [(run, e) for e in numbered(4, 100)])])
    with Store(url, spill_dir=folder) as s:
        assert len(s.events(limit=None)) == 9
    assert [p.name for p in folder.iterdir()] == ["w-1.2.refused.jsonl.failed"]
    assert spill.load(folder / "w-1.2.refused.jsonl.failed") == [("w-1", 2, [(run, bad)])]


def test_refused_spilled_events_survive_a_transient_error_later_in_their_file(tmp_path, monkeypatch):
    """Batch 1 is stored but for a refused event, then batch 2 meets an outage and the file is
    kept; the retry skips batch 1 (already stored). The refused event used to be deleted with the
    file then; it is saved the moment it is refused."""
    import vigil.store.writer as writer_mod
    from vigil.store import spill

    url, folder = f"sqlite:///{tmp_path / 'v.db'}", tmp_path / "spill"
    with Store(url, spill_dir=None) as s:
        run = s.begin_run("gate-1", "a.mp4", None)
    bad = CountEvent("gate-1", "line", "L1", 2**70, "car", "in", T0)
    path = spill.save(folder, "w-1", [("w-1", 1, [(run, e) for e in numbered(3)] + [(run, bad)]),
                                      ("w-1", 2, [(run, e) for e in numbered(2, 100)])])
    real, calls = writer_mod.store_spilled, []

    def outage_at_batch_2(engine, ids, token, batch, outbox=False, keep=None):
        calls.append(token)
        if token == ("w-1", 2) and len(calls) == 2:
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return real(engine, ids, token, batch, outbox, keep)

    monkeypatch.setattr(writer_mod, "store_spilled", outage_at_batch_2)
    with Store(url, spill_dir=None) as s:
        try:
            writer_mod.store_spill_file(s.engine, s._series, path, s.outbox, n_events=6)
            raise AssertionError("the outage should have left the file")
        except sa.exc.OperationalError:
            pass
        assert path.exists()
        again = writer_mod.store_spill_file(s.engine, s._series, path, s.outbox, n_events=6)
        # Batch 1 is skipped as stored; its refused event is still counted refused, not written.
        assert (again.refused, again.written.stored, len(s.events(limit=None))) == (1, 5, 5)
    assert sorted(p.name for p in folder.iterdir()) == ["w-1.1.refused.jsonl.failed"]
    assert spill.load(folder / "w-1.1.refused.jsonl.failed") == [("w-1", 1, [(run, bad)])]


def test_a_disk_too_full_to_keep_refused_events_stores_nothing_of_their_batch(tmp_path, monkeypatch):
    """Refused events are saved before the rest of their batch is stored: when that save fails
    (a full disk) the open goes on, the batch stays unclaimed in its file, and the next open
    finds and keeps the refused event. Saving after the store lost it: the retry skipped the
    batch as stored."""
    from vigil.store import spill as spill_mod

    url, folder = f"sqlite:///{tmp_path / 'v.db'}", tmp_path / "spill"
    with Store(url, spill_dir=None) as s:
        run = s.begin_run("gate-1", "a.mp4", None)
    bad = CountEvent("gate-1", "line", "L1", 2**70, "car", "in", T0)
    spill.save(folder, "w-1", [("w-1", 1, [(run, e) for e in numbered(4)] + [(run, bad)])])
    real_save = spill_mod.save

    def full_disk(folder_, stem, batches, suffix=".jsonl", outbox=None):
        if suffix != ".jsonl":
            raise OSError(28, "No space left on device")
        return real_save(folder_, stem, batches, suffix, outbox)

    monkeypatch.setattr(spill_mod, "save", full_disk)
    with Store(url, spill_dir=folder, retry_window=0.5) as s:  # a full disk is waited out that long
        assert s.events(limit=None) == []
    assert [p.name for p in folder.iterdir()] == ["w-1.jsonl"]
    monkeypatch.setattr(spill_mod, "save", real_save)
    with Store(url, spill_dir=folder) as s:
        assert len(s.events(limit=None)) == 4
    assert spill.load(folder / "w-1.1.refused.jsonl.failed") == [("w-1", 1, [(run, bad)])]
    assert [p.name for p in folder.iterdir()] == ["w-1.1.refused.jsonl.failed"]


def test_an_unreadable_or_vanished_spill_file_does_not_block_opening(tmp_path, monkeypatch, caplog):
    """A torn or foreign file is kept as `*.jsonl.failed` with one error naming it, and a file
    another process stored between listing and reading is skipped; the other files are stored."""
    import vigil.store.store as store_mod
    from vigil.store import spill

    url, folder = f"sqlite:///{tmp_path / 'v.db'}", tmp_path / "spill"
    with Store(url, spill_dir=None) as s:
        run = s.begin_run("gate-1", "a.mp4", None)
    spill.save(folder, "w-1", [("w-1", 1, [(run, e) for e in numbered(3)])])
    (folder / "w-2.jsonl").write_text('{"writer": "w-2", "seq": 1, "events": [[')  # torn
    listed = spill.pending_files
    monkeypatch.setattr(store_mod.spill, "pending_files", lambda d: [folder / "w-0.jsonl", *listed(d)])
    with Store(url, spill_dir=folder) as s:
        assert len(s.events(limit=None)) == 3
    assert sorted(p.name for p in folder.iterdir()) == ["w-2.jsonl.failed"]
    assert any("cannot read spill file" in r.message and "w-2.jsonl" in r.message for r in caplog.records)


def test_a_spilled_batch_refused_whole_is_kept_and_does_not_stall_the_writer(tmp_path, monkeypatch):
    """A batch the database refuses even without its bad events is counted rejected and its
    file kept; the writer goes on to what was put since (it used to retry it for ever)."""
    import vigil.store.writer as writer_mod

    outage = Outage(monkeypatch)
    real = writer_mod.store_spilled

    def refusing(engine, ids, token, batch, outbox=False, keep=None):
        if any(e.track_id == 3 for _, e in batch):
            raise sa.exc.IntegrityError("INSERT", {}, Exception("CHECK constraint failed"))
        return real(engine, ids, token, batch, outbox, keep)

    monkeypatch.setattr(writer_mod, "store_spilled", refusing)
    store, run, w = outage.spill(tmp_path, numbered(10))
    w.put(run, numbered(5, 100))
    outage.down.clear()
    w.flush(timeout=10)
    assert len(store.events(limit=None)) == 5 and w.rejected == 10 and w.pending == 0
    kept = list((tmp_path / "spill").iterdir())
    assert [p.name.endswith(".refused.jsonl.failed") for p in kept] == [True]
    assert sorted(e.track_id for _, _, b in spill.load(kept[0]) for _, e in b) == list(range(10))
    w.close()
    store.close()


def test_spilled_events_get_outbox_rows_as_their_writer_would_whoever_imports_them(tmp_path, monkeypatch, capsys):
    """A daemon with outputs stops with the database away; `vigil counts` (a Store without outbox)
    opens it first and imports the file: the events still get outbox rows (they got none, so the
    outputs never delivered them). A file of a writer without outputs gets none, even when a
    Store with outbox imports it; a file from before the flag follows the importer, as before."""
    from vigil.cli import main
    from vigil.store.schema import outbox

    def queued(store: Store) -> list[int]:
        with store.engine.connect() as conn:
            return sorted(conn.execute(sa.select(outbox.c.event_id)).scalars())

    outage = Outage(monkeypatch)
    url = f"sqlite:///{tmp_path / 'v.db'}"
    folder = tmp_path / "v.db.spill"  # the default, so `vigil counts` finds it
    daemon = Store(url, outbox=True)
    run = daemon.begin_run("gate-1", "rtsp://x", None, kind="live")
    w = daemon.writer(flush_interval=0.05, max_backoff=0.05)
    outage.down.set()
    w.put(run, numbered(4))
    with pytest.raises(StoreError, match="4 events were not stored"):
        w.close(timeout=0.3)
    daemon.close()
    outage.down.clear()
    assert main(["counts", "--db", url]) == 0
    capsys.readouterr()
    with Store(url) as s:
        assert not list(folder.glob("*.jsonl")) and len(s.events(limit=None)) == 4
        assert queued(s) == sorted(e["id"] for e in s.events(limit=None))

        quiet = Store(url)  # a site without outputs: its spill file asks for no outbox rows
        w = quiet.writer(flush_interval=0.05, max_backoff=0.05)
        outage.down.set()
        w.put(run, numbered(3, 10))
        with pytest.raises(StoreError):
            w.close(timeout=0.3)
        quiet.close()
        spill.save(folder, "zz-old", [("zz-old", 1, [(run, e) for e in numbered(2, 20)])])  # no flag: before it
        outage.down.clear()
    with Store(url, outbox=True) as s:
        assert len(s.events(limit=None)) == 9 and not list(folder.iterdir())
        assert len(queued(s)) == 4 + 2  # none for the quiet writer's 3; the old file follows this importer

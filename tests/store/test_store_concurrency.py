"""Concurrency without double counts (issue 19): the same file replayed twice at once (two
Stores, two writers, real threads) and processes racing to migrate a fresh database."""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.storekit import T0, as_counter, random_events, reference_counts
from tests.store.test_store_faults import status
from vigil.store import Store
from vigil.types import CountEvent


# -- 2. the same file replayed twice at once ----------------------------------------------------
def test_a_replaced_run_stores_nothing_more_and_stays_replaced(store_url):
    """Regression: the first replay, replaced by the second, kept writing, and finish_run set
    it back to `done`: its late events counted twice (300 frames: 31 instead of 20)."""
    evs = random_events(200, T0, timedelta(hours=1), seed=5, cameras=("gate-1",))
    first_store, second_store = Store(store_url), Store(store_url)
    first = first_store.begin_run("gate-1", "clip.mp4", "h")
    w1 = first_store.writer(flush_interval=30)
    w1.put(first, evs[:80])
    w1.flush()
    second = second_store.begin_run("gate-1", "clip.mp4", "h")  # replaces the first, still running
    w1.put(first, evs[80:])  # the first replay goes on counting
    w1.flush()
    first_store.finish_run(first, "done", frames=300)
    w2 = second_store.writer(flush_interval=30)
    w2.put(second, evs)
    w2.close()
    second_store.finish_run(second, "done", frames=300)
    w1.close()
    assert as_counter(second_store.counts()) == reference_counts(evs)
    assert (status(second_store, first), status(second_store, second)) == ("replaced", "done")
    assert w1.dropped == 120 and w1.rejected == 0
    first_store.close()
    second_store.close()


def test_two_replays_of_one_file_at_once_count_once(store_url):
    """Two threads, each with its own Store and writer, replay the same content at the same time
    (several rounds): the counts always equal one clean run, one run is done, the rest replaced."""
    evs = random_events(300, T0, timedelta(hours=2), seed=6, cameras=("gate-1",))
    stores = [Store(store_url) for _ in range(2)]

    def replay(store: Store, barrier: threading.Barrier) -> None:
        barrier.wait()
        run = store.begin_run("gate-1", "clip.mp4", "same")
        with store.writer(flush_interval=0.01) as w:
            for i in range(0, len(evs), 20):
                w.put(run, evs[i:i + 20])
                time.sleep(0.002)
        store.finish_run(run, "done", frames=300)

    for _ in range(3):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=replay, args=(s, barrier)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert as_counter(stores[0].counts()) == reference_counts(evs)
        assert len(stores[0].events(limit=None)) == len(evs)
        statuses = Counter(r["status"] for r in stores[0].runs())
        assert statuses["done"] == 1 and statuses["running"] == 0
    for s in stores:
        s.close()


# -- 5. processes racing to migrate a fresh database --------------------------------------------
def _open(url: str, barrier, results) -> None:
    barrier.wait()
    try:
        Store(url).close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def open_at_once(url: str, n: int = 4) -> list[str]:
    """n processes open `url` at one instant. They come from a fork server that has imported
    vigil.store already (no interpreter start-up to stagger them), not from a fork of this
    process: pytest holds dozens of threads by now, and a fork while one of them holds a lock
    hung a CI run until its time ran out."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["vigil.store", "sqlalchemy", "psycopg"])
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open, args=(url, barrier, results), daemon=True) for _ in range(n)]
    try:
        for p in procs:
            p.start()
        return [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_processes_opening_a_fresh_database_at_once_migrate_once(backend, tmp_path, request):
    """Regression: two processes opening a fresh database raced on the migration
    (`alembic_version already exists`): SQLite 3 of 5 tries, PostgreSQL 1 of 5."""
    for i in range(5):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'fresh{i}.db'}"
        else:
            url = request.getfixturevalue("pg_server").create_database()
        assert open_at_once(url) == ["ok"] * 4
        assert not list(tmp_path.glob("*-migrate.lock"))
        with Store(url) as s, s.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_the_migration_lock_file_is_removed_without_letting_two_holders_in(tmp_path):
    """The lock file is removed by its holder. One that waited on it meanwhile must not go
    in on the removed file while a newcomer holds the new one: it starts over instead."""
    from vigil.store.engine import exclusive_file

    path = tmp_path / "v.db-migrate.lock"
    inside, most, guard = [0], [0], threading.Lock()

    def hold(seconds: float) -> None:
        with exclusive_file(path):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(seconds)
            with guard:
                inside[0] -= 1

    first = threading.Thread(target=hold, args=(0.4,))
    first.start()
    time.sleep(0.1)
    waiter = threading.Thread(target=hold, args=(0.3,))  # opens the file, waits on its lock
    waiter.start()
    first.join()  # removed the file and let the waiter go
    newcomer = threading.Thread(target=hold, args=(0.3,))  # creates a new file at once
    newcomer.start()
    waiter.join()
    newcomer.join()
    assert most[0] == 1 and not path.exists()


# -- 3. outbox rows of one camera commit in id order (PostgreSQL) -------------------------------
def _deliver(store: Store, cursor: dict[str, int]) -> list[int]:
    """One pass of what the outputs do: read on from the last outbox id delivered, move the cursor."""
    from vigil.store import outbox

    got = []
    for cam in outbox.cameras(store.engine):
        rows = outbox.pending(store.engine, cam, cursor.get(cam, 0), 1000)
        got += [r.event["id"] for r in rows if r.event]
        if rows:
            cursor[cam] = rows[-1].id
    return got


@pytest.mark.postgres
def test_outbox_rows_of_a_camera_are_never_passed_by_the_delivery_cursor(pg_url):
    """Two writers of one camera (an old lease owner's backlog, a spill import, a backfill):
    the first has inserted its outbox row but not committed, the second commits, the outputs
    read, then the first commits. Its row had the lower id, below the cursor for good: never
    delivered. Now the second waits for the first, so the rows commit in id order."""
    from vigil.store.writer import SeriesIds, _write, write_events

    store = Store(pg_url, outbox=True)
    old, new = (store.begin_run("cam1", "rtsp://x", None, kind="live") for _ in range(2))
    store.write(old, [CountEvent("cam1", "line", "l1", 0, "car", "in", T0)])
    cursor: dict[str, int] = {}
    delivered = _deliver(store, cursor)
    with store.engine.connect() as conn:
        tx = conn.begin()
        _write(conn, SeriesIds(), [(old, CountEvent("cam1", "line", "l1", 1, "car", "in", T0))], ("old", 1), True)
        # another class: no aggregate row in common, which would have made them wait anyway
        second = threading.Thread(target=write_events, args=(store.engine, SeriesIds(), [
            (new, CountEvent("cam1", "line", "l1", 2, "truck", "in", T0))]), kwargs={"outbox": True})
        second.start()
        second.join(0.5)
        waited = second.is_alive()  # for the first writer of cam1
        delivered += _deliver(store, cursor)
        tx.commit()
    second.join(10)
    delivered += _deliver(store, cursor)
    assert sorted(delivered) == sorted(e["id"] for e in store.events(limit=None)) and len(delivered) == 3
    assert waited
    store.close()


@pytest.mark.postgres
def test_outbox_writers_replays_and_retention_at_once_neither_deadlock_nor_miscount(pg_url):
    """The camera lock outbox writers take, begin_run replacing a replay of the same camera, and
    retention pruning (and recording) the events being replaced, all at once on one camera for a
    while: no deadlock (retry_window 0 surfaces one), and the hourly counts hold exactly the live
    events plus the last replay's, whatever was pruned when."""
    from vigil.config.retention import RetentionConfig
    from vigil.store.retention import Retention
    from vigil.store.writer import SeriesIds, write_events

    cfg = RetentionConfig(events_days=7, batch=100)
    store = Store(pg_url, outbox=True, retry_window=0, retention=cfg)
    old = T0.replace(year=2020)  # older than any retention age
    # with snapshots: retention and the replacement both delete them before their events
    clip = [dataclasses.replace(e, snapshot=b"\xff\xd8%d" % i)
            for i, e in enumerate(random_events(120, old, timedelta(hours=3), seed=8, cameras=("gate-1",)))]
    lives = [store.begin_run("gate-1", "rtsp://x", None, kind="live") for _ in range(2)]
    errors: list[BaseException] = []
    written = Counter[int]()
    stop = threading.Event()

    def guarded(fn):
        def run() -> None:
            try:
                while not stop.is_set():
                    fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
        return threading.Thread(target=run)

    def live(k: int):
        ids, seq = SeriesIds(), iter(range(1, 10**6))

        def step() -> None:
            evs = random_events(20, old, timedelta(hours=3), seed=next(seq) * 10 + k, cameras=("gate-1",))
            written[k] += write_events(store.engine, ids, [(lives[k], e) for e in evs], outbox=True).stored
        return step

    last = [0]

    def replay() -> None:
        run = store.begin_run("gate-1", "clip.mp4", "same")
        store.write(run, clip)
        last[0] = run

    def prune() -> None:
        Retention(store.engine, cfg).prune()
        time.sleep(0.01)

    threads = [guarded(live(0)), guarded(live(1)), guarded(replay), guarded(prune)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert last[0] and written[0] and written[1]
    hourly = sum(r["count"] for r in store.counts(camera="gate-1", by="hour"))
    assert hourly == written[0] + written[1] + len(clip)
    store.close()

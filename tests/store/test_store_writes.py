"""Store writes: round trip, the batched writer, replays that replace a run, aggregates that
stay equal to the events, migrations, URLs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.store.storekit import T0, as_counter, random_events, reference_counts
from vigil.errors import VigilError
from vigil.store import Store
from vigil.store.schema import LEVELS, aggregates
from vigil.types import CountEvent


def aggregate_snapshot(store: Store) -> dict[int, set]:
    with store.engine.connect() as conn:
        return {lv: set(conn.execute(sa.select(aggregates[lv])).all()) for lv in LEVELS}


def test_round_trip_keeps_every_field(store):
    run = store.begin_run("gate-1", "clip.mp4", "abc")
    t = datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
    sent = [CountEvent("gate-1", "line", "L1", 7, "car", "in", t),
            CountEvent("gate-1", "zone", "Z", 8, "pedestrian", "out", t + timedelta(seconds=1), 12.5)]
    assert store.write(run, sent) == 2
    store.finish_run(run, "done", frames=250)
    got = store.events()
    assert [(g["camera"], g["kind"], g["name"], g["track_id"], g["class_name"], g["direction"], g["time"],
             g["dwell_s"], g["run_id"]) for g in got] == \
        [(e.camera_id, e.kind, e.name, e.track_id, e.class_name, e.direction, e.time, e.dwell_s, run)
         for e in sent]
    (r,) = store.runs("gate-1")
    assert (r["status"], r["frames"], r["content_hash"], r["source"]) == ("done", 250, "abc", "clip.mp4")
    cams = store.cameras()
    assert [(c["id"], c["lines"], c["zones"], c["runs"]) for c in cams] == [("gate-1", ["L1"], ["Z"], 1)]


def test_writer_batches_flushes_and_closes_idempotently(store):
    run = store.begin_run("gate-1", "a.mp4", None)
    evs = random_events(500, T0, timedelta(hours=3), seed=1, cameras=("gate-1",))
    w = store.writer(flush_interval=30)
    for i in range(0, 500, 50):
        w.put(run, evs[i:i + 50])
    assert store.events(limit=None) == []  # nothing due yet: 30 s interval, no flush
    w.flush()
    assert len(store.events(limit=None)) == 500
    w.put(run, evs[:3])
    w.close()
    w.close()
    assert len(store.events(limit=None)) == 503
    with pytest.raises(RuntimeError):
        w.put(run, evs[:1])


def test_writer_commits_within_the_flush_interval_without_flush(store_url):
    writer_store, reader = Store(store_url), Store(store_url)
    run = writer_store.begin_run("gate-1", "live", None, kind="live")
    w = writer_store.writer(flush_interval=0.2)
    w.put(run, random_events(10, T0, timedelta(minutes=1), cameras=("gate-1",)))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(reader.events()) < 10:
        time.sleep(0.05)
    assert len(reader.events()) == 10, "a crash now would lose more than one flush interval"
    w.close()
    writer_store.close()
    reader.close()


def test_events_of_a_missing_run_are_rejected_reported_and_the_rest_kept(store):
    """A permanent error (bad data) must not block later batches: log, report, keep the rest."""
    run = store.begin_run("gate-1", "a.mp4", None)
    w = store.writer(flush_interval=0.05)
    w.put(9999, random_events(3, T0, timedelta(minutes=1)))  # no such run
    w.put(run, random_events(2, T0, timedelta(minutes=1)))
    w.flush()
    assert (w.rejected, w.written, w.pending) == (3, 2, 0)
    assert "9999" in w.last_error
    w.put(run, random_events(4, T0, timedelta(minutes=1)))  # the writer keeps working
    w.close()
    assert len(store.events()) == 6


def test_a_refused_batch_is_halved_until_the_bad_event_is_found(store):
    run = store.begin_run("gate-1", "a.mp4", None)
    evs = random_events(40, T0, timedelta(minutes=5), cameras=("gate-1",))
    bad = CountEvent("gate-1", "line", "L1", 2**70, "car", "in", T0)  # track id beyond BIGINT
    w = store.writer(flush_interval=30)
    w.put(run, evs[:17] + [bad] + evs[17:])
    w.flush()
    assert (w.rejected, w.written) == (1, 40) and w.failures >= 1 and w.last_error
    assert w.healthy  # the database is up; only the data was bad
    w.close()
    assert len(store.events(limit=None)) == 40


def test_put_never_raises_for_an_earlier_batch(store):
    """Regression (issue 19): put() raised an earlier batch's error after queuing the events,
    so a caller that retried the put stored them twice."""
    run = store.begin_run("gate-1", "a.mp4", None)
    w = store.writer(flush_interval=0.05)
    w.put(424242, random_events(1, T0, timedelta(minutes=1)))  # no such run: the batch fails
    time.sleep(0.5)
    w.put(run, random_events(3, T0, timedelta(minutes=1)))  # does not raise
    w.close()
    assert len(store.events()) == 3


def test_put_rejects_bad_events_at_the_caller(store):
    w = store.writer()
    with pytest.raises(ValueError, match="timezone-aware"):
        w.put(1, [CountEvent("c", "line", "L", 1, "car", "in", datetime(2026, 1, 1))])
    with pytest.raises(ValueError, match="direction"):
        w.put(1, [CountEvent("c", "line", "L", 1, "car", "up", T0)])
    w.close()


def test_replaying_the_same_content_replaces_the_run(store):
    evs = random_events(300, T0, timedelta(hours=5), seed=2)
    first = store.begin_run("gate-1", "clip.mp4", "hash-1")
    store.write(first, evs)
    other = store.begin_run("gate-2", "other.mp4", "hash-1")  # same hash, other camera: kept
    store.write(other, evs[:10])
    before = store.counts(by="hour")
    second = store.begin_run("gate-1", "clip.mp4", "hash-1")
    # Right after begin_run the old events are gone, and so are their aggregates.
    assert as_counter(store.counts()) == reference_counts(evs[:10])
    store.write(second, evs)
    assert store.counts(by="hour") == before
    statuses = {r["id"]: r["status"] for r in store.runs()}
    assert statuses[first] == "replaced" and statuses[second] == "running" and statuses[other] == "running"
    # no content hash: a live session never replaces anything
    live = store.begin_run("gate-1", "rtsp://x", None, kind="live")
    store.write(live, evs[:5])
    assert sum(r["count"] for r in store.counts()) == 300 + 10 + 5


def test_aggregates_equal_a_rebuild_from_the_events(store):
    evs = random_events(800, T0, timedelta(days=2), seed=3)
    runs = [store.begin_run("gate-1", f"f{i}.mp4", f"h{i}") for i in range(3)]
    w = store.writer(flush_interval=0.05)
    for i, e in enumerate(evs):
        w.put(runs[i % 3], [e])
    w.close()
    store.begin_run("gate-1", "f1.mp4", "h1")  # subtracts run 1
    incremental = aggregate_snapshot(store)
    store.rebuild_aggregates()
    assert incremental == aggregate_snapshot(store)
    assert all(c > 0 for rows in incremental.values() for *_, c in rows)
    kept = [e for i, e in enumerate(evs) if i % 3 != 1]
    assert as_counter(store.counts()) == reference_counts(kept)


def test_migrations_create_exactly_the_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from vigil.store.schema import HEAD_REVISION, metadata

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from vigil.store.engine import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_reopening_keeps_data(store_url):
    s = Store(store_url)
    run = s.begin_run("gate-1", "a.mp4", None)
    s.write(run, random_events(5, T0, timedelta(minutes=5), cameras=("gate-1",)))
    s.close()
    assert sum(r["count"] for r in Store(store_url).counts()) == 5


def test_sqlite_uses_wal_and_relative_paths_are_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Store("sqlite:///sub/v.db")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "sub" / "v.db").is_file()
    s.close()
    Store("plain.db").close()  # a bare path means SQLite
    assert (tmp_path / "plain.db").is_file()
    assert not list(tmp_path.rglob("*-migrate.lock"))  # the migration's lock file is removed after use


def test_missing_sqlite_file_is_an_error_when_not_creating(tmp_path):
    with pytest.raises(VigilError, match="does not exist"):
        Store(f"sqlite:///{tmp_path / 'nope.db'}", create=False)


@pytest.mark.parametrize("url, needle", [
    ("mysql://u:pw@h/db", "not supported"),
    ("postgresql+psycopg://vigil:s3cret@127.0.0.1:1/db", "cannot open database"),
    ("sqlite:////proc/no/such/dir/x.db", "cannot open database"),
    ("://nothing", "not a database URL"),
    ("postgresql://u@h:notaport/db", "not a database URL"),
])
def test_bad_urls_are_one_line_errors_with_the_password_masked(url, needle):
    with pytest.raises(VigilError) as err:
        Store(url)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg
    assert "s3cret" not in msg and "pw@" not in msg
    if "s3cret" in url:
        assert "***" in msg


def test_write_to_a_missing_run_is_one_clear_error(store):
    from vigil.store import StoreError

    with pytest.raises(StoreError, match="run 9999 does not exist"):
        store.write(9999, random_events(2, T0, timedelta(minutes=1)))
    assert store.events() == []

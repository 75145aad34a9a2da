"""Retention: old raw events and minute counts pruned in batches, hourly counts kept, `vigil
counts` over the pruned range unchanged; the writer prunes while it writes; `vigil db`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.store.test_store_writes import aggregate_snapshot
from vigil.bench.count_queries import START, generate
from vigil.cli import main
from vigil.config.retention import RetentionConfig
from vigil.store import Store
from vigil.store.retention import DAY_S, Retention
from vigil.store.schema import LEVELS, aggregates, events, pruned_counts, snapshots
from vigil.types import CountEvent

DAYS = 400


def counts_json(capsys, db: str, *args: str) -> list:
    capsys.readouterr()
    assert main(["counts", "--db", db, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def bounds(engine: sa.Engine, table: sa.Table, col: str) -> tuple:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.min(table.c[col]), sa.func.count()).select_from(table)).one()


def test_prune_to_90_days_keeps_counts_by_hour_over_the_pruned_range(tmp_path, capsys):
    path = tmp_path / "big.db"
    generate(path, 40_000, DAYS, 1, log=lambda _: None).close()
    db = f"sqlite:///{path}"
    asked = [("--by", "day", "--tz", "Europe/Berlin"), ("--since", "2026-02-01", "--until", "2026-06-01"),
             ("--by", "hour", "--until", "2026-03-01T05:00:00+00:00"), ()]
    before = [counts_json(capsys, db, *a) for a in asked]
    hours_before = bounds(sa.create_engine(db), aggregates[3600], "bucket_ts")
    assert main(["db", "prune", "--db", db, "--events-days", "90", "--batch", "1000"]) == 0
    out = capsys.readouterr().out
    assert "events" in out and "deleted" in out
    cutoff = time.time() - 90 * DAY_S
    engine = sa.create_engine(db)
    first_event, n_events = bounds(engine, events, "t_us")
    assert first_event >= (cutoff - 60) * 1e6 and 0 < n_events < 40_000  # pruned, the recent rest kept
    first_minute, _ = bounds(engine, aggregates[60], "bucket_ts")
    assert first_minute >= cutoff - 120
    assert bounds(engine, aggregates[3600], "bucket_ts") == hours_before  # hourly counts all kept
    after = [counts_json(capsys, db, *a) for a in asked]
    for a, b, q in zip(before, after, asked):
        assert a == b, q  # `vigil counts` over the pruned range is unchanged
    assert sum(r["count"] for r in after[-1]) == 40_000
    capsys.readouterr()
    assert main(["db", "stats", "--db", db, "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["rows"]["events"] == n_events and st["aggregates"]["3600s"]["first"].startswith("2026-01-05")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/w.db"
    return request.getfixturevalue("pg_url")


def test_the_writer_prunes_in_batches_while_it_counts(any_db):
    now = datetime.now(UTC)
    old = [CountEvent(camera_id="a", kind="line", name="L", class_name="car", direction="in", track_id=i,
                      time=now - timedelta(days=30, minutes=i)) for i in range(600)]
    cfg = RetentionConfig(events_days=7, hourly_days=365, batch=100, interval=3600)
    with Store(any_db, retention=cfg) as store:
        run = store.begin_run("a", "rtsp://x", None, kind="live")
        store.write(run, old)
        hourly = store.counts(camera="a", until=now - timedelta(days=8))
        assert sum(r["count"] for r in hourly) == 600
        with store.writer(flush_interval=0.05, heartbeat=0.1) as w:
            for i in range(20):  # counting goes on while the old rows go
                w.put(run, [CountEvent(camera_id="a", kind="line", name="L", class_name="car", direction="out",
                                       track_id=1000 + i, time=datetime.now(UTC))])
                time.sleep(0.05)
            deadline = time.monotonic() + 20
            while bounds(store.engine, events, "t_us")[1] != 20 and time.monotonic() < deadline:
                time.sleep(0.1)
            w.flush(10)
        assert bounds(store.engine, events, "t_us")[1] == 20  # the 600 old ones pruned, the 20 new kept
        assert store.counts(camera="a", until=now - timedelta(days=8)) == hourly  # kept by the hour level
        assert sum(r["count"] for r in store.counts(camera="a", direction="out")) == 20


def test_retention_ages_are_ordered_and_prune_says_what_it_needs(capsys, tmp_path):
    with pytest.raises(ValueError, match="hourly_days"):
        RetentionConfig(events_days=90, hourly_days=30)
    db = f"sqlite:///{tmp_path}/e.db"
    Store(db).close()
    assert main(["db", "prune", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nothing to prune") and len(err.strip().splitlines()) == 1
    assert main(["db", "prune", "--db", db, "--events-days", "90", "--hourly-days", "10"]) == 2
    assert "must be at least" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", db]) == 0
    assert "already" in capsys.readouterr().out
    assert main(["db", "prune", "--help"]) == 0
    helptext = " ".join(capsys.readouterr().out.replace("│", " ").split())
    for what in ("Delete raw events", "Delete minute and 15-minute counts", "Delete hourly counts"):
        assert what in helptext, what


def test_retention_clock_and_cutoffs():
    now = START.timestamp() + 100 * DAY_S
    r = Retention(sa.create_engine("sqlite://"), RetentionConfig(events_days=10, hourly_days=50), clock=lambda: now)
    cut = {t.name: c for t, _, c in r.targets()}
    assert cut["events"] == int((now - 10 * DAY_S) * 1e6)
    assert cut["counts_3600s"] == int(now - 50 * DAY_S) - 3600 + 1  # only whole hours older than the age
    assert cut["counts_60s"] == int(now - 10 * DAY_S) - 60 + 1
    assert cut["pruned_counts_3600s"] == cut["counts_3600s"] and cut["pruned_counts_60s"] == cut["counts_60s"]
    assert [t.name for t, _, _ in r.targets()][-3:] == ["pruned_counts_60s", "pruned_counts_900s",
                                                          "pruned_counts_3600s"]  # after the counts they record


def test_replaying_a_file_retention_pruned_replaces_its_run_and_counts_never_double(any_db):
    """Events 30 days old, pruned at 7 days while every count level is kept: replaying the same
    file again used to subtract only the events still there (none) and double its counts. Another
    replay shares the same series and buckets and must keep its counts; a rebuild keeps both."""
    now = datetime.now(UTC)
    t0 = (now - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)

    def clip(n: int, shift: int) -> list[CountEvent]:
        return [CountEvent("a", "line", "L", i, "car", "in" if i % 3 else "out",
                           t0 + timedelta(minutes=7 * i + shift, seconds=i)) for i in range(n)]

    cfg = RetentionConfig(events_days=7, aggregates_days=60, hourly_days=365, batch=100)
    with Store(any_db, retention=cfg) as store:
        def replay(name: str, evs: list[CountEvent]) -> int:
            run = store.begin_run("a", f"{name}.mp4", f"hash-{name}")
            store.write(run, evs)
            store.finish_run(run, "done", frames=1)
            Retention(store.engine, cfg).prune()  # the writer's next pass
            return run

        replay("other", clip(30, 3))
        first = replay("clip", clip(40, 0))
        once = aggregate_snapshot(store)
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 0
            assert conn.execute(sa.select(sa.func.sum(pruned_counts[60].c["count"]))
                                .where(pruned_counts[60].c.run_id == first)).scalar_one() == 40
        assert sum(r["count"] for r in store.counts(camera="a", by="hour")) == 70
        second = replay("clip", clip(40, 0))
        assert aggregate_snapshot(store) == once  # every level: replaced, not doubled
        assert {r["id"]: r["status"] for r in store.runs()}[first] == "replaced"
        with store.engine.connect() as conn:
            assert {lv: set(conn.execute(sa.select(pruned_counts[lv].c.run_id).distinct()).scalars())
                    for lv in LEVELS} == {lv: {first - 1, second} for lv in LEVELS}
        store.rebuild_aggregates()
        assert aggregate_snapshot(store) == once
        replay("clip", clip(40, 0))  # and after a rebuild
        assert aggregate_snapshot(store) == once
        # minute and 15-minute counts pruned too: their records go with them, the hourly ones stay
        cfg = RetentionConfig(events_days=7, aggregates_days=7, hourly_days=365, batch=100)
        Retention(store.engine, cfg).prune()
        with store.engine.connect() as conn:
            left = {lv: conn.execute(sa.select(sa.func.count()).select_from(pruned_counts[lv])).scalar_one()
                    for lv in LEVELS}
        assert left[60] == left[900] == 0 < left[3600]
        replay("clip", clip(40, 0))
        assert aggregate_snapshot(store) == {60: set(), 900: set(), 3600: once[3600]}
        assert sum(r["count"] for r in store.counts(camera="a", by="hour")) == 70


def test_events_with_snapshots_are_pruned_with_them(any_db):
    """A snapshot holds its event by foreign key: with snapshots on, every pruning batch failed
    and no event was ever pruned again. Live runs (nothing recorded) and replays alike."""
    old = datetime.now(UTC) - timedelta(days=30)
    cfg = RetentionConfig(events_days=7, batch=100)
    with Store(any_db, retention=cfg) as store:
        for hash_ in (None, "hash-clip"):
            run = store.begin_run("a", "clip.mp4", hash_, kind="replay" if hash_ else "live")
            store.write(run, [CountEvent("a", "line", "L", i, "car", "in", old + timedelta(minutes=i),
                                         snapshot=b"\xff\xd8jpeg%d" % i) for i in range(5)])
            assert Retention(store.engine, cfg).prune().rows["events"] == 5
            with store.engine.connect() as conn:
                left = [conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                        for t in (events, snapshots)]
            assert left == [0, 0]
        assert sum(r["count"] for r in store.counts(camera="a", by="hour")) == 10  # counts stay


@pytest.mark.postgres
def test_db_stats_on_postgres_shows_leases_and_timescaledb(pg_url, capsys):
    from vigil.live.leases import CameraLeases

    with Store(pg_url) as store:
        CameraLeases(store.engine, "s", "worker-1", 30).acquire(["a"], 1)
    capsys.readouterr()
    assert main(["db", "stats", "--db", pg_url]) == 0
    out = capsys.readouterr().out
    assert "lease s/a: worker-1 until" in out
    assert "TimescaleDB not available" in out  # Debian's PostgreSQL here has no TimescaleDB

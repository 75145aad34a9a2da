"""Pre-aggregated counts per (series, minute / 15 minutes / hour), kept consistent with the
events inside the caller's transaction: writes add, replacing a run subtracts (its events
still there, and what retention recorded of those it pruned: `pruned_counts`), and a full
rebuild recomputes them from the events and those records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from vigil.store.schema import LEVELS, aggregates, events, pruned_counts, runs, snapshots
from vigil.store.timebuckets import sql_int

MINUTE_US = 60_000_000
# Runs begin_run can replace (the same file replayed again): those with a content hash.
REPLAYS = sa.and_(runs.c.content_hash.is_not(None), runs.c.content_hash != "")


def _insert_for(conn: sa.Connection):
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        return postgresql_insert
    raise NotImplementedError(name)  # engine.parse_url only lets these two through


def insert_ignore(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """INSERT rows, skipping those that clash with a unique key (SQLite and PostgreSQL)."""
    if rows:
        conn.execute(_insert_for(conn)(table).on_conflict_do_nothing(), rows)


def add_minute_counts(conn: sa.Connection, minute_counts: Counter) -> None:
    """Add {(series_id, minute_start_s): n} (n may be negative) to every aggregate level."""
    for level in LEVELS:
        _add_level(conn, aggregates[level], _rolled(minute_counts, level))


def _rolled(minute_counts: Counter, level: int) -> Counter:
    """{(series_id, minute_start_s): n} -> {(series_id, bucket_ts): n} at `level`."""
    rolled: Counter = Counter()
    for (sid, minute), n in minute_counts.items():
        rolled[(sid, minute - minute % level)] += n
    return rolled


def _add_level(conn: sa.Connection, table: sa.Table, counts: Counter, key: dict | None = None) -> None:
    """Add {(series_id, bucket_ts): n} to one table keyed (bucket, series[, what `key` fixes]).
    Rows are written in key order so concurrent PostgreSQL writers lock them in one order;
    a subtraction that empties a bucket deletes its row, so the tables hold no zero rows."""
    key = key or {}
    rows = [{**key, "bucket_ts": b, "series_id": s, "count": n}
            for (b, s), n in sorted(((b, s), n) for (s, b), n in counts.items()) if n]
    if not rows:
        return
    stmt = _insert_for(conn)(table)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[c] for c in (*key, "bucket_ts", "series_id")],
                                      set_={"count": table.c["count"] + stmt.excluded["count"]})
    conn.execute(stmt, rows)
    gone = [{"s": r["series_id"], "b": r["bucket_ts"]} for r in rows if r["count"] < 0]
    if gone:
        conn.execute(sa.delete(table).where(*[table.c[c] == v for c, v in key.items()],
                                            table.c.series_id == sa.bindparam("s"),
                                            table.c.bucket_ts == sa.bindparam("b"),
                                            table.c["count"] <= 0), gone)


def record_pruned(conn: sa.Connection, gone: list[tuple[int, int, int]], doomed: dict[int, int]) -> None:
    """Retention is deleting these events (run_id, series_id, t_us), in the caller's transaction:
    keep what those of replays (runs with a content hash, the only runs begin_run replaces) added to
    each level, so that replacing their run later subtracts it (remove_runs). doomed: {level:
    cutoff} of the levels retention prunes; a bucket before its cutoff goes in this same pass, so
    it needs no record (with the default ages only the hourly records are kept: a few rows per
    run, series and hour, instead of about one per event at the minute level)."""
    if not gone:
        return
    replays = set(conn.execute(sa.select(runs.c.id).where(
        runs.c.id.in_(sorted({r for r, _, _ in gone})), REPLAYS)).scalars())
    per_run: dict[int, Counter] = {}
    for run_id, sid, t_us in gone:
        if run_id in replays:
            per_run.setdefault(run_id, Counter())[(sid, t_us // MINUTE_US * 60)] += 1
    for level in LEVELS:
        since = doomed.get(level)
        for run_id in sorted(per_run):
            kept = Counter({(s, b): n for (s, b), n in _rolled(per_run[run_id], level).items()
                            if since is None or b >= since})
            _add_level(conn, pruned_counts[level], kept, {"run_id": run_id})


def remove_runs(conn: sa.Connection, run_ids: Iterable[int]) -> int:
    """Delete the events of these runs and subtract them from the aggregates, and with them what
    retention recorded of their events it deleted (record_pruned). Returns the number of events
    removed (those still there)."""
    run_ids = sorted(run_ids)
    if not run_ids:
        return 0
    mine = events.c.run_id.in_(run_ids)
    if conn.dialect.name == "postgresql":  # events before their snapshots, as retention locks them: no deadlock
        conn.execute(sa.select(events.c.id).where(mine).with_for_update())
    conn.execute(sa.delete(snapshots).where(snapshots.c.event_id.in_(sa.select(events.c.id).where(mine))))
    if conn.dialect.name == "postgresql":
        # Counted from what this DELETE removed: retention may be deleting some of these events at
        # this moment; this waits for it, then skips them, and the pruned_counts it committed are
        # read below. Counting first and deleting after could count them twice (or not at all).
        gone = sa.delete(events).where(mine).returning(events.c.series_id, events.c.t_us).cte("gone")
        minute = (gone.c.t_us // sql_int(MINUTE_US)) * sql_int(60)
        rows = conn.execute(sa.select(gone.c.series_id, minute, sa.func.count())
                            .group_by(gone.c.series_id, minute)).all()
    else:  # SQLite: this transaction holds the database's write lock (begin_run's first statement wrote)
        minute = (events.c.t_us // sql_int(MINUTE_US)) * sql_int(60)
        rows = conn.execute(sa.select(events.c.series_id, minute, sa.func.count())
                            .where(mine).group_by(events.c.series_id, minute)).all()
        conn.execute(sa.delete(events).where(mine))
    add_minute_counts(conn, Counter({(s, m): -n for s, m, n in rows}))
    for level in LEVELS:
        table = pruned_counts[level]
        was = conn.execute(sa.delete(table).where(table.c.run_id.in_(run_ids))
                           .returning(table.c.series_id, table.c.bucket_ts, table.c["count"])).all()
        less: Counter = Counter()
        for s, b, n in was:
            less[(s, b)] -= n
        _add_level(conn, aggregates[level], less)
    return sum(n for _, _, n in rows)


def rebuild(conn: sa.Connection) -> None:
    """Recompute every level from the events (after bulk loads, or to repair)."""
    for level in LEVELS:
        conn.execute(sa.delete(aggregates[level]))
    finest = aggregates[LEVELS[0]]
    minute = (events.c.t_us // sql_int(MINUTE_US)) * sql_int(60)
    # Grouped along the (series, time) index, then sorted into the tables' (bucket, series)
    # key order so the inserts append instead of seeking.
    conn.execute(finest.insert().from_select(
        ["series_id", "bucket_ts", "count"],
        sa.select(events.c.series_id, minute, sa.func.count()).group_by(events.c.series_id, minute)
        .order_by(minute, events.c.series_id)))
    for level in LEVELS[1:]:
        bucket = (finest.c.bucket_ts // sql_int(level)) * sql_int(level)
        conn.execute(aggregates[level].insert().from_select(
            ["series_id", "bucket_ts", "count"],
            sa.select(finest.c.series_id, bucket, sa.func.sum(finest.c["count"]))
            .group_by(finest.c.series_id, bucket).order_by(bucket, finest.c.series_id)))
    # Replays' events retention deleted are counted by pruned_counts, level by level (after the
    # roll-up, which would otherwise carry the minute records into the coarser levels twice).
    # Pruned events of runs without a content hash (live) are not recorded: a rebuild loses those.
    for level in LEVELS:
        p = pruned_counts[level]
        kept = conn.execute(sa.select(p.c.series_id, p.c.bucket_ts, sa.func.sum(p.c["count"]))
                            .group_by(p.c.series_id, p.c.bucket_ts)).all()
        _add_level(conn, aggregates[level], Counter({(s, b): int(n) for s, b, n in kept}))

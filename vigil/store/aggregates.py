"""Pre-aggregated counts per (series, minute / 15 minutes / hour), kept consistent with the
events inside the caller's transaction: writes add, replacing a run subtracts, and a full
rebuild recomputes them from the events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from vigil.store.schema import LEVELS, aggregates, events, snapshots
from vigil.store.timebuckets import sql_int

MINUTE_US = 60_000_000


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
    """Add {(series_id, minute_start_s): n} (n may be negative) to every aggregate level.
    Rows are written in key order so concurrent PostgreSQL writers lock them in one order."""
    insert = _insert_for(conn)
    for level in LEVELS:
        rolled: Counter = Counter()
        for (sid, minute), n in minute_counts.items():
            rolled[(sid, minute - minute % level)] += n
        rows = [{"bucket_ts": b, "series_id": s, "count": n}
                for (b, s), n in sorted(((b, s), n) for (s, b), n in rolled.items()) if n]
        if not rows:
            continue
        table = aggregates[level]
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.bucket_ts, table.c.series_id],
                                          set_={"count": table.c["count"] + stmt.excluded["count"]})
        conn.execute(stmt, rows)
        gone = [{"s": r["series_id"], "b": r["bucket_ts"]} for r in rows if r["count"] < 0]
        if gone:  # a subtraction may have emptied a bucket; keep the tables free of zero rows
            conn.execute(sa.delete(table).where(table.c.series_id == sa.bindparam("s"),
                                                table.c.bucket_ts == sa.bindparam("b"),
                                                table.c["count"] <= 0), gone)


def remove_runs(conn: sa.Connection, run_ids: Iterable[int]) -> int:
    """Delete the events of these runs and subtract them from the aggregates. Returns the
    number of events removed."""
    run_ids = list(run_ids)
    if not run_ids:
        return 0
    minute = (events.c.t_us // sql_int(MINUTE_US)) * sql_int(60)
    rows = conn.execute(sa.select(events.c.series_id, minute, sa.func.count())
                        .where(events.c.run_id.in_(run_ids))
                        .group_by(events.c.series_id, minute)).all()
    add_minute_counts(conn, Counter({(s, m): -n for s, m, n in rows}))
    conn.execute(sa.delete(snapshots).where(snapshots.c.event_id.in_(
        sa.select(events.c.id).where(events.c.run_id.in_(run_ids)))))
    conn.execute(sa.delete(events).where(events.c.run_id.in_(run_ids)))
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

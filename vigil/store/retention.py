"""Retention: old raw events and fine-grained counts deleted in small batches, hourly counts
kept longer (RetentionConfig). The event writer runs `step()` between its batches, so pruning
goes on while counting does, a bounded slice of time at a go; `vigil db prune` runs `prune()`.

Pruning never subtracts from the aggregates (the events did happen): a count by hour over a
pruned range reads the hourly level and is unchanged; what is lost is only the detail below
the level that is kept (single events, then minutes). What the deleted events of a replay had
added is recorded per run in `pruned_counts_*` (aggregates.record_pruned, same transaction), so
replaying that file again still replaces the earlier run instead of doubling its counts; those
records go with their level's counts. Each batch is one short transaction that
deletes at most `batch` rows, oldest first; on PostgreSQL rows another worker is deleting are
skipped (SKIP LOCKED), so several workers' writers share the work instead of queueing on it.
TimescaleDB is not used (a hypertable would need the extension, absent here); the batches work
on plain PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from vigil.config.retention import RetentionConfig
from vigil.store.aggregates import REPLAYS, record_pruned
from vigil.store.schema import LEVELS, aggregates, events, pruned_counts, runs, snapshots

log = logging.getLogger(__name__)

DAY_S = 86_400


@dataclass
class Pruned:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class Retention:
    """Prunes one database by `cfg`. `clock` (epoch seconds) is injectable for tests."""

    def __init__(self, engine: sa.Engine, cfg: RetentionConfig, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.cfg, self.clock = engine, cfg, clock
        self._next_pass = 0.0  # monotonic; a pass is due when reached
        self._busy = False     # a pass has started and has rows left

    def level_cutoffs(self) -> dict[int, int]:
        """{level: cutoff} for the aggregate levels with an age: a bucket before it goes."""
        now, out = self.clock(), {}
        for level in LEVELS:
            days = self.cfg.hourly_days if level == LEVELS[-1] else self.cfg.fine_days
            if days is not None:
                out[level] = int(now - days * DAY_S) - level + 1  # only buckets wholly older than the age
        return out

    def targets(self) -> list[tuple[sa.Table, str, int]]:
        """(table, time column, cutoff) for every table with an age, cutoffs in the column's
        unit; an aggregate bucket goes only once all of it is older than its age, and the
        record of pruned events in it (pruned_counts) after it, at the same cutoff."""
        out: list[tuple[sa.Table, str, int]] = []
        if self.cfg.events_days is not None:
            out.append((events, "t_us", int((self.clock() - self.cfg.events_days * DAY_S) * 1e6)))
        levels = self.level_cutoffs()
        out += [(aggregates[level], "bucket_ts", cut) for level, cut in levels.items()]
        return out + [(pruned_counts[level], "bucket_ts", cut) for level, cut in levels.items()]

    def delete_batch(self, table: sa.Table, column: str, cutoff: int) -> int:
        """Delete up to cfg.batch of the oldest rows of `table` with `column` < cutoff."""
        cols = list(table.primary_key.columns)
        key = cols[0] if len(cols) == 1 else sa.tuple_(*cols)
        pick = sa.select(*cols).where(table.c[column] < cutoff).order_by(table.c[column]).limit(self.cfg.batch)
        replays = sa.select(runs.c.id).where(REPLAYS)
        if table is events:  # read before the transaction: on SQLite its first statement must write
            with self.engine.connect() as conn:
                any_replay = conn.execute(replays.limit(1)).first() is not None
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            if table is not events:
                return conn.execute(sa.delete(table).where(key.in_(pick))).rowcount
            if not any_replay:  # nothing to record; a replay begun since is left to the next batch
                pick = pick.where(events.c.run_id.not_in(replays))
            # Their snapshots go first: a snapshot holds its event by foreign key (with snapshots
            # on, every batch failed and no event was pruned again).
            if conn.dialect.name == "sqlite":  # a write first; the write lock then keeps the pick the same
                conn.execute(sa.delete(snapshots).where(snapshots.c.event_id.in_(pick)))
                ids = list(conn.execute(pick).scalars())
            else:  # picked FOR UPDATE: the rows stay ours until commit
                ids = list(conn.execute(pick).scalars())
                conn.execute(sa.delete(snapshots).where(snapshots.c.event_id.in_(ids)))
            if not ids:
                return 0
            if not any_replay:
                return conn.execute(sa.delete(events).where(events.c.id.in_(ids))).rowcount
            gone = conn.execute(sa.delete(events).where(events.c.id.in_(ids))
                                .returning(events.c.run_id, events.c.series_id, events.c.t_us)).all()
            record_pruned(conn, [tuple(r) for r in gone], self.level_cutoffs())
            return len(gone)

    def prune(self, progress: Callable[[str, int], None] | None = None,
              budget_s: float | None = None) -> Pruned:
        """Delete batches until nothing is older than its age, or `budget_s` has passed."""
        out, t0 = Pruned(), time.monotonic()
        for table, column, cutoff in self.targets():
            while True:
                n = self.delete_batch(table, column, cutoff)
                out.rows[table.name] = out.rows.get(table.name, 0) + n
                if progress and n:
                    progress(table.name, out.rows[table.name])
                if n < self.cfg.batch:
                    break
                if budget_s is not None and time.monotonic() - t0 >= budget_s:
                    out.seconds = time.monotonic() - t0
                    self._busy = True
                    return out
        out.seconds = time.monotonic() - t0
        self._busy = False
        return out

    def step(self, budget_s: float = 0.25) -> int:
        """For the event writer, between its batches: when a pass is due (every cfg.interval s),
        prune for at most about `budget_s` seconds; the pass goes on at the next step until done.
        Returns rows deleted."""
        now = time.monotonic()
        if not self._busy and now < self._next_pass:
            return 0
        done = self.prune(budget_s=budget_s)
        if not self._busy:
            self._next_pass = time.monotonic() + self.cfg.interval
        if done.total:
            log.info("retention: deleted %s", ", ".join(f"{n} {t}" for t, n in done.rows.items() if n),
                     extra={"event": "retention", "rows": done.total})
        return done.total

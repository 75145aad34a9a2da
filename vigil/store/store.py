"""`Store`: the one object the rest of Vigil uses to persist and query counts."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.count.events import CountEvent
from vigil.store import aggregates as agg
from vigil.store import queries
from vigil.store.aggregates import insert_ignore
from vigil.store.engine import StoreError, masked, open_engine
from vigil.store.schema import cameras, runs
from vigil.store.writer import EventWriter, SeriesIds, check_event, to_us_now, write_events

RUN_KINDS = ("replay", "live")


class Store:
    """Events, runs and pre-aggregated counts in SQLite (default, WAL) or PostgreSQL.

    Opening migrates the schema to head. Writes go through `writer()` (batched, background
    thread) or `write()` (synchronous); queries are `counts()`, `events()`, `cameras()`.
    """

    def __init__(self, url: str = "sqlite:///vigil.db", create: bool = True) -> None:
        """create=False: a missing SQLite file is an error instead of a new empty database."""
        self.engine = open_engine(url, create_missing=create)
        self.url = masked(self.engine.url)
        self._series = SeriesIds()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------------
    def begin_run(self, camera_id: str, source: str, content_hash: str | None, kind: str = "replay") -> int:
        """Register the camera (if new) and a run; returns the run id. Earlier runs of this
        camera with the same content hash are marked 'replaced' and their events and counts
        removed in the same transaction, so replaying a file again does not count twice."""
        if kind not in RUN_KINDS:
            raise ValueError(f"run kind must be one of {RUN_KINDS}, got {kind!r}")
        now = to_us_now()
        with self.engine.begin() as conn:
            # The first statement writes, so SQLite takes its write lock before anything is read.
            insert_ignore(conn, cameras, [{"id": camera_id, "created_us": now}])
            if content_hash:
                old = conn.execute(sa.select(runs.c.id).where(
                    runs.c.camera_id == camera_id, runs.c.content_hash == content_hash,
                    runs.c.status != "replaced")).scalars().all()
                if old:
                    agg.remove_runs(conn, old)
                    conn.execute(sa.update(runs).where(runs.c.id.in_(old)).values(status="replaced"))
            return conn.execute(runs.insert().values(
                camera_id=camera_id, kind=kind, source=str(source), content_hash=content_hash,
                status="running", frames=0, started_us=now).returning(runs.c.id)).scalar_one()

    def finish_run(self, run_id: int, status: str, frames: int, error: str | None = None) -> None:
        """Record how a run ended (status: e.g. done, failed, interrupted; at most 32 characters)."""
        if not status or len(status) > 32:
            raise ValueError(f"run status must be 1-32 characters, got {status!r}")
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(runs).where(runs.c.id == run_id).values(
                status=status, frames=int(frames), error=error, finished_us=to_us_now()))
            if done.rowcount == 0:
                raise StoreError(f"run {run_id} does not exist in {self.url}")

    def runs(self, camera: str | None = None) -> list[dict]:
        q = sa.select(runs).order_by(runs.c.id)
        if camera is not None:
            q = q.where(runs.c.camera_id == camera)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- writing ---------------------------------------------------------------------------------
    def writer(self, flush_interval: float = 1.0) -> EventWriter:
        """A background writer: put() queues, a thread commits a batch every flush_interval s."""
        return EventWriter(self.engine, self._series, flush_interval)

    def write(self, run_id: int, events: list[CountEvent]) -> int:
        """Write events now, in one transaction (for tests and small tools)."""
        for e in events:
            check_event(e)
        return write_events(self.engine, self._series, ((run_id, e) for e in events))

    def rebuild_aggregates(self) -> None:
        """Recompute all pre-aggregated counts from the events (after a bulk load or to repair)."""
        with self.engine.begin() as conn:
            agg.rebuild(conn)

    # -- queries ---------------------------------------------------------------------------------
    def counts(self, filters: queries.Filters | None = None, by: str | None = None, public: bool = False,
               max_rows: int | None = None, timeout_s: float | None = None, **filter_kw) -> list[dict]:
        """Rows {camera, kind, name, class_name, direction, [bucket], count}; `bucket` (only
        with `by`) is the aware start of the bucket in the filters' tz. filters: a Filters, or
        Filters.parse keywords (camera=, since=, until=, tz=, ...). public=True gives the
        CLI/API JSON rows instead: {camera, line|zone, class, direction, [bucket ISO 8601], count}.
        max_rows / timeout_s: raise TooManyRows / QueryTimeout rather than answer bigger or later."""
        return queries.counts(self.engine, queries.filters_of(filters, filter_kw), by, public, max_rows,
                              timeout_s)

    def events(self, filters: queries.Filters | None = None, limit: int | None = 1000,
               run_id: int | None = None, after: tuple[int, int] | None = None,
               timeout_s: float | None = None, **filter_kw) -> list[dict]:
        """Rows {id, run_id, camera, kind, name, class_name, direction, track_id, time, dwell_s},
        oldest first; after=(t_us, id) starts after that event (see vigil.store.public cursors)."""
        return queries.list_events(self.engine, queries.filters_of(filters, filter_kw), limit, run_id, after,
                                   timeout_s)

    def cameras(self) -> list[dict]:
        return queries.list_cameras(self.engine)

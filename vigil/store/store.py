"""`Store`: the one object the rest of Vigil uses to persist and query counts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from vigil.classes import ClassVocab
from vigil.config.database import DEFAULT_DB_URL
from vigil.config.retention import RetentionConfig
from vigil.store import aggregates as agg
from vigil.store import queries, spill
from vigil.store.aggregates import insert_ignore
from vigil.store.engine import StoreError, masked, open_engine, retry_transient
from vigil.store.retention import Retention
from vigil.store.schema import cameras, events, runs, snapshots
from vigil.store.timebuckets import from_us, parse_time, parse_tz, to_us
from vigil.store.writer import (
    EventWriter,
    SeriesIds,
    check_event,
    store_spill_file,
    to_us_now,
    write_events,
)
from vigil.types import CountEvent

log = logging.getLogger(__name__)

RUN_KINDS = ("replay", "live")
# Runs whose counts are partial: stopped early, or found dead (no heartbeat) by reconcile().
INCOMPLETE = ("interrupted", "failed", "error")
_DEFAULT = object()


class Store:
    """Events, runs and pre-aggregated counts in SQLite (default, WAL) or PostgreSQL.

    Opening migrates the schema to head, marks runs that died without finishing
    `interrupted` (see reconcile) and stores events a writer saved to its spill file.
    Writes go through `writer()` (batched, background thread) or `write()` (synchronous);
    queries are `counts()`, `events()`, `cameras()`, `incomplete_runs()`.

    stale_after: a `running` run whose heartbeat (writers beat every few seconds) is older
    than this is taken for dead. retry_window: how long begin_run/finish_run ride out a
    database outage. spill_dir: where writers save what they could not store (default:
    next to a SQLite file; $XDG_STATE_HOME/vigil/spill/... for PostgreSQL).
    """

    def __init__(self, url: str = DEFAULT_DB_URL, create: bool = True, *, stale_after: float = 60.0,
                 retry_window: float = 30.0, spill_dir: str | Path | None | object = _DEFAULT,
                 retention: RetentionConfig | None = None, outbox: bool = False) -> None:
        """create=False: a missing SQLite file is an error instead of a new empty database.
        retention: its writers prune old rows between their batches (vigil/store/retention.py).
        outbox=True (a site with outputs): every event written is also queued for the outputs."""
        if stale_after < 30:
            raise ValueError(f"stale_after must be at least 30 s (writers beat every few seconds), got {stale_after}")
        self.engine = open_engine(url, create_missing=create)
        self.url = masked(self.engine.url)
        self.stale_after, self.retry_window = float(stale_after), float(retry_window)
        self.spill_dir = spill.default_dir(self.engine.url) if spill_dir is _DEFAULT else \
            (Path(spill_dir) if isinstance(spill_dir, (str, Path)) else None)
        self._series = SeriesIds()
        self.retention = Retention(self.engine, retention) if retention is not None and retention.enabled else None
        self.outbox = outbox
        self.on_commit: Callable[[], None] | None = None  # given to writers: called after each commit
        self._open_runs: set[int] = set()  # begun here, not finished: the writers' heartbeats keep them alive
        self._lock = threading.Lock()
        self.reconcile()
        self.import_spilled()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _retry(self, fn, what: str):
        return retry_transient(fn, self.retry_window, what, self.url)

    def _running_here(self) -> list[int]:
        with self._lock:
            return sorted(self._open_runs)

    # -- runs ----------------------------------------------------------------------------------
    def begin_run(self, camera_id: str, source: str, content_hash: str | None, kind: str = "replay") -> int:
        """Register the camera (if new) and a run; returns the run id. Earlier runs of this
        camera with the same content hash, finished or still running, are marked 'replaced'
        and their events and counts removed in the same transaction; their later events are
        dropped by the writer, so replaying a file again, even twice at once, counts once.
        Rides out a database outage of up to retry_window seconds."""
        if kind not in RUN_KINDS:
            raise ValueError(f"run kind must be one of {RUN_KINDS}, got {kind!r}")
        self.reconcile()

        def attempt() -> int:
            now = to_us_now()
            with self.engine.begin() as conn:
                # The first statement writes, so SQLite takes its write lock before anything is read;
                # on PostgreSQL the camera row lock makes begin_runs of one camera take turns.
                insert_ignore(conn, cameras, [{"id": camera_id, "created_us": now}])
                conn.execute(sa.select(cameras.c.id).where(cameras.c.id == camera_id).with_for_update())
                if content_hash:
                    # Locked as the writer locks them (id order), so no event of these runs commits after this.
                    old = conn.execute(sa.select(runs.c.id).where(
                        runs.c.camera_id == camera_id, runs.c.content_hash == content_hash,
                        runs.c.status != "replaced").order_by(runs.c.id).with_for_update()).scalars().all()
                    if old:
                        agg.remove_runs(conn, old)
                        conn.execute(sa.update(runs).where(runs.c.id.in_(old)).values(status="replaced"))
                return conn.execute(runs.insert().values(
                    camera_id=camera_id, kind=kind, source=str(source), content_hash=content_hash,
                    status="running", frames=0, started_us=now, heartbeat_us=now).returning(runs.c.id)).scalar_one()

        run_id = self._retry(attempt, f"starting a run of camera '{camera_id}'")
        with self._lock:
            self._open_runs.add(run_id)
        return run_id

    def finish_run(self, run_id: int, status: str, frames: int, error: str | None = None,
                   at_us: int | None = None) -> None:
        """Record how a run ended (status: e.g. done, failed, interrupted; at most 32 characters).
        A run replaced meanwhile by a replay of the same file stays 'replaced'. Rides out a
        database outage of up to retry_window seconds. at_us: when it ended, if not now (a
        camera handed over to another worker ended when it stopped, not when this is stored)."""
        if not status or len(status) > 32:
            raise ValueError(f"run status must be 1-32 characters, got {status!r}")

        def attempt() -> None:
            now = to_us_now() if at_us is None else int(at_us)
            with self.engine.begin() as conn:
                done = conn.execute(sa.update(runs).where(runs.c.id == run_id).values(
                    status=sa.case((runs.c.status == "replaced", runs.c.status), else_=sa.literal(status)),
                    frames=int(frames), error=error, finished_us=now, heartbeat_us=now))
                if done.rowcount == 0:
                    raise StoreError(f"run {run_id} does not exist in {self.url}")

        self._retry(attempt, f"finishing run {run_id}")
        with self._lock:
            self._open_runs.discard(run_id)

    def reconcile(self) -> int:
        """Mark runs still 'running' whose heartbeat is older than stale_after 'interrupted'
        (their process died: kill -9, power loss); returns how many. Runs begun by this
        Store are left alone. Called on open and by begin_run; it only writes when it finds
        such runs, so opening a read-only database to query it still works."""
        def attempt() -> int:
            now = to_us_now()
            seen = sa.func.coalesce(runs.c.heartbeat_us, runs.c.started_us)
            stale = [runs.c.status == "running", seen < now - int(self.stale_after * 1e6)]
            mine = self._running_here()
            if mine:
                stale.append(runs.c.id.not_in(mine))
            with self.engine.connect() as conn:
                if conn.execute(sa.select(runs.c.id).where(*stale).limit(1)).first() is None:
                    return 0
            with self.engine.begin() as conn:  # the conditions again: another Store may have beaten us to it
                return conn.execute(sa.update(runs).where(*stale).values(
                    status="interrupted", finished_us=seen,
                    error=f"no sign of life for {self.stale_after:g} s: the process stopped without "
                          "finishing the run; its counts are partial")).rowcount

        n = self._retry(attempt, "marking dead runs interrupted")
        if n:
            log.warning("%d run(s) left running by a stopped process marked interrupted", n,
                        extra={"event": "runs_interrupted", "runs": n})
        return n

    def incomplete_runs(self, camera: str | None = None, since=None, until=None, tz: str = "UTC") -> list[dict]:
        """Runs whose counts are partial (status interrupted, failed or error) with events in
        [since, until) (aware datetimes or ISO 8601; naive = in tz), for flagging counts:
        {id, camera, kind, source, status, error, started, last_seen, first_event,
        last_event, events}. A run without events is listed only when no range is given."""
        zone = parse_tz(tz)
        since_dt, until_dt = parse_time(since, zone, "since"), parse_time(until, zone, "until")
        first, last, n = sa.func.min(events.c.t_us), sa.func.max(events.c.t_us), sa.func.count(events.c.id)
        q = (sa.select(runs.c.id, runs.c.camera_id, runs.c.kind, runs.c.source, runs.c.status, runs.c.error,
                       runs.c.started_us, runs.c.heartbeat_us, first, last, n)
             .select_from(runs.outerjoin(events, events.c.run_id == runs.c.id))
             .where(runs.c.status.in_(INCOMPLETE)).group_by(runs.c.id).order_by(runs.c.id))
        if camera is not None:
            q = q.where(runs.c.camera_id == camera)
        if since_dt is not None:
            q = q.having(last >= to_us(since_dt))
        if until_dt is not None:
            q = q.having(first < to_us(until_dt))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()

        def t(us):
            return None if us is None else from_us(us)
        return [{"id": r[0], "camera": r[1], "kind": r[2], "source": r[3], "status": r[4], "error": r[5],
                 "started": t(r[6]), "last_seen": t(r[7]), "first_event": t(r[8]), "last_event": t(r[9]),
                 "events": r[10]} for r in rows]

    def runs(self, camera: str | None = None) -> list[dict]:
        q = sa.select(runs).order_by(runs.c.id)
        if camera is not None:
            q = q.where(runs.c.camera_id == camera)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- writing ---------------------------------------------------------------------------------
    def writer(self, flush_interval: float = 1.0, **kw) -> EventWriter:
        """A background writer: put() queues, a thread commits a batch every flush_interval s
        and keeps this store's open runs alive (heartbeat). See EventWriter for the contract."""
        if self.retention is not None:
            kw.setdefault("maintenance", self.retention.step)
        return EventWriter(self.engine, self._series, flush_interval, spill_dir=self.spill_dir,
                           active_runs=self._running_here, url=self.url, outbox=self.outbox,
                           on_commit=self.on_commit, **kw)

    def write(self, run_id: int, events: list[CountEvent]) -> int:
        """Write events now, in one transaction (for tests and small tools). Events of a
        replaced run are dropped; returns how many were stored."""
        for e in events:
            check_event(e)
        done = write_events(self.engine, self._series, ((run_id, e) for e in events), outbox=self.outbox)
        if done.missing:
            raise StoreError(f"run {run_id} does not exist in {self.url}; its events were not stored")
        return done.stored

    def import_spilled(self) -> int:
        """Store the events writers saved to spill files (database unreachable when they
        closed) and delete the files; returns how many events were stored. Each batch is
        stored at most once however often this runs, even by two processes at once. Events the
        database refuses are logged and kept as `*.refused.jsonl.failed`, a file that cannot be
        read as `*.jsonl.failed` (see store_spill_file); an outage, or a disk too full to keep
        refused events, leaves the files for the next open. Outbox rows are queued as the file
        says its writer did, whatever this Store's `outbox` (a `vigil counts` importing a daemon's
        file must not leave its events undelivered); `outbox` only serves files without the flag."""
        stored = 0
        for path in spill.pending_files(self.spill_dir):
            try:
                stored += store_spill_file(self.engine, self._series, path, self.outbox, attempt=self._retry).new
            except (StoreError, OSError) as exc:
                log.warning("spilled events in %s not stored yet: %s", path, exc)
                break
        return stored

    def rebuild_aggregates(self) -> None:
        """Recompute all pre-aggregated counts from the events (after a bulk load or to repair),
        and from what retention recorded of replays' pruned events. Counts of pruned events of
        live runs (no content hash) are not recorded: over a range retention pruned, a rebuild
        loses them."""
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
        """Rows {id, run_id, camera, kind, name, class_name, direction, track_id, time, dwell_s, speed_kmh},
        oldest first; after=(t_us, id) starts after that event (see vigil.store.public cursors)."""
        return queries.list_events(self.engine, queries.filters_of(filters, filter_kw), limit, run_id, after,
                                   timeout_s)

    def od(self, filters: queries.Filters | None = None, by: str | None = None, max_rows: int | None = None,
           timeout_s: float | None = None, **filter_kw) -> list[dict]:
        """Turning movements: {camera, origin, destination, class, [bucket], count} (vigil.store.traffic)."""
        from vigil.store.traffic import od_counts

        return od_counts(self.engine, queries.filters_of(filters, filter_kw), by, max_rows, timeout_s)

    def speeds(self, filters: queries.Filters | None = None, bin_kmh: float = 10.0, by: str | None = None,
               timeout_s: float | None = None, **filter_kw) -> list[dict]:
        """Speed histogram of line events: {camera, line, class, direction, [bucket], speed_from,
        speed_to, count} (vigil.store.traffic)."""
        from vigil.store.traffic import speed_histogram

        return speed_histogram(self.engine, queries.filters_of(filters, filter_kw), bin_kmh, by, timeout_s)

    def resolve_class(self, filters: queries.Filters, vocab: ClassVocab | None = None) -> queries.Filters:
        """filters with a mistyped class refused and a group name expanded (queries.resolve_class);
        vocab: the pipeline's classes, when the caller knows the site."""
        return queries.resolve_class(self.engine, filters, vocab)

    def cameras(self) -> list[dict]:
        return queries.list_cameras(self.engine)

    def with_snapshots(self, event_ids: list[int]) -> set[int]:
        """Which of these events kept a JPEG crop (one query for a page of events)."""
        if not event_ids:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(snapshots.c.event_id)
                                    .where(snapshots.c.event_id.in_([int(i) for i in event_ids]))).scalars())

    def snapshot(self, event_id: int) -> bytes | None:
        """The JPEG crop kept for this event (site `snapshots:` enabled), or None when there is none."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(snapshots.c.jpeg).where(snapshots.c.event_id == int(event_id))).scalar()

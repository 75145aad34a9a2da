"""The one writer thread: events are queued by put() and written in batches, one
transaction per batch (events + series + aggregates), every flush_interval seconds or on
flush(). A failed batch is never dropped silently: the error is raised by the next put,
flush or close; batches that failed on a connection problem are kept and retried."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from vigil.store.aggregates import add_minute_counts, insert_ignore
from vigil.store.schema import cameras, events, series
from vigil.store.timebuckets import to_us
from vigil.types import CountEvent

SeriesKey = tuple[str, str, str, str, str]  # camera, kind, name, class, direction
_KINDS = ("line", "zone")
_DIRECTIONS = ("in", "out")


def check_event(ev: CountEvent) -> None:
    if not isinstance(ev, CountEvent):
        raise TypeError(f"expected CountEvent, got {type(ev).__name__}")
    if ev.kind not in _KINDS:
        raise ValueError(f"CountEvent.kind must be 'line' or 'zone', got {ev.kind!r}")
    if ev.direction not in _DIRECTIONS:
        raise ValueError(f"CountEvent.direction must be 'in' or 'out', got {ev.direction!r}")
    if ev.time.tzinfo is None:
        raise ValueError(f"CountEvent.time must be timezone-aware (UTC), got naive {ev.time!r}")


class SeriesIds:
    """(camera, kind, name, class, direction) -> series id, cached. Ids are only cached once
    the transaction that created them has committed (see `commit`)."""

    def __init__(self) -> None:
        self._ids: dict[SeriesKey, int] = {}
        self._lock = threading.Lock()

    def resolve(self, conn: sa.Connection, keys: set[SeriesKey]) -> dict[SeriesKey, int]:
        with self._lock:
            found = {k: self._ids[k] for k in keys if k in self._ids}
        missing = keys - found.keys()
        if missing:
            cams = sorted({k[0] for k in missing})
            insert_ignore(conn, cameras, [{"id": c, "created_us": to_us_now()} for c in cams])
            cols = ("camera_id", "kind", "name", "class_name", "direction")
            insert_ignore(conn, series, [dict(zip(cols, k)) for k in sorted(missing)])
            rows = conn.execute(sa.select(series.c.id, *[series.c[c] for c in cols])
                                .where(series.c.camera_id.in_(cams))).all()
            found.update({tuple(r[1:]): r[0] for r in rows if tuple(r[1:]) in missing})
        return found

    def commit(self, ids: dict[SeriesKey, int]) -> None:
        with self._lock:
            self._ids.update(ids)

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()


def to_us_now() -> int:
    return time.time_ns() // 1000


def write_events(engine: sa.Engine, ids: SeriesIds, batch: Iterable[tuple[int, CountEvent]]) -> int:
    """Write (run_id, event) pairs and their aggregates in one transaction."""
    batch = list(batch)
    if not batch:
        return 0
    keys = {(e.camera_id, e.kind, e.name, e.class_name, e.direction) for _, e in batch}
    with engine.begin() as conn:
        sid = ids.resolve(conn, keys)
        rows, minutes = [], Counter()
        for run_id, e in batch:
            s = sid[(e.camera_id, e.kind, e.name, e.class_name, e.direction)]
            t = to_us(e.time)
            rows.append({"run_id": run_id, "series_id": s, "track_id": int(e.track_id), "t_us": t,
                         "dwell_s": None if e.dwell_s is None else float(e.dwell_s)})
            minutes[(s, t // 60_000_000 * 60)] += 1
        conn.execute(events.insert(), rows)
        add_minute_counts(conn, minutes)
    ids.commit(sid)
    return len(rows)


def _retryable(exc: BaseException) -> bool:
    """Connection-level failures (server down, database locked) are worth retrying."""
    return isinstance(exc, sa.exc.OperationalError) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated)


class EventWriter:
    """Batched, thread-safe event writer. Use `Store.writer()` to get one."""

    def __init__(self, engine: sa.Engine, ids: SeriesIds, flush_interval: float = 1.0) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0 seconds")
        self._engine, self._ids, self._interval = engine, ids, float(flush_interval)
        self._cond = threading.Condition()
        self._pending: list[tuple[int, CountEvent]] = []
        self._first_pending_at: float | None = None
        self._put_seq = 0         # events accepted so far
        self._tried_seq = 0       # events covered by the latest finished write attempt
        self._attempt_error: BaseException | None = None  # outcome of that attempt
        self._attempts = 0
        self._error: BaseException | None = None          # not yet raised to the user
        self._flush_wanted = False
        self._stopping = False
        self._closed = False
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="vigil-event-writer", daemon=True)
        self._thread.start()

    # -- caller side -------------------------------------------------------------------------
    def _raise_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def put(self, run_id: int, events_: list[CountEvent]) -> None:
        """Queue events of one run; returns at once. An earlier batch's error is raised
        after these events are queued, so the caller's events are never the ones lost."""
        for e in events_:
            check_event(e)
        with self._cond:
            if self._closed:
                raise RuntimeError("EventWriter is closed")
            if events_:
                if not self._pending:
                    self._first_pending_at = time.monotonic()
                self._pending.extend((int(run_id), e) for e in events_)
                self._put_seq += len(events_)
            self._raise_error()

    def flush(self) -> None:
        """Block until everything put so far is committed (or raise why it was not)."""
        with self._cond:
            self._raise_error()
            target = self._put_seq
            if self._tried_seq >= target and self._attempt_error is None:
                return
            while True:
                attempt = self._attempts
                self._flush_wanted = True
                self._cond.notify_all()
                while self._attempts == attempt and self._thread.is_alive():
                    self._cond.wait(0.5)  # the timeout only guards against a dead thread
                if self._attempt_error is not None:
                    self._error = None  # reported here, not again on the next call
                    raise self._attempt_error
                if self._tried_seq >= target:
                    return
                if not self._thread.is_alive():
                    raise RuntimeError("EventWriter thread stopped before writing all events")

    def close(self) -> None:
        """Flush and stop the thread. Calling it again does nothing."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        try:
            self.flush()
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            self._thread.join()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writer thread -----------------------------------------------------------------------
    def _due(self) -> bool:
        if not self._pending:
            return False
        return self._flush_wanted or self._stopping or (
            time.monotonic() - self._first_pending_at >= self._interval)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._stopping:
                        return
                    if self._flush_wanted:  # nothing pending: an earlier failure is being re-flushed
                        self._flush_wanted = False
                        self._tried_seq, self._attempt_error = self._put_seq, None
                        self._attempts += 1
                        self._cond.notify_all()
                        continue
                    timeout = None if not self._pending else max(
                        0.0, self._interval - (time.monotonic() - self._first_pending_at))
                    self._cond.wait(timeout if timeout is not None else self._interval)
                batch, self._pending = self._pending, []
                seq, self._flush_wanted = self._put_seq, False
            error = None
            try:
                self.written += write_events(self._engine, self._ids, batch)
            except Exception as exc:  # noqa: BLE001 - handed to the caller, never swallowed
                error = exc
            with self._cond:
                if error is not None:
                    self._error = error
                    if _retryable(error) and not self._stopping:
                        self._pending[:0] = batch  # keep for the next attempt
                        self._first_pending_at = time.monotonic()
                self._attempt_error = error
                self._tried_seq = seq
                self._attempts += 1
                self._cond.notify_all()

"""The one writer thread: events are queued by put() and written in batches, one
transaction per batch (events + series + aggregates + the runs' heartbeats), every
flush_interval seconds or on flush().

Contract: put() accepts the events and never raises for another batch's failure. A batch
that fails transiently (server restarting, connection lost, `database is locked`, disk
full) is kept and retried, in order, with capped backoff, until it commits; each batch
carries (writer id, sequence number), checked in its own transaction, so a retry after an
ambiguous failure (connection lost during COMMIT) never stores it twice. A batch the
database refuses (bad data) is split in halves until the bad events are isolated; those
are logged and counted in `rejected`, the rest is stored. flush() waits for durability;
close() gives a grace period, then saves what is left to a spill file (see spill.py).

A long outage neither grows memory nor risks what was counted: once writes have failed for
`spill_after` seconds, what waits (the batch being retried included) goes to a spill file,
and again every `spill_after` seconds. When the database answers, the writer stores its spill
files first, in sequence order (a later batch committed first would make them look already
stored), then what was put since. If the process dies meanwhile, the next open stores them."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from vigil.store import outbox as outbox_rows
from vigil.store import spill
from vigil.store.aggregates import add_minute_counts, insert_ignore
from vigil.store.engine import StoreError, first_line, is_transient
from vigil.store.schema import cameras, events, runs, series, snapshots, writers
from vigil.store.timebuckets import to_us
from vigil.types import CountEvent

log = logging.getLogger(__name__)

MAX_BATCH = 5000    # events per transaction, so a backlog after an outage goes in bounded steps
HEARTBEAT_S = 5.0   # how often a writer marks its store's open runs alive
MAX_BACKOFF_S = 2.0
SPILL_AFTER_S = 10.0  # an outage this long moves waiting events from memory to disk

SeriesKey = tuple[str, str, str, str, str]  # camera, kind, name, class, direction


def check_event(ev: CountEvent) -> None:
    """Only CountEvents: a CountEvent (frozen) checked its kind, direction and time when made."""
    if not isinstance(ev, CountEvent):
        raise TypeError(f"expected CountEvent, got {type(ev).__name__}")


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

@dataclass
class Written:
    stored: int = 0
    dropped: int = 0                                # events of replaced runs: never stored
    missing: set[int] = field(default_factory=set)  # run ids that do not exist
    duplicate: bool = False                         # this batch had already been committed


def _claim(conn: sa.Connection, token: tuple[str, int], now: int) -> bool:
    """Advance the writer's high-water mark to `seq`; False if a batch this far was committed."""
    wid, seq = token
    insert_ignore(conn, writers, [{"id": wid, "seq": -1, "updated_us": now}])
    return conn.execute(sa.update(writers).where(writers.c.id == wid, writers.c.seq < seq)
                        .values(seq=seq, updated_us=now)).rowcount == 1


def write_events(engine: sa.Engine, ids: SeriesIds, batch: Iterable[tuple[int, CountEvent]],
                 token: tuple[str, int] | None = None, outbox: bool = False) -> Written:
    """Write (run_id, event) pairs and their aggregates in one transaction. Events of a run
    marked `replaced` are dropped: the run rows are locked here and by begin_run (which
    replaces runs and deletes their events), so an event is either deleted with its run or
    never stored. `token` (writer id, seq): skip the batch if it was already committed.
    outbox: also queue each event for the outputs, in this same transaction (see outbox.py)."""
    with engine.begin() as conn:
        out, sid = _write(conn, ids, list(batch), token, outbox)
    ids.commit(sid)
    return out


def _write(conn: sa.Connection, ids: SeriesIds, batch: list[tuple[int, CountEvent]],
           token: tuple[str, int] | None, outbox: bool) -> tuple[Written, dict[SeriesKey, int]]:
    """write_events' work inside the caller's transaction; also returns the series ids it used,
    to cache once that transaction commits."""
    now = to_us_now()
    # On SQLite the first statement writes, so the write lock is taken before any read.
    if token is not None and not _claim(conn, token, now):
        return Written(duplicate=True), {}
    if not batch:
        return Written(), {}
    run_ids = sorted({r for r, _ in batch})
    if outbox and conn.dialect.name == "postgresql":
        _serialise_outbox(conn, sorted({e.camera_id for _, e in batch}))
    if conn.dialect.name == "postgresql":  # lock in id order: concurrent writers never deadlock
        conn.execute(sa.select(runs.c.id).where(runs.c.id.in_(run_ids)).order_by(runs.c.id).with_for_update())
    live = set(conn.execute(sa.update(runs).where(runs.c.id.in_(run_ids), runs.c.status != "replaced")
                            .values(heartbeat_us=now).returning(runs.c.id)).scalars())
    out = Written()
    if len(live) < len(run_ids):
        known = set(conn.execute(sa.select(runs.c.id).where(runs.c.id.in_(run_ids))).scalars())
        out.missing = set(run_ids) - known
        out.dropped = sum(1 for r, _ in batch if r in known and r not in live)
        batch = [(r, e) for r, e in batch if r in live]
    if not batch:
        return out, {}
    keys: set[SeriesKey] = {(e.camera_id, e.kind, e.name, e.class_name, e.direction) for _, e in batch}
    sid = ids.resolve(conn, keys)
    rows, minutes, jpegs = [], Counter[tuple[int, int]](), []
    for run_id, e in batch:
        s = sid[(e.camera_id, e.kind, e.name, e.class_name, e.direction)]
        t = to_us(e.time)
        rows.append({"run_id": run_id, "series_id": s, "track_id": int(e.track_id), "t_us": t,
                     "dwell_s": None if e.dwell_s is None else float(e.dwell_s),
                     "speed_kmh": None if e.speed_kmh is None else float(e.speed_kmh)})
        jpegs.append(e.snapshot)
        minutes[(s, t // 60_000_000 * 60)] += 1
    if outbox or any(j is not None for j in jpegs):
        # The new ids are needed for the outbox and for snapshots: RETURNING, in parameter order,
        # in the same transaction, so an event, its crop and its outbox row commit together.
        new_ids = conn.execute(events.insert().returning(events.c.id, sort_by_parameter_order=True),
                               rows).scalars().all()
        snaps = [{"event_id": i, "jpeg": j} for i, j in zip(new_ids, jpegs) if j is not None]
        if snaps:
            conn.execute(snapshots.insert(), snaps)
        if outbox:
            outbox_rows.add(conn, [{"camera_id": e.camera_id, "run_id": run_id, "event_id": i,
                                    "created_us": now} for (run_id, e), i in zip(batch, new_ids)])
    else:
        conn.execute(events.insert(), rows)
    add_minute_counts(conn, minutes)
    out.stored = len(rows)
    return out, sid


def _serialise_outbox(conn: sa.Connection, cams: list[str]) -> None:
    """PostgreSQL: writers queueing outbox rows for one camera take turns, so that its rows commit
    in id order (ids come from a sequence at INSERT time). The outputs read on from the last id
    they delivered; a row committed after a higher id had been read was never delivered.
    FOR NO KEY UPDATE on the cameras' rows, in id order, before the runs (begin_run locks the
    camera, then its runs, too): it leaves the foreign-key checks of runs and series inserts
    (FOR KEY SHARE) alone. SQLite needs nothing: one writer at a time holds the database."""
    lock = sa.select(cameras.c.id).where(cameras.c.id.in_(cams)).order_by(cameras.c.id).with_for_update(key_share=True)
    if len(conn.execute(lock).all()) < len(cams):  # a camera's first events: its row, then the lock
        insert_ignore(conn, cameras, [{"id": c, "created_us": to_us_now()} for c in cams])
        conn.execute(lock)


Refusals = tuple[Written, list[tuple[int, CountEvent]]]  # what a spilled batch stored, and the events refused


def store_spilled(engine: sa.Engine, ids: SeriesIds, token: tuple[str, int], batch: list[tuple[int, CountEvent]],
                  outbox: bool = False,
                  keep: Callable[[list[tuple[int, CountEvent]]], None] | None = None) -> Refusals:
    """Store one spilled batch under its own (writer id, seq); returns what was written and the
    events the database refused. A refused batch is not split into new batches (their numbers
    would pass later spilled batches, which would then be skipped as stored): its bad events
    are found in transactions rolled back, handed to keep() (saved) *before* the rest are stored
    under the batch's token, so a crash in between leaves the batch to be found again.
    Transient errors are raised for the caller to retry."""
    try:
        return write_events(engine, ids, batch, token, outbox), []
    except Exception as exc:  # noqa: BLE001 - only a refusal is handled here
        if is_transient(exc):
            raise

    def fits(part: list[tuple[int, CountEvent]]) -> bool:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                _write(conn, ids, part, None, outbox)
                return True
            except Exception as exc:  # noqa: BLE001 - a refusal marks the part bad
                if is_transient(exc):
                    raise
                return False
            finally:
                tx.rollback()

    def bad(part: list[tuple[int, CountEvent]]) -> list[tuple[int, CountEvent]]:
        if fits(part):
            return []
        if len(part) == 1:
            return part
        mid = len(part) // 2
        return bad(part[:mid]) + bad(part[mid:])

    refused = bad(batch)
    if refused and keep is not None:
        keep(refused)
    skip = {id(x) for x in refused}
    return write_events(engine, ids, [x for x in batch if id(x) not in skip], token, outbox), refused


@dataclass
class SpillStored:
    """What storing one spill file did."""
    events: list[tuple[int, CountEvent]] = field(default_factory=list)  # settled as written: stored now or before
    written: Written = field(default_factory=Written)  # totals as a writer counts them (a batch stored before counts)
    new: int = 0        # events this call stored
    refused: int = 0    # events the database refused, or the count of an unreadable file
    gone: bool = False  # no such file: another process stored it (every Store open imports spill files)


def _refused_path(path: Path, seq: int) -> Path:
    return path.with_name(f"{path.stem}.{seq}.refused.jsonl.failed")


def _keep_refused(path: Path, wid: str, seq: int, batch: list[tuple[int, CountEvent]],
                  outbox: bool | None) -> None:
    """Refused events saved beside the spill file, under their batch's token, before the rest of
    the batch is stored: the file itself goes when its last batch is done, and a batch a retry
    skips as stored must not take its refused events with it. They keep the file's outbox flag."""
    spill.save(path.parent, _refused_path(path, seq).name.removesuffix(".jsonl.failed"), [(wid, seq, batch)],
               suffix=".jsonl.failed", outbox=outbox)


def _kept_refused(path: Path, seq: int) -> list[tuple[int, CountEvent]]:
    """The events an earlier try saved as refused for batch `seq` (a batch now skipped as stored)."""
    try:
        return [x for _, _, b in spill.load(_refused_path(path, seq)) for x in b]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def store_spill_file(engine: sa.Engine, ids: SeriesIds, path: Path, outbox: bool = False, *, n_events: int = 0,
                     attempt: Callable[[Callable[[], Refusals], str], Refusals] | None = None) -> SpillStored:
    """Store every batch of one spill file, in order, each under its own (writer id, seq), then
    delete the file. Outbox rows are queued as each line says (the writer that spilled it had
    outputs or not), not as the importer's own `outbox`: that is only for lines without the flag.
    Events the database refuses are logged and saved at once to
    `<file>.<seq>.refused.jsonl.failed` (the rest stored); a file that cannot be read is kept as
    `*.jsonl.failed` (its n_events count as refused: retrying would block every later file).
    attempt(fn, what) runs each batch's store (default: once); a transient error or StoreError it
    raises leaves the file to store again, when the batches already stored are skipped."""
    out = SpillStored()
    try:
        batches = spill.load_flagged(path)
    except FileNotFoundError:
        out.gone = True
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        out.refused = n_events
        log.error("cannot read spill file %s (%s): its events are not stored; kept as %s.failed", path, exc,
                  path.name, extra={"event": "store_rejected"})
        try:
            path.replace(path.with_name(path.name + ".failed"))
        except FileNotFoundError:  # another process opening the store took it meanwhile
            pass
        return out
    for (wid, seq, batch), flag in batches:
        # A file from before the flag: the importer's own setting, as then (it may lack outbox rows).
        queue = outbox if flag is None else flag

        def store(b: list[tuple[int, CountEvent]] = batch, tok: tuple[str, int] = (wid, seq), q: bool = queue,
                  f: bool | None = flag) -> Refusals:
            return store_spilled(engine, ids, tok, b, q, keep=lambda refused: _keep_refused(path, *tok, refused, f))
        try:
            done, bad = (attempt or _once)(store, f"storing spilled events from {path}")
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, StoreError):
                raise
            # Refused even without the bad events store_spilled finds one by one: the batch is kept.
            out.refused += len(batch)
            log.error("%d spilled events in %s refused by the database: %s", len(batch), path, describe(exc),
                      extra={"event": "store_rejected"})
            _keep_refused(path, wid, seq, batch, flag)
            continue
        for _, e in bad:
            log.error("spilled event in %s refused by the database: %r", path, e, extra={"event": "store_rejected"})
        if done.duplicate:  # stored by an earlier try: what that try refused is in its side file
            kept = _kept_refused(path, seq)
            bad = [x for x in batch if x in kept]
        out.refused += len(bad)
        skip = {id(x) for x in bad}
        out.events += [x for x in batch if id(x) not in skip]
        out.new += done.stored
        out.written.stored += len(batch) - len(bad) if done.duplicate else done.stored
        out.written.dropped += done.dropped
        out.written.missing |= done.missing
    path.unlink(missing_ok=True)
    log.warning("stored %d spilled events from %s%s", out.new, path,
                f"; {out.refused} refused, kept in {path.stem}.*.refused.jsonl.failed" if out.refused else "",
                extra={"event": "store_unspilled"})
    return out


def _once(fn: Callable[[], Refusals], what: str) -> Refusals:
    return fn()


def describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {first_line(exc)}"


Batch = tuple[int, list[tuple[int, CountEvent]]]  # sequence number, (run id, event)


class EventWriter:
    """Batched, thread-safe event writer that rides out database outages. Use `Store.writer()`.

    Health, for status pages and metrics: `pending` (events accepted, not yet committed),
    `healthy` (the last attempt succeeded), `last_error`, `failures` (failed attempts),
    `written`, `dropped` (events of replaced runs), `rejected` (refused by the database)."""

    def __init__(self, engine: sa.Engine, ids: SeriesIds, flush_interval: float = 1.0, *,
                 spill_dir: Path | None = None, active_runs: Callable[[], Iterable[int]] = tuple,
                 url: str = "", max_backoff: float = MAX_BACKOFF_S, heartbeat: float = HEARTBEAT_S,
                 maintenance: Callable[[], object] | None = None, outbox: bool = False,
                 on_commit: Callable[[], None] | None = None, spill_after: float = SPILL_AFTER_S) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0 seconds")
        self._engine, self._ids, self._interval = engine, ids, float(flush_interval)
        self._spill_dir, self._active_runs, self._url = spill_dir, active_runs, url or str(engine.url)
        self._max_backoff, self._heartbeat, self._spill_after = max_backoff, heartbeat, spill_after
        self._maintenance = maintenance  # e.g. Retention.step: a bounded slice of work at each heartbeat
        self._outbox = outbox  # the site has outputs: queue every stored event for them
        self._on_commit = on_commit  # e.g. wake the outputs' delivery instead of having it poll
        self.id = str(uuid.uuid4())
        self._cond = threading.Condition()
        self._pending: list[tuple[int, CountEvent]] = []  # accepted, not yet in a batch
        self._first_pending_at = 0.0
        self._front: deque[list[tuple[int, CountEvent]]] = deque()  # halves of a refused batch
        self._current: Batch | None = None  # the batch being written, retried until it settles
        self._seq = 0
        self._accepted = 0      # events put so far
        self._settled = 0       # events committed, dropped or rejected, in put order
        self._flush_target = 0  # a flush is waiting for _settled to reach this
        self._failing_since: float | None = None
        self._spilled: deque[tuple[Path, int]] = deque()  # this writer's spill files still to store, in order
        self._last_spill = 0.0
        self.spilled = 0  # events moved to disk during outages so far
        self._closed = self._stopping = self._abandoned = False
        self.written = self.dropped = self.rejected = self.failures = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="vigil-event-writer", daemon=True)
        self._thread.start()

    # -- caller side -------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._accepted - self._settled

    @property
    def healthy(self) -> bool:
        return self._failing_since is None and self._thread.is_alive()

    def put(self, run_id: int, events_: list[CountEvent]) -> None:
        """Queue events of one run; returns at once. Raises only for bad events (TypeError,
        ValueError) or a closed writer, never for the database."""
        for e in events_:
            check_event(e)
        with self._cond:
            if self._closed:
                raise RuntimeError("EventWriter is closed")
            if events_:
                if not self._pending:
                    self._first_pending_at = time.monotonic()
                self._pending.extend((int(run_id), e) for e in events_)
                self._accepted += len(events_)
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything put so far is committed (or dropped/rejected, see the class
        doc); None waits as long as it takes. StoreError naming the cause after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._accepted
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            while self._settled < target:
                if not self._thread.is_alive():
                    raise StoreError(f"event writer for '{self._url}' stopped with {target - self._settled} "
                                     "events not stored")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise StoreError(f"{target - self._settled} events not yet stored in '{self._url}' "
                                     f"after {timeout:g} s: {self.last_error or 'still writing'}")
                self._cond.wait(0.5 if left is None else min(left, 0.5))

    def close(self, timeout: float = 30.0) -> None:
        """Flush, waiting up to `timeout` s for an unreachable database, and stop the thread.
        If events are still not stored then, they are saved to the spill file (stored when
        the Store next opens) and StoreError says how many and where. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        try:
            self.flush(timeout)
        except StoreError as exc:
            self._abandon(exc)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _abandon(self, cause: StoreError) -> None:
        with self._cond:  # from here the thread starts nothing new; an attempt under way may
            self._abandoned = True  # still commit, and its sequence number keeps the import from doubling it
            self._cond.notify_all()
            left = [self._current] if self._current else []
            for chunk in [*self._front, *(self._pending[i:i + MAX_BATCH]
                                          for i in range(0, len(self._pending), MAX_BATCH))]:
                self._seq += 1
                left.append((self._seq, chunk))
            n = sum(len(b) for _, b in left)
            self._pending, self._settled = [], self._accepted  # from here they are the spill file's
            self._front.clear()
        if n == 0 and not self._spilled:  # everything settled after all, just as the flush gave up
            return
        why = self.last_error or str(cause)
        if n == 0:
            files = ", ".join(str(p) for p, _ in self._spilled)
            raise StoreError(f"{sum(k for _, k in self._spilled)} events were not stored in '{self._url}' ({why}); "
                             f"saved to {files}, they are stored when the database is next opened") from None
        if self._spill_dir is None:
            raise StoreError(f"{n} events were not stored in '{self._url}' ({why}) and are lost: "
                             "an in-memory database has no spill file") from None
        try:
            path = spill.save(self._spill_dir, self.id, [(self.id, seq, b) for seq, b in left], outbox=self._outbox)
        except OSError as exc:
            raise StoreError(f"{n} events were not stored in '{self._url}' ({why}), and saving them "
                             f"to {self._spill_dir} failed too: {exc}") from None
        log.error("%d events not stored (%s); saved to %s", n, why, path,
                  extra={"event": "store_spill", "events": n})
        raise StoreError(f"{n} events were not stored in '{self._url}' ({why}); saved to {path}, "
                         "they are stored when the database is next opened") from None

    # -- writer thread -----------------------------------------------------------------------
    def _next_batch(self, now: float) -> Batch | None:
        if self._front:
            chunk = self._front.popleft()
        elif self._pending and (self._flush_target > self._settled or self._stopping
                                or now - self._first_pending_at >= self._interval):
            chunk, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        else:
            return None
        self._seq += 1  # numbered when first tried: commits happen in sequence order
        return self._seq, chunk

    def _run(self) -> None:
        retry_at, delay, last_beat = 0.0, 0.0, time.monotonic()
        batch: Batch | None
        while True:
            with self._cond:
                while True:
                    if self._abandoned:
                        return
                    now = time.monotonic()
                    if self._should_spill(now):
                        self._spill(now)
                    if self._spilled and now >= retry_at:
                        batch = None
                        break
                    if self._current is None and not self._spilled:
                        self._current = self._next_batch(now)
                    if self._current is not None and now >= retry_at:
                        batch = self._current
                        break
                    if self._current is None and not self._spilled and self._stopping:
                        return
                    if now - last_beat >= self._heartbeat:
                        batch = None  # time for a heartbeat
                        break
                    wake = last_beat + self._heartbeat
                    if self._current is not None or self._spilled:
                        wake = min(wake, retry_at)
                    if self._failing_since is not None and (self._current or self._front or self._pending):
                        wake = min(wake, max(self._failing_since, self._last_spill) + self._spill_after)
                    elif self._pending:
                        wake = min(wake, self._first_pending_at + self._interval)
                    self._cond.wait(max(0.001, wake - now))
            if batch is None and self._spilled and time.monotonic() >= retry_at:
                try:
                    self._unspill()
                except Exception as exc:  # noqa: BLE001 - only transient errors come here: retried
                    with self._cond:
                        delay = min(max(2 * delay, 0.05), self._max_backoff)
                        retry_at = time.monotonic() + delay
                        self._failed(exc)
                else:
                    delay = 0.0
                continue
            if batch is None:
                self._beat()
                self._maintain()
                last_beat = time.monotonic()
                continue
            seq, chunk = batch
            try:
                result = write_events(self._engine, self._ids, chunk, token=(self.id, seq), outbox=self._outbox)
            except Exception as exc:  # noqa: BLE001 - sorted into retry / split below, and reported
                with self._cond:
                    if is_transient(exc):
                        delay = min(max(2 * delay, 0.05), self._max_backoff)
                        retry_at = time.monotonic() + delay
                        self._failed(exc)
                    else:
                        self._refused(chunk, exc)
                    self._cond.notify_all()
                continue
            with self._cond:
                delay = 0.0
                self._settle(chunk, result)
                self._cond.notify_all()
            if self._on_commit is not None and result.stored:
                self._on_commit()

    def _should_spill(self, now: float) -> bool:
        return (self._failing_since is not None and self._spill_dir is not None and not self._abandoned
                and now - max(self._failing_since, self._last_spill) >= self._spill_after
                and bool(self._current or self._front or self._pending))

    def _spill(self, now: float) -> None:
        """Move every waiting event to a new spill file (under the lock: put() waits for one fsync).
        The batch being retried keeps its number; the rest are numbered after it, so the file holds
        the next batches in sequence and nothing newer can be committed before it."""
        left = [self._current] if self._current else []
        chunks = [*self._front, *(self._pending[i:i + MAX_BATCH] for i in range(0, len(self._pending), MAX_BATCH))]
        numbered = [*left, *((self._seq + k + 1, c) for k, c in enumerate(chunks))]
        n = sum(len(b) for _, b in numbered)
        name = f"{self.id}-{numbered[0][0]:09d}"  # sorts before the close-time file `<id>.jsonl`, as it must
        assert self._spill_dir is not None
        try:
            path = spill.save(self._spill_dir, name, [(self.id, seq, b) for seq, b in numbered], outbox=self._outbox)
        except OSError as exc:  # the disk is gone too: keep them in memory, try again later
            self._last_spill = now
            log.error("could not save %d waiting events to %s: %s", n, self._spill_dir, exc,
                      extra={"event": "store_spill"})
            return
        self._seq += len(chunks)
        self._current, self._pending = None, []
        self._front.clear()
        self._spilled.append((path, n))
        self._last_spill = now
        self.spilled += n
        log.warning("database unreachable for %.0f s: %d waiting events saved to %s; stored from there when it "
                    "answers", now - self._failing_since if self._failing_since else 0.0, n, path,
                    extra={"event": "store_spill", "events": n})

    def _unspill(self) -> None:
        """Store this writer's oldest spill file (outside the lock; put() goes on), as
        store_spill_file does: a transient error leaves the file to retry; events refused, or a
        file that cannot be read, are counted in `rejected`."""
        with self._cond:
            path, n = self._spilled[0]
        done = store_spill_file(self._engine, self._ids, path, self._outbox, n_events=n)
        with self._cond:
            self._spilled.popleft()
            if done.gone:
                self._settled += n
            else:
                self._settle(done.events, done.written)
                self.rejected += done.refused
                self._settled += done.refused
            self._cond.notify_all()
        if self._on_commit is not None and done.written.stored:
            self._on_commit()

    def _settle(self, chunk, result: Written) -> None:
        if self._failing_since is not None:
            log.warning("database writes resumed after %.1f s", time.monotonic() - self._failing_since,
                        extra={"event": "store_resumed"})
            self._failing_since = None
        self._current = None
        self.written += len(chunk) if result.duplicate else result.stored
        self.dropped += result.dropped
        if result.missing:
            n = sum(1 for r, _ in chunk if r in result.missing)
            self.rejected += n
            self.last_error = f"run(s) {sorted(result.missing)} do not exist"
            log.error("%d events rejected: %s", n, self.last_error, extra={"event": "store_rejected"})
        self._settled += len(chunk)

    def _failed(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = describe(error)
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("database write failed, retrying: %s (%d events pending)", self.last_error,
                        self.pending, extra={"event": "store_error"})

    def _refused(self, chunk, error: BaseException) -> None:
        """The database refused the batch (bad data): find the bad events by halving it."""
        self.failures += 1
        self.last_error = describe(error)
        self._failing_since = None  # the database answered: it is up
        self._current = None
        if len(chunk) > 1:
            mid = len(chunk) // 2
            self._front.extendleft([chunk[mid:], chunk[:mid]])
            return
        self.rejected += 1
        self._settled += 1
        log.error("event rejected by the database: %s (%r)", self.last_error, chunk[0][1],
                  extra={"event": "store_rejected"})

    def _maintain(self) -> None:
        if self._maintenance is None:
            return
        try:
            self._maintenance()
        except Exception as exc:  # noqa: BLE001 - housekeeping never stops the writes; tried again next beat
            log.warning("database maintenance failed: %s", describe(exc), extra={"event": "store_maintenance"})

    def _beat(self) -> None:
        """Mark this store's open runs alive, so other processes do not take them for dead."""
        run_ids = sorted(self._active_runs())
        if not run_ids:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.update(runs).where(runs.c.id.in_(run_ids), runs.c.status == "running")
                             .values(heartbeat_us=to_us_now()))
        except Exception as exc:  # noqa: BLE001 - the next batch or beat retries; writes report outages
            log.debug("heartbeat failed: %s", describe(exc))

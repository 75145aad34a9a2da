"""Count and event queries.

`counts` reads the coarsest aggregate level that is exact for the request: the bucket size
must be a multiple of the level, and so must every UTC offset the time zone takes in the
queried range (hour level for whole-hour zones, 15-minute level for e.g. Asia/Kolkata).
Range ends that are not aligned to that level are filled from the next finer level, down to
the raw events for the sub-minute edges, so any since/until is exact.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo

import sqlalchemy as sa

from vigil.classes import DEFAULT_VOCAB, ClassVocab, canonical
from vigil.store.schema import LEVELS, aggregates, cameras, events, runs, series
from vigil.store.timebuckets import (
    BUCKETS,
    DAY,
    OffsetPlan,
    QueryError,
    bucket_key_expr,
    bucket_label,
    from_us,
    offset_plan,
    parse_bucket,
    parse_time,
    parse_tz,
    shown,
    sql_int,
    to_us,
)
from vigil.types import DIRECTIONS, EVENT_KINDS

US = 1_000_000
_CHOICES = {"kind": EVENT_KINDS, "direction": DIRECTIONS}  # the contract is vigil.types'


class TooManyRows(QueryError):
    """The answer would be larger than the caller allows (max_rows)."""


class QueryTimeout(QueryError):
    """The database took longer than the caller allows (timeout_s)."""


@dataclass(frozen=True)
class Filters:
    """Which events a query covers: the one filter contract of `Store.counts/events`, the CLI
    and the API. Build it with `Filters.parse` from user input."""

    camera: str | None = None
    name: str | None = None
    kind: str | None = None
    class_name: str | None = None
    direction: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    tz: tzinfo = UTC
    classes: tuple[str, ...] | None = None  # what a group in class_name stands for (resolve_class)

    @classmethod
    def parse(cls, camera=None, name=None, kind=None, class_name=None, direction=None,
              since=None, until=None, tz="UTC") -> Filters:
        for what, value in (("kind", kind), ("direction", direction)):
            if value is not None and value not in _CHOICES[what]:
                raise QueryError(f"{what} {shown(value)} is not one of {', '.join(_CHOICES[what])}")
        for what, value in (("camera", camera), ("name", name), ("class", class_name)):
            if isinstance(value, str) and "\x00" in value:  # PostgreSQL text cannot hold NUL
                raise QueryError(f"the {what} filter contains a NUL character; remove it")
        zone = parse_tz(tz)
        lo, hi = parse_time(since, zone, "since"), parse_time(until, zone, "until")
        if lo is not None and hi is not None and lo > hi:
            raise QueryError(f"since {lo.isoformat()} is after until {hi.isoformat()}; swap them")
        class_name = canonical(class_name) if class_name else None  # `--class Car` is car, as in the config
        return cls(camera or None, name or None, kind or None, class_name, direction or None,
                   None if lo is None else to_us(lo), None if hi is None else to_us(hi), zone)

    @property
    def series_filtered(self) -> bool:
        return any(v is not None for v in (self.camera, self.name, self.kind, self.class_name, self.direction))

    @property
    def class_set(self) -> tuple[str, ...] | None:
        """The class names the class filter matches (None: any class)."""
        return None if self.class_name is None else self.classes or (self.class_name,)

    @property
    def empty_range(self) -> bool:
        return self.since_us is not None and self.until_us is not None and self.since_us >= self.until_us


def _matching_series(conn: sa.Connection, f: Filters) -> dict[int, tuple]:
    q = sa.select(series.c.id, series.c.camera_id, series.c.kind, series.c.name, series.c.class_name,
                  series.c.direction)
    for col, value in (("camera_id", f.camera), ("kind", f.kind), ("name", f.name), ("direction", f.direction)):
        if value is not None:
            q = q.where(series.c[col] == value)
    return {r[0]: tuple(r[1:]) for r in conn.execute(class_where(q, f))}


def class_where(q, f: Filters):
    """The class filter: f.class_name is folded to lower case (Filters.parse); the stored name is
    folded too, so a series written while names kept their case still answers."""
    names = f.class_set
    return q if names is None else q.where(sa.func.lower(series.c.class_name).in_(names))


def resolve_class(engine: sa.Engine, f: Filters, vocab: ClassVocab | None = None) -> Filters:
    """f with its class filter checked. A class of Vigil's, of the pipeline (vocab) or one the
    store has series for passes as it is; a group name (vehicle, heavy, motor_vehicle, a
    detector.groups group) stands for its classes; anything else is a mistyped class, which
    would otherwise answer "nothing matches" as if there were no traffic: QueryError."""
    vocab = vocab or DEFAULT_VOCAB
    if f.class_name is None or f.class_name in vocab.names:  # most requests: no query needed
        return f
    groups = vocab.filter_groups  # no class may be named like a group (config validation)
    if f.class_name in groups:
        return replace(f, classes=groups[f.class_name])
    with engine.connect() as conn:
        stored = {canonical(c) for (c,) in conn.execute(sa.select(series.c.class_name).distinct())}
    known = set(vocab.names) | stored
    if f.class_name in known:
        return f
    raise QueryError(f"unknown class {shown(f.class_name)}; known classes: {', '.join(sorted(known))} "
                     f"(or a group: {', '.join(sorted(groups))})")


def _data_bounds_us(conn: sa.Connection) -> tuple[int | None, int | None]:
    """First and last counted time, from the events and from the hourly counts, which
    retention keeps after the events are gone (vigil/store/retention.py)."""
    hour = aggregates[LEVELS[-1]]
    row = conn.execute(sa.select(  # separate subqueries: each one is a single index probe
        sa.select(sa.func.min(events.c.t_us)).scalar_subquery(),
        sa.select(sa.func.max(events.c.t_us)).scalar_subquery(),
        sa.select(sa.func.min(hour.c.bucket_ts)).scalar_subquery(),
        sa.select(sa.func.max(hour.c.bucket_ts)).scalar_subquery())).one()
    lo, hi, hour_lo, hour_hi = row
    if hour_lo is not None and (lo is None or hour_lo * US < lo):
        lo = hour_lo * US
    if hour_hi is not None and hi is None:  # every event pruned: the last hour counted ends it
        hi = (hour_hi + LEVELS[-1]) * US - 1
    return lo, hi


def split_range(lo: int | None, hi: int | None, level: int) -> list[tuple[int, int | None, int | None]]:
    """Cover [lo, hi) (µs, None = open) with (level_s, lo, hi) pieces: the aligned middle at
    `level`, the unaligned ends at finer levels; level 0 is the raw events."""
    chain = [0] + [lv for lv in LEVELS if lv <= level]

    def rec(lo, hi, i):
        lv = chain[i]
        if lv == 0:
            return [(0, lo, hi)]
        u = lv * US
        a = None if lo is None else -(-lo // u) * u
        b = None if hi is None else hi // u * u
        if a is not None and b is not None and a >= b:
            return rec(lo, hi, i - 1)
        out = [(lv, a, b)]
        if lo is not None and lo < a:
            out = rec(lo, a, i - 1) + out
        if hi is not None and b < hi:
            out = out + rec(b, hi, i - 1)
        return out

    return [p for p in rec(lo, hi, len(chain) - 1) if p[1] is None or p[2] is None or p[1] < p[2]]


def choose_level(by: str | None, plan: OffsetPlan | None) -> int:
    """The coarsest aggregate level that is exact for these buckets (0: raw events only)."""
    for lv in reversed(LEVELS):
        if by is None:
            return lv
        size = BUCKETS[by]
        assert plan is not None  # bucketed queries always have an offset plan
        if (size is None or size % lv == 0) and plan.all_multiple_of(lv):
            return lv
    return 0


def _piece_query(level: int, lo: int | None, hi: int | None, by: str | None, plan: OffsetPlan | None,
                 sids: list[int] | None) -> sa.Select:
    ts: sa.ColumnElement
    n: sa.ColumnElement
    if level == 0:
        ts, n, sid_col, where_col, scale = events.c.t_us // sql_int(US), sa.func.count(), events.c.series_id, \
            events.c.t_us, 1
        grouped = True
    else:
        t = aggregates[level]
        ts, n, sid_col, where_col, scale = t.c.bucket_ts, t.c["count"], t.c.series_id, t.c.bucket_ts, US
        grouped = not (by is not None and BUCKETS[by] == level)  # rows are already the buckets
    cols: list[sa.ColumnElement] = [sid_col]
    if by is not None:
        assert plan is not None  # bucketed queries always have an offset plan
        cols.append(ts if not grouped and level else bucket_key_expr(ts, by, plan))
    total = sa.cast(sa.func.sum(n), sa.BigInteger) if grouped and level else n  # PostgreSQL: not numeric
    q = sa.select(*cols, total)
    if lo is not None:
        q = q.where(where_col >= sql_int(lo // scale))
    if hi is not None:
        q = q.where(where_col < sql_int(hi // scale))
    if sids is not None:
        q = q.where(sid_col.in_(sids))
    if grouped:
        q = q.group_by(*cols)
    return q


def filters_of(filters: Filters | None, keywords: dict) -> Filters:
    """A Filters given as one, or as Filters.parse keywords (camera=..., since=..., tz=...)."""
    if filters is None:
        return Filters.parse(**keywords)
    if keywords:
        raise TypeError(f"give a Filters or filter keywords, not both (got {sorted(keywords)})")
    return filters


@contextmanager
def reading(engine: sa.Engine, timeout_s: float | None = None) -> Iterator[sa.Connection]:
    """A connection whose statements give up after timeout_s with QueryTimeout: PostgreSQL's
    statement_timeout for this transaction only, SQLite a progress handler that interrupts it."""
    with engine.connect() as conn:
        if timeout_s is None:
            yield conn
            return
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection
        assert raw is not None  # a checked-out connection has its driver connection
        if sqlite:
            deadline = time.monotonic() + timeout_s
            raw.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        else:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}")
        try:
            yield conn
        except Exception as exc:
            orig = getattr(exc, "orig", None) or exc
            if (sqlite and "interrupted" in str(orig)) or getattr(orig, "sqlstate", None) == "57014":
                raise QueryTimeout(f"the query took longer than {timeout_s:g} s; narrow since/until, "
                                   "filter by camera, line or class, or use a coarser bucket") from None
            raise
        finally:
            if sqlite:
                raw.set_progress_handler(None, 0)


def _bucket_count(lo_us: int, hi_us: int, by: str) -> int:
    """At most how many `by` buckets [lo, hi) touches (local offsets shift a bucket by < 1)."""
    size = BUCKETS[by] or (DAY if by == "day" else 7 * DAY)
    return (hi_us - lo_us) // (size * US) + 2


def _too_many(max_rows: int) -> TooManyRows:
    return TooManyRows(f"the answer has more than {max_rows:,} rows, the most one query may return; narrow "
                       "since/until, filter by camera, line or class, or use a coarser bucket")


def counts(engine: sa.Engine, f: Filters, by: str | None = None, public: bool = False,
           max_rows: int | None = None, timeout_s: float | None = None) -> list[dict]:
    """Counts per (camera, kind, name, class, direction[, bucket]), ordered by bucket then key.
    public=True: rows in the CLI/API contract (see vigil.store.public), built directly.
    max_rows: raise TooManyRows rather than return more rows, or span more buckets, than this;
    the bucket check comes first, so an oversized request costs two index probes."""
    by = parse_bucket(by)
    if f.empty_range:
        return []
    with reading(engine, timeout_s) as conn:
        keys = _matching_series(conn, f)
        if not keys:
            return []
        sids = sorted(keys) if f.series_filtered else None
        plan = None
        if by is not None:
            if f.tz is UTC and max_rows is None:
                plan = OffsetPlan((0,), (0,))
            else:
                dlo, dhi = _data_bounds_us(conn)
                if dlo is None or dhi is None:  # no events at all
                    return []
                lo = dlo if f.since_us is None else max(dlo, f.since_us)
                hi = dhi + 1 if f.until_us is None else min(dhi + 1, f.until_us)
                if lo >= hi:
                    return []
                if max_rows is not None and _bucket_count(lo, hi, by) > max_rows:
                    raise TooManyRows(
                        f"{from_us(lo).isoformat()} to {from_us(hi).isoformat()} spans "
                        f"{_bucket_count(lo, hi, by):,} '{by}' buckets, more than the {max_rows:,} rows one "
                        "query may return; narrow since/until or use a coarser bucket")
                plan = offset_plan(f.tz, lo // US, -(-hi // US))
        pieces = split_range(f.since_us, f.until_us, choose_level(by, plan))
        results = []
        for level, piece_lo, piece_hi in pieces:
            q = _piece_query(level, piece_lo, piece_hi, by, plan, sids)
            results.append(_fetch(conn, q if max_rows is None else q.limit(max_rows + 1)))
            if max_rows is not None and len(results[-1]) > max_rows:  # a piece's rows all reach the answer
                raise _too_many(max_rows)
    rows = _count_rows(results, keys, by, f.tz, public)
    if max_rows is not None and len(rows) > max_rows:
        raise _too_many(max_rows)
    return rows


def _fetch(conn: sa.Connection, q: sa.Select) -> list[tuple]:
    """All rows as plain tuples straight from the driver: for tens of thousands of bucket
    rows SQLAlchemy's Row objects cost more than the query. Every value in these queries
    is an inlined integer, so compiling with literal binds is safe."""
    sql = str(q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw = conn.connection.driver_connection
    assert raw is not None  # a checked-out connection has its driver connection
    cur = raw.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


def _count_rows(results: list[list[tuple]], keys: dict[int, tuple], by: str | None, tz: tzinfo,
                public: bool) -> list[dict]:
    if len(results) == 1:
        merged = results[0]  # one piece: each (series[, key]) appears once already
    else:
        totals: Counter = Counter()
        for rows in results:
            for row in rows:
                totals[row[:-1]] += row[-1]
        merged = [(*k, n) for k, n in totals.items() if n]
    order = sorted(keys, key=keys.__getitem__)
    rank = {sid: i for i, sid in enumerate(order)}
    if public:
        base = {sid: {"camera": c, k: n, "class": cls, "direction": d} for sid, (c, k, n, cls, d) in keys.items()}
    else:
        base = {sid: dict(zip(("camera", "kind", "name", "class_name", "direction"), keys[sid])) for sid in order}
    if by is None:
        merged = sorted(merged, key=lambda r: rank[r[0]])
        return [{**base[sid], "count": n} for sid, n in merged]
    # One integer sort key (bucket, then series rank): much cheaper than a tuple per row.
    width = len(order)
    merged = sorted(merged, key=lambda r: r[1] * width + rank[r[0]])
    starts = {b: bucket_label(b, by, tz) for b in {r[1] for r in merged}}
    labels: dict[int, object] = {b: t.isoformat() for b, t in starts.items()} if public else dict(starts)
    return [{**base[sid], "bucket": labels[b], "count": n} for sid, b, n in merged]


def list_events(engine: sa.Engine, f: Filters, limit: int | None = 1000, run_id: int | None = None,
                after: tuple[int, int] | None = None, timeout_s: float | None = None) -> list[dict]:
    """Events in time order (oldest first, then by id); times are aware datetimes in `tz`.
    after=(t_us, id): only events after that one in this order (the next page)."""
    if limit is not None and limit < 0:
        raise QueryError(f"limit must be >= 0, got {limit}")
    if f.empty_range or limit == 0:
        return []
    with reading(engine, timeout_s) as conn:
        keys = _matching_series(conn, f)
        if not keys:
            return []
        q = sa.select(events.c.id, events.c.run_id, events.c.series_id, events.c.track_id, events.c.t_us,
                      events.c.dwell_s, events.c.speed_kmh).order_by(events.c.t_us, events.c.id)
        if f.series_filtered:
            q = q.where(events.c.series_id.in_(sorted(keys)))
        if f.since_us is not None:
            q = q.where(events.c.t_us >= f.since_us)
        if f.until_us is not None:
            q = q.where(events.c.t_us < f.until_us)
        if after is not None:  # written so the time index serves it as a range
            q = q.where(events.c.t_us >= after[0], sa.or_(events.c.t_us > after[0], events.c.id > after[1]))
        if run_id is not None:
            q = q.where(events.c.run_id == run_id)
        if limit is not None:
            q = q.limit(limit)
        rows = conn.execute(q).all()
    out = []
    for eid, rid, sid, track, t, dwell, speed in rows:
        cam, knd, nm, cls, d = keys[sid]
        out.append({"id": eid, "run_id": rid, "camera": cam, "kind": knd, "name": nm, "class_name": cls,
                    "direction": d, "track_id": track, "time": from_us(t, f.tz), "dwell_s": dwell,
                    "speed_kmh": speed})
    return out


def list_cameras(engine: sa.Engine) -> list[dict]:
    """Cameras with their lines, zones, classes seen and runs."""
    with engine.connect() as conn:
        cams = conn.execute(sa.select(cameras.c.id, cameras.c.created_us).order_by(cameras.c.id)).all()
        names: dict[str, dict[str, set]] = {}
        for cam, knd, nm, cls in conn.execute(sa.select(series.c.camera_id, series.c.kind, series.c.name,
                                                          series.c.class_name)):
            d = names.setdefault(cam, {"line": set(), "zone": set(), "class": set()})
            d[knd].add(nm)
            d["class"].add(cls)
        run_stats = {r[0]: r[1:] for r in conn.execute(
            sa.select(runs.c.camera_id, sa.func.count(), sa.func.max(runs.c.started_us))
            .where(runs.c.status != "replaced").group_by(runs.c.camera_id))}
    out = []
    for cam, created in cams:
        d = names.get(cam, {"line": set(), "zone": set(), "class": set()})
        n_runs, last = run_stats.get(cam, (0, None))
        out.append({"id": cam, "created": from_us(created), "lines": sorted(d["line"]),
                    "zones": sorted(d["zone"]), "classes": sorted(d["class"]), "runs": n_runs,
                    "last_run_started": None if last is None else from_us(last)})
    return out

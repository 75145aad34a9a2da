"""Traffic-study queries over stored events: turning movements (origin-destination counts)
and speed histograms per line.

Turning movements: a track's *passages* are its line crossings and zone entries, in time
order, within one run (track ids are per run). Its origin is the first, its destination the
last; a track with fewer than two passages made no movement and is left out (one with the
same first and last, a U-turn, is counted). The class is that of the last passage (the
tracker's vote by then) and the time bucket that of the first: studies tabulate movements by
when they entered the junction."""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import sqlalchemy as sa

from vigil.store.queries import US, Filters, TooManyRows, _data_bounds_us, class_where, reading
from vigil.store.schema import events, series
from vigil.store.timebuckets import (
    OffsetPlan,
    QueryError,
    bucket_key_expr,
    bucket_label,
    offset_plan,
    parse_bucket,
    sql_int,
)

MAX_BIN_KMH = 200.0


def _bucket(conn: sa.Connection, f: Filters, by: str | None) -> sa.ColumnElement:
    """SQL bucket key of each event's time in f.tz (a constant 0 without buckets), as counts do."""
    if by is None:
        return sa.literal_column("0", sa.BigInteger)
    plan = OffsetPlan((0,), (0,))
    dlo, dhi = (None, None) if f.tz is UTC else _data_bounds_us(conn)
    if dlo is not None and dhi is not None:
        lo = dlo if f.since_us is None else max(dlo, f.since_us)
        hi = dhi + 1 if f.until_us is None else min(dhi + 1, f.until_us)
        plan = offset_plan(f.tz, lo // US, -(-max(hi, lo + 1) // US))
    return bucket_key_expr(events.c.t_us // sql_int(US), by, plan)


def _where(q: sa.Select, f: Filters) -> sa.Select:
    if f.camera is not None:
        q = q.where(series.c.camera_id == f.camera)
    if f.since_us is not None:
        q = q.where(events.c.t_us >= f.since_us)
    if f.until_us is not None:
        q = q.where(events.c.t_us < f.until_us)
    return q


def _labels(keys, by: str | None, f: Filters) -> dict:
    return {} if by is None else {k: bucket_label(k, by, f.tz).isoformat() for k in keys}


def od_counts(engine: sa.Engine, f: Filters, by: str | None = None, max_rows: int | None = None,
              timeout_s: float | None = None) -> list[dict]:
    """Rows {camera, origin, destination, class, [bucket], count}, origin and destination as
    'line NAME' / 'zone NAME'. Filters: camera, class (the track's), since/until (on passages)."""
    by = parse_bucket(by)
    if f.name is not None or f.direction is not None or f.kind is not None:
        raise QueryError("turning movements take no line, zone or direction filter; they are between lines "
                         "and zones (filter by camera, class and time)")
    if f.empty_range:
        return []
    with reading(engine, timeout_s) as conn:
        bucket = _bucket(conn, f, by)
        q = (sa.select(events.c.run_id, events.c.track_id, series.c.camera_id, series.c.kind, series.c.name,
                       series.c.class_name, bucket)
             .select_from(events.join(series, events.c.series_id == series.c.id))
             .where(sa.or_(series.c.kind == "line", series.c.direction == "in"))
             .order_by(events.c.run_id, events.c.track_id, events.c.t_us, events.c.id))
        rows = conn.execute(_where(q, f)).all()
    tally: Counter = Counter()
    first = None
    n = 0
    for i, (run, track, cam, kind, name, cls, key) in enumerate(rows):
        if first is None or (run, track) != first[:2]:
            first, n = (run, track, f"{kind} {name}", key), 0
        n += 1
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if (nxt is None or (nxt[0], nxt[1]) != (run, track)) and n >= 2:
            if f.class_set is None or cls.lower() in f.class_set:
                tally[(cam, first[2], f"{kind} {name}", cls, first[3])] += 1
    if max_rows is not None and len(tally) > max_rows:
        raise TooManyRows(f"the answer has more than {max_rows:,} rows; narrow since/until or use a coarser bucket")
    labels = _labels({k[4] for k in tally}, by, f)
    out = []
    for (cam, o, d, cls, key), count in sorted(tally.items(), key=lambda kv: (kv[0][4], kv[0][:4])):
        row = {"camera": cam, "origin": o, "destination": d, "class": cls}
        if by is not None:
            row["bucket"] = labels[key]
        out.append({**row, "count": count})
    return out


def speed_histogram(engine: sa.Engine, f: Filters, bin_kmh: float = 10.0, by: str | None = None,
                    timeout_s: float | None = None) -> list[dict]:
    """Rows {camera, line, class, direction, [bucket], speed_from, speed_to, count}: line
    events with a speed, in bins of `bin_kmh` ([from, to) km/h). Filters as for counts."""
    by = parse_bucket(by)
    if not 0 < bin_kmh <= MAX_BIN_KMH:
        raise QueryError(f"speed bin {bin_kmh:g} km/h is not from 0 (exclusive) to {MAX_BIN_KMH:g}; "
                         "give e.g. 5 or 10")
    if f.kind == "zone":
        raise QueryError("speeds are measured on lines only; give a line, not a zone")
    if f.empty_range:
        return []
    with reading(engine, timeout_s) as conn:
        bucket = _bucket(conn, f, by)
        q = (sa.select(series.c.camera_id, series.c.name, series.c.class_name, series.c.direction, bucket,
                       events.c.speed_kmh)
             .select_from(events.join(series, events.c.series_id == series.c.id))
             .where(series.c.kind == "line", events.c.speed_kmh.is_not(None)))
        for col, value in (("name", f.name), ("direction", f.direction)):
            if value is not None:
                q = q.where(series.c[col] == value)
        rows = conn.execute(_where(class_where(q, f), f)).all()
    tally: Counter = Counter()
    for cam, name, cls, d, key, v in rows:
        tally[(cam, name, cls, d, key, int(v // bin_kmh))] += 1
    labels = _labels({k[4] for k in tally}, by, f)
    out = []
    for (cam, name, cls, d, key, b), count in sorted(tally.items(), key=lambda kv: (kv[0][4], kv[0])):
        row = {"camera": cam, "line": name, "class": cls, "direction": d}
        if by is not None:
            row["bucket"] = labels[key]
        out.append({**row, "speed_from": round(b * bin_kmh, 3), "speed_to": round((b + 1) * bin_kmh, 3),
                    "count": count})
    return out

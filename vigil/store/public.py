"""The public row contract shared by `vigil counts/events` and the HTTP API.

Count rows (built by `Store.counts(..., public=True)`): {camera, line | zone, class,
direction, bucket (ISO 8601 start with offset, only with a bucket size), count}.
Event rows: {id, run, camera, line | zone, class, direction, track_id, time,
dwell_s (zone exits only), speed_kmh (line events with a ground plane only)}. A page of events
ends at a cursor, `event_cursor(last row)`, that the next request passes back to start after it.
Movement rows (`vigil.store.traffic`): {camera, origin, destination, class, [bucket], count};
speed rows: {camera, line, class, direction, [bucket], speed_from, speed_to, count}.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

from vigil.store.timebuckets import QueryError, shown, to_us

CHUNK = 2000  # rows per piece of a streamed answer


def name_filter(line: str | None, zone: str | None) -> tuple[str | None, str | None]:
    """(name, kind) from the --line / --zone options."""
    if line and zone:
        raise QueryError("give either a line or a zone name, not both")
    if line:
        return line, "line"
    if zone:
        return zone, "zone"
    return None, None


def event_row(r: dict) -> dict:
    out = {"id": r["id"], "run": r["run_id"], "camera": r["camera"], r["kind"]: r["name"],
           "class": r["class_name"], "direction": r["direction"], "track_id": r["track_id"],
           "time": r["time"].isoformat()}
    if r["dwell_s"] is not None:
        out["dwell_s"] = r["dwell_s"]
    if r.get("speed_kmh") is not None:
        out["speed_kmh"] = round(r["speed_kmh"], 1)
    return out


def event_cursor(r: dict) -> str:
    """The position of event row `r` (from Store.events) in the events' order: time, then id."""
    return f"{to_us(r['time'])}.{r['id']}"


def parse_cursor(text: str) -> tuple[int, int]:
    """(t_us, id) from event_cursor's text; at most 18 digits each, so both fit in SQL BIGINT."""
    m = re.fullmatch(r"(-?\d{1,18})\.(\d{1,18})", text.strip(), re.ASCII)
    if m is None:
        raise QueryError(f"cursor {shown(text)} is not one this server gave; pass the X-Next-Cursor "
                         "of the previous page, or leave it out to start at the oldest event")
    return int(m[1]), int(m[2])


def table_columns(rows: list[dict]) -> list[str]:
    """Columns in contract order, keeping only those any row has (line/zone, bucket, dwell_s)."""
    order = ["id", "run", "camera", "origin", "destination", "line", "zone", "class", "direction", "bucket",
             "track_id", "time", "dwell_s", "speed_kmh", "speed_from", "speed_to", "count", "kind", "status",
             "frames", "started", "finished", "source", "error"]
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    return [c for c in order if c in present]


def to_json(rows: list[dict]) -> str:
    """Compact, in one call to the C encoder: twice as fast as a row per line, ten times
    faster than indent= (pipe through `jq` to read it)."""
    return json.dumps(rows)


def iter_json(rows: list[dict]) -> Iterator[str]:
    """to_json(rows) in pieces of CHUNK rows, for a streamed HTTP answer."""
    if not rows:
        yield "[]"
        return
    for i in range(0, len(rows), CHUNK):
        yield ("[" if i == 0 else ",") + json.dumps(rows[i:i + CHUNK])[1:-1]
    yield "]"


def iter_csv(rows: list[dict]) -> Iterator[str]:
    """CSV with a header line, in pieces of CHUNK rows."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=table_columns(rows), lineterminator="\n")
    w.writeheader()
    for i in range(0, max(len(rows), 1), CHUNK):
        w.writerows(rows[i:i + CHUNK])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def to_csv(rows: list[dict]) -> str:
    return "".join(iter_csv(rows))

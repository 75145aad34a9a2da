"""Helpers for store tests: random events and an independent count of them."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from vigil.types import CountEvent

T0 = datetime(2026, 3, 28, 12, tzinfo=UTC)


def random_events(n: int, start: datetime, span: timedelta, seed: int = 0,
                  cameras=("gate-1", "gate-2")) -> list[CountEvent]:
    """Events at random microsecond times over [start, start + span) on lines and zones."""
    rng = random.Random(seed)
    names = [("line", "L1"), ("line", "lane 2"), ("zone", "Z")]
    out = []
    for i in range(n):
        kind, name = rng.choice(names)
        d = rng.choice(["in", "out"])
        t = start + timedelta(microseconds=rng.randrange(int(span.total_seconds() * 1e6)))
        out.append(CountEvent(rng.choice(cameras), kind, name, i, rng.choice(["car", "pedestrian", "truck"]),
                              d, t, rng.uniform(0, 60) if kind == "zone" and d == "out" else None))
    return out



def reference_bucket(t: datetime, by: str, tz) -> datetime:
    """The bucket start of `t` computed with wall-clock arithmetic in the zone (independent of
    the store's offset-based SQL): astimezone sets `fold` for the repeated hour, and replace()
    keeps it, so the two 02:00 hours of a fall-back night stay apart."""
    local = t.astimezone(tz)
    if by == "minute":
        return local.replace(second=0, microsecond=0)
    if by == "15min":
        return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    if by == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if by == "week":
        day -= timedelta(days=day.weekday())
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    return midnight.astimezone(UTC).astimezone(tz)


def reference_counts(events, by=None, tz="UTC", since=None, until=None, camera=None, kind=None,
                     name=None, class_name=None, direction=None) -> Counter:
    """{(camera, kind, name, class, direction[, bucket isoformat]): n} straight from the events."""
    zone = ZoneInfo(tz) if tz != "UTC" else UTC
    out: Counter = Counter()
    for e in events:
        if (since and e.time < since) or (until and e.time >= until):
            continue
        if any(want is not None and have != want for want, have in
               ((camera, e.camera_id), (kind, e.kind), (name, e.name), (class_name, e.class_name),
                (direction, e.direction))):
            continue
        key = (e.camera_id, e.kind, e.name, e.class_name, e.direction)
        if by:
            key += (reference_bucket(e.time, by, zone).isoformat(),)
        out[key] += 1
    return out


def as_counter(rows: list[dict]) -> Counter:
    out: Counter = Counter()
    for r in rows:
        key = (r["camera"], r["kind"], r["name"], r["class_name"], r["direction"])
        if "bucket" in r:
            key += (r["bucket"].isoformat(),)
        assert key not in out, f"duplicate row {key}"
        out[key] = r["count"]
    return out

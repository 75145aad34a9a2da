"""Time zones, user time input and time-zone aware buckets computed in SQL.

Buckets are computed from integer UTC seconds with the zone's UTC offset, which is
piecewise constant: between the DST transitions in the queried range it is a CASE
expression with a handful of branches. Sub-day buckets (minute, 15min, hour) are keyed by
their UTC start, so the repeated local hour when clocks go back stays two buckets; day and
week buckets are keyed by the local calendar day (weeks start on Monday).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from vigil.errors import VigilError

BUCKETS: dict[str, int | None] = {"minute": 60, "15min": 900, "hour": 3600, "day": None, "week": None}
DAY = 86400
EPOCH_DAY = date(1970, 1, 1)
_EPOCH_WEEK_SHIFT = 3  # 1970-01-01 was a Thursday; weeks start on Monday


class QueryError(VigilError):
    """A bad filter, time, time zone or bucket in a query."""


def shown(value: object, width: int = 60) -> str:
    """User input quoted for an error line, cut short so a huge value keeps the line short."""
    text = str(value)
    return f"'{text}'" if len(text) <= width else f"'{text[:width]}...' ({len(text)} characters)"


def parse_tz(name: str | tzinfo | None) -> tzinfo:
    if name is None or name == "":
        return UTC
    if isinstance(name, tzinfo):
        return name
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: a name too long for a file
        raise QueryError(f"unknown time zone {shown(name)}; use an IANA name such as UTC or Europe/Berlin") from None


def parse_bucket(by: str | None) -> str | None:
    if by is None or by == "":
        return None
    if by not in BUCKETS:
        raise QueryError(f"unknown bucket {shown(by)}; use one of {', '.join(BUCKETS)}")
    return by


def parse_time(value: str | datetime | date | None, tz: tzinfo, what: str = "time") -> datetime | None:
    """ISO 8601 date or date-time; naive values are local time in `tz`. Returns aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(0))
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{what} {shown(value)} is not an ISO 8601 date or time; use e.g. 2026-11-01, "
                             "2026-11-01T08:30 or 2026-11-01T08:30+01:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        raise QueryError(f"{what} {shown(value)} is outside the years 1-9999 in UTC; use a date inside them") from None


def to_us(dt: datetime) -> int:
    """Aware datetime -> integer UTC epoch microseconds (exact, no float rounding)."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: event times must be timezone-aware")
    d = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (d.days * DAY + d.seconds) * 1_000_000 + d.microseconds


def from_us(us: int, tz: tzinfo = UTC) -> datetime:
    utc = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))
    try:
        return utc.astimezone(tz)
    except (OverflowError, ValueError):
        raise _beyond_calendar(utc, tz) from None


def _beyond_calendar(utc: datetime, tz: tzinfo) -> QueryError:
    return QueryError(f"{utc.isoformat()} is outside the years 1-9999 in time zone {tz}; "
                      "query it with tz=UTC or leave it out with since/until")


# Python datetimes end at year 9999: offsets are looked up at most this close to either end, so a
# local time past the calendar is not needed to find them (zones have no transitions there).
_TS_MIN = int((datetime(1, 1, 2, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
_TS_MAX = int((datetime(9999, 12, 30, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


def _offset(tz: tzinfo, ts: int) -> int:
    offset = datetime.fromtimestamp(min(max(ts, _TS_MIN), _TS_MAX), tz).utcoffset()
    assert offset is not None  # an aware datetime always has one
    return int(offset.total_seconds())


@dataclass(frozen=True)
class OffsetPlan:
    """The zone's UTC offset over [lo, hi]: offsets[i] holds from starts[i] (seconds) on."""

    starts: tuple[int, ...]   # starts[0] is the range start
    offsets: tuple[int, ...]

    def all_multiple_of(self, seconds: int) -> bool:
        return all(o % seconds == 0 for o in self.offsets)

    def at(self, ts: int) -> int:
        return self.offsets[max(0, bisect_right(self.starts, ts) - 1)]


def offset_plan(tz: tzinfo, lo: int, hi: int) -> OffsetPlan:
    """Walk [lo, hi] (UTC seconds) a day at a time and bisect each change of offset to the
    second. Zone transitions are at least days apart, so a daily step finds them all."""
    if tz is UTC:
        return OffsetPlan((lo,), (0,))
    starts, offsets = [lo], [_offset(tz, lo)]
    t = lo
    while t < hi:
        nxt = min(t + DAY, hi)
        off = _offset(tz, nxt)
        if off != offsets[-1]:
            a, b = t, nxt  # offset at a is the old one, at b the new one
            while b - a > 1:
                m = (a + b) // 2
                if _offset(tz, m) == offsets[-1]:
                    a = m
                else:
                    b = m
            starts.append(b)
            offsets.append(off)
        t = nxt
    return OffsetPlan(tuple(starts), tuple(offsets))


def sql_int(v: int) -> sa.ColumnElement:
    # Inlined, not bound: PostgreSQL only matches a GROUP BY expression to the SELECT one
    # when both are textually identical, which separate bind parameters are not.
    return sa.literal_column(str(int(v)), sa.BigInteger)


def offset_expr(ts: sa.ColumnElement, plan: OffsetPlan) -> sa.ColumnElement:
    if len(plan.offsets) == 1:
        return sql_int(plan.offsets[0])
    whens = [(ts < sql_int(start), sql_int(off)) for start, off in zip(plan.starts[1:], plan.offsets[:-1])]
    return sa.case(*whens, else_=sql_int(plan.offsets[-1]))


def bucket_key_expr(ts: sa.ColumnElement, by: str, plan: OffsetPlan) -> sa.ColumnElement:
    """SQL integer key of the bucket holding `ts` (integer UTC seconds >= 0)."""
    off = offset_expr(ts, plan)
    size = BUCKETS[by]
    if size is not None:   # UTC start of the local bucket
        return ((ts + off) // sql_int(size)) * sql_int(size) - off
    if by == "day":        # local day number
        return (ts + off) // sql_int(DAY)
    return (ts + off + sql_int(_EPOCH_WEEK_SHIFT * DAY)) // sql_int(7 * DAY)  # local Monday-week number


def bucket_label(key: int, by: str, tz: tzinfo) -> datetime:
    """The aware start of the bucket with `key`, in `tz`."""
    try:
        if BUCKETS[by] is not None:
            return datetime.fromtimestamp(key, tz)
        days = key if by == "day" else key * 7 - _EPOCH_WEEK_SHIFT
        local_midnight = datetime.combine(EPOCH_DAY + timedelta(days=days), time(0), tzinfo=tz)
        # Round trip through UTC so a midnight skipped by a DST change becomes the day's first instant.
        return local_midnight.astimezone(UTC).astimezone(tz)
    except (OverflowError, ValueError, OSError):
        raise QueryError(f"a {by} bucket of the data falls outside the years 1-9999 in time zone {tz}; "
                         "query it with tz=UTC or leave it out with since/until") from None

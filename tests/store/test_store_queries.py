"""Count and event queries against an independent count of the same events: time-zone
buckets across DST changes, unaligned ranges, filters, empty ranges, bad input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.store.storekit import as_counter, random_events, reference_counts
from vigil.store import QueryError
from vigil.types import CountEvent

BERLIN = ZoneInfo("Europe/Berlin")
# Europe/Berlin 2026: clocks go forward on 29 March 01:00 UTC, back on 25 October 01:00 UTC.
SPRING = datetime(2026, 3, 27, tzinfo=UTC)
FALL = datetime(2026, 10, 23, tzinfo=UTC)


@pytest.fixture
def filled(store):
    evs = (random_events(700, SPRING, timedelta(days=4), seed=10)
           + random_events(700, FALL, timedelta(days=4), seed=11))
    run = store.begin_run("gate-1", "x.mp4", None)
    store.write(run, evs)
    return store, evs


def test_buckets_match_wall_clock_reference(filled):
    """Whole-hour (Berlin, with both DST changes), half-hour and half-hour-with-DST zones."""
    store, evs = filled
    for tz in ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]:
        for by in [None, "minute", "15min", "hour", "day", "week"]:
            assert as_counter(store.counts(by=by, tz=tz)) == reference_counts(evs, by=by, tz=tz), (by, tz)


def test_unaligned_ranges_and_filters_match_reference(filled):
    store, evs = filled
    rng = random.Random(5)
    for _ in range(12):
        base = rng.choice([SPRING, FALL])
        since = base + timedelta(seconds=rng.uniform(0, 3 * 86400))
        until = since + timedelta(seconds=rng.uniform(0, 86400 * 1.5))
        by = rng.choice([None, "15min", "hour", "day"])
        tz = rng.choice(["UTC", "Europe/Berlin", "Asia/Kolkata"])
        filt = rng.choice([{}, {"camera": "gate-2"}, {"kind": "zone"}, {"name": "lane 2", "kind": "line"},
                           {"class_name": "truck", "direction": "out"}])
        got = store.counts(since=since, until=until, by=by, tz=tz, **filt)
        assert as_counter(got) == reference_counts(evs, by=by, tz=tz, since=since, until=until, **filt), \
            (since, until, by, tz, filt)


def test_fall_back_night_has_two_distinct_two_oclock_hours(store):
    run = store.begin_run("c", "x", None)
    # 00:30 UTC = 02:30 CEST, 01:30 UTC = 02:30 CET: same wall-clock hour, different hours.
    evs = [CountEvent("c", "line", "L", i, "car", "in", datetime(2026, 10, 25, h, 30, tzinfo=UTC))
           for i, h in enumerate([0, 0, 1])]
    store.write(run, evs)
    rows = store.counts(by="hour", tz="Europe/Berlin")
    assert [(r["bucket"].isoformat(), r["count"]) for r in rows] == [
        ("2026-10-25T02:00:00+02:00", 2), ("2026-10-25T02:00:00+01:00", 1)]
    (day,) = store.counts(by="day", tz="Europe/Berlin")
    assert (day["bucket"].isoformat(), day["count"]) == ("2026-10-25T00:00:00+02:00", 3)


def test_spring_forward_day_is_23_hours_long(store):
    run = store.begin_run("c", "x", None)
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)  # 00:00 CET on 29 March
    evs = [CountEvent("c", "line", "L", i, "car", "in", start + timedelta(minutes=30 + 60 * i))
           for i in range(24)]  # one event in each UTC hour from local midnight on
    store.write(run, evs)
    days = store.counts(by="day", tz="Europe/Berlin")
    assert [(r["bucket"].isoformat(), r["count"]) for r in days] == [
        ("2026-03-29T00:00:00+01:00", 23), ("2026-03-30T00:00:00+02:00", 1)]
    hours = [r["bucket"].isoformat() for r in store.counts(by="hour", tz="Europe/Berlin")]
    assert "2026-03-29T01:00:00+01:00" in hours and "2026-03-29T03:00:00+02:00" in hours
    assert not any(h.startswith("2026-03-29T02:") for h in hours)  # that hour does not exist


def test_weeks_start_on_monday_local_time(store):
    run = store.begin_run("c", "x", None)
    # Sunday 23:30 UTC = Monday 00:30 in Berlin (CET): next week in Berlin, this week in UTC.
    store.write(run, [CountEvent("c", "line", "L", 1, "car", "in", datetime(2026, 1, 11, 23, 30, tzinfo=UTC))])
    assert store.counts(by="week", tz="Europe/Berlin")[0]["bucket"].isoformat() == "2026-01-12T00:00:00+01:00"
    assert store.counts(by="week")[0]["bucket"].isoformat() == "2026-01-05T00:00:00+00:00"


def test_naive_since_until_are_local_to_tz(filled):
    store, evs = filled
    got = store.counts(since="2026-03-29", until="2026-03-30T06:15", tz="Europe/Berlin")
    since = datetime(2026, 3, 29, tzinfo=BERLIN)
    until = datetime(2026, 3, 30, 6, 15, tzinfo=BERLIN)
    assert as_counter(got) == reference_counts(evs, since=since, until=until)
    assert sum(r["count"] for r in got) > 0


def test_empty_ranges_and_no_matches_give_no_rows(filled):
    store, _ = filled
    assert store.counts(since="2026-03-28T10:00", until="2026-03-28T10:00") == []
    assert store.counts(since="2030-01-01", by="hour", tz="Europe/Berlin") == []
    assert store.counts(until="2020-01-01", by="day") == []
    assert store.counts(camera="no-such-camera") == []
    assert store.events(since="2030-01-01") == []
    assert store.events(class_name="zebra") == []


def test_a_class_filter_ignores_case_on_both_sides(store):
    """`--class Car` is folded to car; a series stored under `Forklift` (a custom class written
    while names kept their case) still answers `--class forklift`."""
    run = store.begin_run("c", "x", None)
    t = datetime(2026, 5, 1, 12, tzinfo=UTC)
    store.write(run, [CountEvent("c", "line", "L", 1, "Forklift", "in", t),
                      CountEvent("c", "line", "L", 2, "car", "in", t)])
    assert [r["count"] for r in store.counts(class_name="FORKLIFT")] == [1]
    assert [e["class_name"] for e in store.events(class_name="forklift")] == ["Forklift"]
    assert [r["class_name"] for r in store.counts(class_name="Car")] == ["car"]


def test_empty_store_gives_no_rows(store):
    assert store.counts() == []
    assert store.counts(by="day", tz="Europe/Berlin") == []
    assert store.events() == []
    assert store.cameras() == []


@pytest.mark.parametrize("kw, needle", [
    ({"since": "2026-13-01"}, "not an ISO 8601"),
    ({"until": "yesterday"}, "not an ISO 8601"),
    ({"since": "2026-03-02", "until": "2026-03-01"}, "is after until"),
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ({"by": "year"}, "unknown bucket"),
    ({"direction": "up"}, "direction"),
    ({"kind": "area"}, "kind"),
])
def test_bad_query_input_is_one_clear_line(filled, kw, needle):
    store, _ = filled
    with pytest.raises(QueryError) as err:
        store.counts(**kw)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_events_are_filtered_ordered_and_limited(filled):
    store, evs = filled
    got = store.events(kind="zone", direction="out", since=FALL, tz="Europe/Berlin", limit=None)
    want = sorted((e for e in evs if e.kind == "zone" and e.direction == "out" and e.time >= FALL),
                  key=lambda e: e.time)
    # compare in UTC: PEP 495 makes times in a repeated hour unequal across tzinfos
    assert [g["time"].astimezone(UTC) for g in got] == [e.time for e in want]
    assert all(g["time"].tzinfo == BERLIN for g in got)
    assert [g["dwell_s"] for g in got] == pytest.approx([e.dwell_s for e in want])
    assert len(store.events(limit=7)) == 7

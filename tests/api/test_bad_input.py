"""No query parameter makes the API answer 500: dates at the ends of the calendar, huge or
odd time zones, rows in year 9999 viewed at UTC+14, and thousands of generated queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.apikit import local_client
from tests.store.storekit import T0, random_events
from vigil.api.app import Limits, create_app
from vigil.store import Store
from vigil.types import CountEvent


def _assert_clear_400(r, *needles: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert len(detail) < 300 and "\n" not in detail and "Traceback" not in detail, detail
    assert all(n in detail for n in needles), detail


@pytest.mark.parametrize("params, needles", [
    ({"tz": "a" * 5000}, ("unknown time zone", "5000 characters")),
    ({"tz": "Europe/" + "x" * 300}, ("unknown time zone",)),
    ({"tz": "bad\x00zone"}, ("unknown time zone",)),
    ({"since": "0001-01-01", "tz": "Etc/GMT-14"}, ("outside the years 1-9999",)),
    ({"until": "9999-12-31T23:59:59-14:00"}, ("outside the years 1-9999",)),
    ({"since": "9" * 5000}, ("not an ISO 8601", "5000 characters")),
    ({"camera": "gate\x00-1"}, ("NUL",)),
    ({"after": "9" * 30 + ".1"}, ("cursor",)),
    ({"class": "Carr"}, ("unknown class 'carr'; known classes: bicycle, bus, car,", "heavy")),
])
def test_out_of_range_and_oversized_input_is_a_clear_400(filled_store, params, needles):
    s, _ = filled_store
    client = local_client(create_app(s))
    for path in ("/api/counts", "/api/events"):
        if "after" in params and path == "/api/counts":
            continue
        _assert_clear_400(client.get(path, params=params), *needles)


@pytest.fixture
def year_9999(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'far.db'}")
    end = datetime(9999, 12, 31, 23, tzinfo=UTC)
    s.write(s.begin_run("gate-1", "far.mp4", None),
            [CountEvent("gate-1", "line", "L1", i, "car", "in", end + timedelta(minutes=10 * i)) for i in range(3)])
    yield s
    s.close()


def test_rows_in_year_9999_viewed_at_utc_plus_14(year_9999):
    client = local_client(create_app(year_9999))
    far = {"tz": "Pacific/Kiritimati"}  # UTC+14: these times are in the year 10000 there
    _assert_clear_400(client.get("/api/events", params=far), "outside the years 1-9999", "tz=UTC")
    for by in ("minute", "hour", "day"):
        _assert_clear_400(client.get("/api/counts", params={**far, "by": by}), "outside the years 1-9999")
    week = client.get("/api/counts", params={**far, "by": "week"}).json()  # its Monday is still in 9999
    assert [(w["bucket"], w["count"]) for w in week] == [("9999-12-27T00:00:00+14:00", 3)]
    assert client.get("/api/counts", params=far).json()[0]["count"] == 3  # no times in the answer: fine
    assert client.get("/api/counts", params={"by": "hour"}).json()[0]["bucket"] == "9999-12-31T23:00:00+00:00"
    assert [e["time"][:16] for e in client.get("/api/events").json()] == [
        "9999-12-31T23:00", "9999-12-31T23:10", "9999-12-31T23:20"]
    west = client.get("/api/counts", params={"by": "day", "tz": "America/New_York"}).json()
    assert west[0]["bucket"] == "9999-12-31T00:00:00-05:00"


# -- generated queries --------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati",
         "Etc/GMT+12", "Asia/Kathmandu", "", "utc", "Europe", "../etc", "Z", "+01:00"]
EXTREME_TIMES = ["0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31", "9999-12-31T23:59:59.999999",
                 "9999-12-31T23:59:59-12:00", "2026-03-28", "2026-03-29T02:30", "2026-10-25T02:30+02:00",
                 "1969-12-31T23:59:59Z", "2026-W13", "2026-088", "20260328T120000", " 2026-03-28 "]


def _times():
    dts = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                       timezones=st.sampled_from([None, UTC]) | st.timezones())
    return st.one_of(st.none(), st.sampled_from(EXTREME_TIMES), dts.map(datetime.isoformat),
                     st.dates().map(str), st.text(max_size=40))


def _names():
    return st.one_of(st.none(), st.sampled_from(["gate-1", "gate-2", "L1", "lane 2", "Z", "car", ""]),
                     st.text(max_size=30))


COMMON = {"camera": _names(), "line": _names(), "zone": _names(), "class": _names(),
          "direction": st.one_of(st.none(), st.sampled_from(["in", "out", "up", ""])),
          "since": _times(), "until": _times(),
          "tz": st.one_of(st.none(), st.sampled_from(ZONES), st.timezone_keys(), st.text(max_size=80)),
          "format": st.one_of(st.none(), st.sampled_from(["json", "csv", "xml"]))}
COUNTS = {**COMMON, "by": st.one_of(st.none(), st.sampled_from(["minute", "15min", "hour", "day", "week", "year"]))}
EVENTS = {**COMMON, "limit": st.one_of(st.none(), st.integers(-5, 20_000).map(str), st.text(max_size=8)),
          "after": st.one_of(st.none(), st.text(max_size=30),
                             st.tuples(st.integers(-2**63, 2**63), st.integers(-5, 2**63)).map(
                                 lambda t: f"{t[0]}.{t[1]}"))}


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    s = Store(f"sqlite:///{path}")
    evs = random_events(400, T0 - timedelta(days=1), timedelta(days=3), seed=4)
    evs += [CountEvent("gate-1", "line", "L1", 1, "car", "in", datetime(9999, 12, 31, 22, tzinfo=UTC)),
            CountEvent("gate-2", "zone", "Z", 2, "car", "out", datetime(1970, 1, 1, 0, 30, tzinfo=UTC), 5.0)]
    s.write(s.begin_run("gate-1", "x.mp4", None), evs)
    yield local_client(create_app(s, limits=Limits(max_rows=5000, max_events=500)))
    s.close()


def _check(client, path: str, params: dict) -> None:
    r = client.get(path, params={k: v for k, v in params.items() if v is not None})
    assert r.status_code < 500, (params, r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/json", (params, r.text[:300])
        assert "detail" in r.json()


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@FUZZ
@given(params=st.fixed_dictionaries({}, optional=COUNTS))
def test_generated_count_queries_never_fail_the_server(fuzz_client, params):
    _check(fuzz_client, "/api/counts", params)


@FUZZ
@given(params=st.fixed_dictionaries({}, optional=EVENTS))
def test_generated_event_queries_never_fail_the_server(fuzz_client, params):
    _check(fuzz_client, "/api/events", params)

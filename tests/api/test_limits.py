"""Bounded answers: counts capped with a clear 400, events paged by cursor, CSV streamed, a
time limit per query on SQLite and PostgreSQL, queries on a small pool of their own threads
and /healthz answered while every one of them is stuck."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest
import uvicorn

from tests.api.apikit import free_port, local_client
from tests.store.storekit import T0, random_events
from vigil.api.app import Limits, create_app
from vigil.store import Store
from vigil.store.public import event_cursor, parse_cursor
from vigil.store.queries import Filters, QueryTimeout, TooManyRows, reading


def test_counts_over_the_cap_is_a_clear_400_before_any_heavy_work(filled_store):
    s, _ = filled_store  # 300 events over one day
    client = local_client(create_app(s, limits=Limits(max_rows=500)))
    r = client.get("/api/counts", params={"by": "minute"})  # a day is 1,441 minute buckets
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "minute" in detail and "500" in detail and "coarser bucket" in detail and "\n" not in detail
    assert client.get("/api/counts", params={"by": "hour"}).status_code == 200
    narrow = client.get("/api/counts", params={"by": "minute", "since": T0.isoformat(),
                                               "until": (T0 + timedelta(hours=2)).isoformat()})
    assert narrow.status_code == 200 and narrow.json()


def test_counts_rows_over_the_cap_are_refused_not_truncated(filled_store):
    s, _ = filled_store
    n_rows = len(s.counts(by="day"))
    assert n_rows > 3
    with pytest.raises(TooManyRows, match="more than 3 rows"):
        s.counts(by="day", max_rows=3)  # few buckets, more rows (one per series)
    assert len(s.counts(by="day", max_rows=n_rows)) == n_rows


def test_events_come_in_pages_that_cover_everything_once(filled_store):
    s, evs = filled_store
    client = local_client(create_app(s, limits=Limits(max_events=40)))
    assert client.get("/api/events", params={"limit": 41}).status_code == 422
    seen, after, pages = [], None, 0
    while True:
        r = client.get("/api/events", params={"limit": 40, "tz": "Europe/Berlin",
                                              **({"after": after} if after else {})})
        assert r.status_code == 200
        seen += r.json()
        pages += 1
        after = r.headers.get("x-next-cursor")
        if after is None:
            break
    assert pages == -(-len(evs) // 40)
    assert len({e["id"] for e in seen}) == len(seen) == len(evs)
    times = [datetime.fromisoformat(e["time"]) for e in seen]
    assert times == sorted(times) == sorted(e.time for e in evs)
    r = client.get("/api/events", params={"after": "not-a-cursor"})
    assert r.status_code == 400 and "X-Next-Cursor" in r.json()["detail"]


def test_events_cursor_keeps_ties_in_time_apart(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'ties.db'}")
    evs = random_events(7, T0, timedelta(microseconds=1), seed=3)  # all at one instant
    s.write(s.begin_run("gate-1", "x.mp4", None), evs)
    page1 = s.events(limit=4)
    page2 = s.events(after=parse_cursor(event_cursor(page1[-1])))
    assert sorted(r["id"] for r in page1 + page2) == list(range(1, 8))
    s.close()


def test_csv_is_streamed_with_a_header(filled_store):
    s, evs = filled_store
    client = local_client(create_app(s))
    r = client.get("/api/counts", params={"by": "hour", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sum(int(x["count"]) for x in rows) == len(evs)
    cols = list(rows[0])
    assert rows == [{c: str(x.get(c, "")) for c in cols}
                    for x in client.get("/api/counts", params={"by": "hour"}).json()]
    ev = client.get("/api/events", params={"format": "csv", "limit": 5})
    assert ev.text.splitlines()[0].startswith("id,run,camera") and len(ev.text.splitlines()) == 6


def test_filters_object_is_the_store_query_contract(filled_store):
    s, _ = filled_store
    f = Filters.parse(class_name="car", since=T0.isoformat(), tz="Europe/Berlin")
    assert s.counts(f, by="hour") == s.counts(by="hour", class_name="car", since=T0.isoformat(), tz="Europe/Berlin")
    assert s.events(f, limit=None) == s.events(class_name="car", since=T0.isoformat(), tz="Europe/Berlin",
                                                limit=None)
    with pytest.raises(TypeError, match="not both"):
        s.counts(f, camera="gate-1")


def test_sqlite_query_time_limit(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 't.db'}")
    s.write(s.begin_run("gate-1", "x.mp4", None), random_events(3000, T0, timedelta(days=2), seed=5))
    with pytest.raises(QueryTimeout, match="longer than 0 s"):
        s.events(limit=None, timeout_s=0)
    assert len(s.events(limit=None, timeout_s=30)) == 3000  # the handler is gone again
    assert len(s.events(limit=None)) == 3000
    r = local_client(create_app(s, limits=Limits(timeout_s=0))).get("/api/counts", params={"by": "minute"})
    assert r.status_code == 503 and "longer than" in r.json()["detail"]
    s.close()


@pytest.mark.postgres
def test_postgresql_statement_timeout_is_per_query(pg_url):
    s = Store(pg_url)
    with pytest.raises(QueryTimeout), reading(s.engine, 0.05) as conn:
        conn.exec_driver_sql("SELECT pg_sleep(2)")
    with s.engine.connect() as conn:  # SET LOCAL: nothing left on the pooled connection
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
    assert s.counts(by="hour", timeout_s=5) == []
    s.close()


class _Blocking:
    """A store whose queries wait for a gate: stands in for slow queries (an edge case that a
    real database cannot produce on demand)."""

    def __init__(self, store: Store) -> None:
        self.store, self.gate, self.lock = store, threading.Event(), threading.Lock()
        self.running = self.most = 0

    def counts(self, *a, **kw):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.gate.wait(30)
        with self.lock:
            self.running -= 1
        return self.store.counts(*a, **kw)

    def incomplete_runs(self, *a, **kw):
        return self.store.incomplete_runs(*a, **kw)

    def resolve_class(self, *a, **kw):
        return self.store.resolve_class(*a, **kw)


def test_healthz_answers_while_every_query_is_stuck(filled_store):
    s, _ = filled_store
    slow = _Blocking(s)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(slow, limits=Limits(query_threads=2)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://localhost:{port}"
    results: list[int] = []

    def query():
        results.append(httpx.get(f"{base}/api/counts", timeout=60).json()[0]["count"] > 0)

    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        clients = [threading.Thread(target=query) for _ in range(80)]  # twice Starlette's 40 threads
        for c in clients:
            c.start()
        time.sleep(1.0)
        t = time.perf_counter()
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"ok": True}  # was: waits for the gate
        assert time.perf_counter() - t < 2  # generous: a shared, loaded CI machine
        assert slow.most == 2  # bounded: the others wait their turn, off the event loop
        slow.gate.set()
        for c in clients:
            c.join(60)
        assert results == [True] * 80
    finally:
        slow.gate.set()
        server.should_exit = True
        thread.join(10)


def test_counts_name_the_runs_that_ended_early(filled_store):
    """Counts that include events of an interrupted run say so in a header (the body keeps its
    contract); counts of other cameras do not."""
    from tests.api.apikit import local_client
    from vigil.api.app import create_app

    s, evs = filled_store
    cut = s.begin_run("gate-2", "y.mp4", "h2")
    s.write(cut, [e.__class__(**{**vars(e), "camera_id": "gate-2"}) for e in evs[:5]])
    s.finish_run(cut, "interrupted", 3, "replay interrupted")
    client = local_client(create_app(s))
    r = client.get("/api/counts")
    assert r.status_code == 200 and r.headers["X-Vigil-Partial-Runs"] == str(cut)
    assert sum(row["count"] for row in r.json()) == len(evs) + 5
    r = client.get("/api/counts", params={"camera": "gate-1"})
    assert r.status_code == 200 and "X-Vigil-Partial-Runs" not in r.headers

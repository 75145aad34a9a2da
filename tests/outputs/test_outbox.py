"""The outbox: written with the events (only for a site with outputs), bounded by age and rows
(dropping is logged and counted), events of a replaced run are not delivered; and the
Prometheus metrics for counts, occupancy and delivery on the metrics endpoint."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
import sqlalchemy as sa

from tests.outputs.brokers import free_port, receiver  # noqa: F401 (fixture)
from tests.outputs.sitekit import event, load, webhook_output
from vigil.live.metrics import EventTally, serve_metrics
from vigil.outputs.delivery import Delivery
from vigil.store import Store
from vigil.store.engine import StoreError
from vigil.store.schema import outbox


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "k")


def rows(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()


def test_outbox_only_for_sites_with_outputs_and_in_the_events_transaction(tmp_path):
    plain = Store(f"sqlite:///{tmp_path / 'a.db'}")
    plain.write(plain.begin_run("cam1", "x", None), [event(i) for i in range(5)])
    assert rows(plain) == 0
    store = Store(f"sqlite:///{tmp_path / 'b.db'}", outbox=True)
    run = store.begin_run("cam1", "x", None)
    with store.writer(flush_interval=0.05) as w:
        w.put(run, [event(i) for i in range(7)])
    assert rows(store) == 7
    # a batch the database refuses (run missing) leaves neither events nor outbox rows
    with pytest.raises(StoreError, match="run 99 does not exist"):
        store.write(99, [event(1)])
    assert rows(store) == 7 and len(store.events(limit=None)) == 7


@pytest.mark.parametrize("bound", ["max_rows: 100", "max_age_hours: 0.0001"])
def test_bounds_drop_the_oldest_with_a_log_line_and_a_metric(tmp_path, caplog, bound):
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: every delivery fails
    cfg = load(tmp_path, [webhook_output(dead)], extra=f"outbox: {{{bound}}}\n")
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    store.write(store.begin_run("cam1", "x", None), [event(i) for i in range(250)])
    time.sleep(0.5)  # older than 0.36 s for the age bound
    caplog.set_level(logging.WARNING, logger="vigil.outputs")
    delivery = Delivery(cfg, store.engine, poll=0.05, prune_interval=0.1).start()
    deadline = time.monotonic() + 10
    while delivery.dropped == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    port = free_port()
    server = serve_metrics(lambda: {"cameras": []}, port, outputs=delivery.snapshot)
    try:
        time.sleep(0.3)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.shutdown()
        delivery.close()
    kept = 100 if "rows" in bound else 0
    assert delivery.dropped == 250 - kept and rows(store) == kept
    assert any("outbox: dropped" in r.getMessage() for r in caplog.records)
    assert f"vigil_outbox_dropped_total {250 - kept}.0" in text
    assert 'vigil_output_failures_total{output="hook"}' in text
    assert f'vigil_outbox_depth{{output="hook"}} {kept}.0' in text


def test_events_of_a_replaced_run_are_not_delivered(tmp_path, receiver):  # noqa: F811
    cfg = load(tmp_path, [webhook_output(receiver.url)])
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    old = store.begin_run("cam1", "a.mp4", "hash-a")
    store.write(old, [event(i) for i in range(5)])
    new = store.begin_run("cam1", "a.mp4", "hash-a")  # the same file again: the old run's events go
    store.write(new, [event(i, direction="out") for i in range(3)])
    delivery = Delivery(cfg, store.engine, poll=0.05).start()
    assert delivery.drain(20)
    delivery.close()
    got = receiver.events()
    assert sorted(e["id"] for e in got) == sorted(e["id"] for e in store.events(limit=None))
    assert {e["run"] for e in got} == {new} and len(got) == 3
    assert rows(store) == 0  # delivered and skipped rows are gone


def test_events_per_post_sends_signed_arrays_and_singles_when_an_array_is_refused(tmp_path, receiver):  # noqa: F811
    import hashlib
    import hmac
    import json

    cfg = load(tmp_path, [webhook_output(receiver.url, extra="    events_per_post: 3\n")])
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    run = store.begin_run("cam1", "x", None)
    store.write(run, [event(i) for i in range(7)])
    delivery = Delivery(cfg, store.engine, poll=0.05).start()
    assert delivery.drain(20)
    delivery.close()
    ids = sorted(e["id"] for e in store.events(limit=None))
    assert [len(json.loads(b)) for _, b in receiver.requests] == [3, 3, 1]  # in order, at most 3 a POST
    assert [e["id"] for e in receiver.events()] == ids
    headers, data = receiver.requests[0]
    assert headers["x-vigil-signature"] == "sha256=" + hmac.new(b"k", data, hashlib.sha256).hexdigest()
    assert headers["idempotency-key"] == f"{run}-{ids[0]}..{run}-{ids[2]}"
    assert headers["x-vigil-event-id"] == ",".join(map(str, ids[:3]))

    # a receiver that takes single events only: each array it refuses is sent again event by event
    receiver.requests.clear()
    receiver.refuse_arrays = True
    store.write(run, [event(i) for i in range(7, 12)])
    delivery = Delivery(cfg, store.engine, poll=0.05).start()
    assert delivery.drain(20)
    delivery.close()
    assert receiver.refused == 2 and [e["id"] for e in receiver.events()] == sorted(
        e["id"] for e in store.events(limit=None))[7:]
    assert rows(store) == 0


def test_per_line_counters_and_zone_occupancy_on_the_metrics_endpoint():
    tally = EventTally()
    tally.add([event(0), event(1), event(2, direction="out"), event(3, kind="zone", name="lobby"),
               event(4, kind="zone", name="lobby"), event(5, kind="zone", name="lobby", direction="out")])
    port = free_port()
    server = serve_metrics(lambda: {"cameras": []}, port, tally=tally)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.shutdown()
    door = 'vigil_count_events_total{{camera="cam1",class="pedestrian",direction="{}",kind="line",name="door"}} {}'
    assert door.format("in", "2.0") in text and door.format("out", "1.0") in text
    assert 'vigil_zone_occupancy{camera="cam1",class="pedestrian",zone="lobby"} 1.0' in text


def test_outbox_and_delivery_on_postgresql(tmp_path, pg_url, receiver):  # noqa: F811
    """The same on PostgreSQL: ids come back from a multi-row INSERT ... RETURNING in order."""
    cfg = load(tmp_path, [webhook_output(receiver.url)])
    store = Store(pg_url, outbox=True)
    run = store.begin_run("cam1", "x", None)
    with store.writer(flush_interval=0.05) as w:
        w.put(run, [event(i, direction="in" if i % 2 else "out") for i in range(40)])
    delivery = Delivery(cfg, store.engine, poll=0.05).start()
    assert delivery.drain(20)
    delivery.close()
    stored = store.events(limit=None)
    got = receiver.events()
    assert [e["id"] for e in got] == sorted(e["id"] for e in stored)
    by_id = {e["id"]: e for e in stored}
    assert all(e["direction"] == by_id[e["id"]]["direction"] and e["track_id"] == by_id[e["id"]]["track_id"]
               for e in got)
    assert rows(store) == 0


def test_a_commit_wakes_the_delivery_without_polling(tmp_path, receiver):  # noqa: F811
    cfg = load(tmp_path, [webhook_output(receiver.url)])
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    delivery = Delivery(cfg, store.engine, poll=60).start()  # it would not look again for a minute
    store.on_commit = delivery.wake
    run = store.begin_run("cam1", "x", None)
    time.sleep(0.5)  # the first (empty) pass is over: from here only a wake-up helps
    with store.writer(flush_interval=0.05) as w:
        w.put(run, [event(i) for i in range(3)])
    deadline = time.monotonic() + 10
    while len(receiver.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery.close()
    assert len(receiver.requests) == 3

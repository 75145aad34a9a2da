"""Delivery against a real mosquitto and a real HTTP receiver while they fail: the broker is
stopped and restarted mid-run and the receiver answers 500 for a while; every event stored
still arrives (same ids, at least once, in order per camera), counting never waits for them,
and the outbox is empty afterwards."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest

from tests.outputs.brokers import Subscriber, mosquitto, receiver  # noqa: F401 (fixtures)
from tests.outputs.sitekit import event, load, mqtt_output, webhook_output
from vigil.outputs.delivery import Delivery
from vigil.store import Store
from vigil.store.schema import outbox

SECRET = "s3cret-key"


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def first_arrivals(ids: list[int]) -> list[int]:
    seen: set[int] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def test_broker_restart_and_receiver_500s_lose_nothing(tmp_path, mosquitto, receiver):  # noqa: F811
    cfg = load(tmp_path, [mqtt_output(mosquitto.port), webhook_output(receiver.url)])
    sub = Subscriber(mosquitto.port)
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    delivery = Delivery(cfg, store.engine, poll=0.05, prune_interval=0.5).start()
    writer = store.writer(flush_interval=0.05)
    runs = {cam: store.begin_run(cam, "test", None, kind="live") for cam in ("cam1", "cam2")}
    slowest_put = [0.0]

    def count(n: int) -> None:  # the analysis loop: events to the writer, never to an output
        for i in range(n):
            for cam, name in (("cam1", "door"), ("cam2", "gate")):
                t0 = time.perf_counter()
                writer.put(runs[cam], [event(i, cam, name=name, direction="in" if i % 3 else "out")])
                slowest_put[0] = max(slowest_put[0], time.perf_counter() - t0)
            time.sleep(0.01)

    producer = threading.Thread(target=count, args=(300,))
    producer.start()
    time.sleep(0.8)
    assert producer.is_alive()
    mosquitto.stop()                                  # broker gone mid-run ...
    receiver.fail_until = time.monotonic() + 2.0      # ... and the receiver fails for 2 s
    time.sleep(1.5)
    mosquitto.start()
    assert producer.is_alive(), "the outage should fall inside the run"
    producer.join()
    writer.close()
    assert delivery.drain(60), delivery.snapshot()
    delivery.close()

    stored = store.events(limit=None)
    assert len(stored) == 600
    ids_by_cam = {cam: [e["id"] for e in stored if e["camera"] == cam] for cam in ("cam1", "cam2")}
    snap = {o["name"]: o for o in delivery.snapshot()["outputs"]}
    # the faults did happen: the broker connection was lost and made again, the receiver said 500
    assert delivery.workers[0].sink.connects >= 2
    assert snap["hook"]["failures"] > 0 and receiver.failed > 0, snap

    # MQTT: every stored event, same ids, in order per camera (copies only of what was in flight)
    got = sub.events()
    assert {e["id"] for e in got} == {e["id"] for e in stored}
    for cam, ids in ids_by_cam.items():
        assert first_arrivals([e["id"] for e in got if e["camera"] == cam]) == ids
    # webhook: the same, each request signed over its body and keyed by run and event id
    posts = receiver.requests
    assert {e["id"] for e in receiver.events()} == {e["id"] for e in stored}
    for cam, ids in ids_by_cam.items():
        assert first_arrivals([e["id"] for e in receiver.events() if e["camera"] == cam]) == ids
    ev_by_id = {e["id"]: e for e in stored}
    for headers, body in posts:
        assert headers["x-vigil-signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        p = json.loads(body)
        assert headers["idempotency-key"] == f"{p['run']}-{p['id']}" and headers["x-vigil-event-id"] == str(p["id"])
        assert p["direction"] == ev_by_id[p["id"]]["direction"] and p["site"] == "test"

    # counting never waited for the outputs; the outbox is empty once both delivered
    assert slowest_put[0] < 0.25, slowest_put
    with store.engine.connect() as conn:
        assert conn.execute(outbox.select()).first() is None
    sub.close()

"""With leases, each worker delivers only the cameras it holds; a camera handed to another worker
(or won back) is delivered on from the cursor its last owner stored: nothing lost, nothing sent twice."""

from __future__ import annotations

import pytest

from tests.outputs.brokers import receiver  # noqa: F401 (fixture)
from tests.outputs.sitekit import event, load, webhook_output
from vigil.outputs.delivery import Delivery
from vigil.store import Store


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "k")


def test_a_camera_moves_between_workers_and_is_delivered_once(tmp_path, receiver):  # noqa: F811
    cfg = load(tmp_path, [webhook_output(receiver.url)])
    store = Store(f"sqlite:///{tmp_path / 'v.db'}", outbox=True)
    runs = {cam: store.begin_run(cam, "test", None, kind="live") for cam in ("cam1", "cam2")}
    held_a, held_b = ["cam1", "cam2"], []  # worker A holds both cameras, B none
    a = Delivery(cfg, store.engine, cameras=lambda: list(held_a), poll=0.05).start()
    b = Delivery(cfg, store.engine, cameras=lambda: list(held_b), poll=0.05).start()
    try:
        for cam in ("cam1", "cam2"):
            store.write(runs[cam], [event(i, cam) for i in range(20)])
        assert a.drain(30) and b.drain(30)
        assert len(receiver.events()) == 40
        assert {o["delivered"] for o in b.snapshot()["outputs"]} == {0}  # B holds nothing, sends nothing

        held_a.remove("cam2")  # cam2's lease moves to B
        held_b.append("cam2")
        for cam in ("cam1", "cam2"):
            store.write(runs[cam], [event(i, cam) for i in range(20, 30)])
        assert a.drain(30) and b.drain(30)

        held_b.remove("cam2")  # and back to A: it starts where B left off, not where it did
        held_a.append("cam2")
        store.write(runs["cam2"], [event(i, "cam2") for i in range(30, 35)])
        assert a.drain(30) and b.drain(30)
    finally:
        a.close()
        b.close()
    got = [(e["camera"], e["id"]) for e in receiver.events()]
    stored = [(e["camera"], e["id"]) for e in store.events(limit=None)]
    assert sorted(got) == sorted(stored) and len(got) == 65  # every event once, none twice
    assert [o["delivered"] for o in b.snapshot()["outputs"]] == [10]  # B sent only cam2's new ten
    store.close()

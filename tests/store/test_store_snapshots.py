"""Event snapshots in the store: written in the event's transaction, read by event id, deleted
with their event, and carried through a spill file. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from vigil.store import spill
from vigil.types import CountEvent

T0 = datetime(2026, 11, 1, 8, tzinfo=timezone.utc)


def ev(track: int, jpeg: bytes | None = None) -> CountEvent:
    return CountEvent("cam", "line", "gate", track, "car", "in", T0 + timedelta(seconds=track), snapshot=jpeg)


def crops(store) -> dict[int, bytes | None]:
    """track id -> its event's snapshot."""
    return {e["track_id"]: store.snapshot(e["id"]) for e in store.events(limit=None)}


def test_snapshots_are_found_by_event_id_next_to_events_without(store):
    run = store.begin_run("cam", "a.mp4", "h1")
    jpegs = {t: f"jpeg-of-{t}".encode() * 40 for t in (1, 3, 4)}
    assert store.write(run, [ev(t, jpegs.get(t)) for t in range(1, 6)]) == 5
    assert crops(store) == {1: jpegs[1], 2: None, 3: jpegs[3], 4: jpegs[4], 5: None}
    assert store.snapshot(10**9) is None
    # the batched writer takes the same path
    w = store.writer(flush_interval=0.05)
    w.put(run, [ev(6, b"six"), ev(7)])
    w.flush(timeout=30)
    w.close()
    got = crops(store)
    assert got[6] == b"six" and got[7] is None


def test_a_replaced_run_takes_its_snapshots_along(store):
    run = store.begin_run("cam", "a.mp4", "same-hash")
    store.write(run, [ev(1, b"one"), ev(2, b"two")])
    ids = [e["id"] for e in store.events(limit=None)]
    store.begin_run("cam", "copy.mp4", "same-hash")  # the same file again: the first run is replaced
    assert store.events(limit=None) == []
    assert all(store.snapshot(i) is None for i in ids)


def test_spill_files_keep_snapshots_and_old_files_still_load(tmp_path):
    path = spill.save(tmp_path, "w1", [("w1", 1, [(7, ev(1, b"\xff\xd8jpeg")), (7, ev(2))])])
    (_, _, batch), = spill.load(path)
    assert [e.snapshot for _, e in batch] == [b"\xff\xd8jpeg", None]
    old = tmp_path / "old.jsonl"  # written before snapshots: nine fields a row
    old.write_text(json.dumps({"writer": "w0", "seq": 1, "events": [
        [7, "cam", "line", "gate", 3, "car", "in", ev(3).time.isoformat(), None]]}) + "\n")
    (_, _, batch), = spill.load(old)
    assert batch[0][1] == ev(3) and batch[0][1].snapshot is None

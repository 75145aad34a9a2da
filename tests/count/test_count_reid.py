"""Re-ID de-duplication: an id switch bridged by matching embeddings does not count twice."""

from __future__ import annotations

import numpy as np
import pytest

from tests.count.countkit import frame, run, tally, unit
from vigil.config.geometry import CountingConfig, LineConfig, ZoneConfig
from vigil.count import CameraCounter

LINE = LineConfig(name="gate", points=((0, 100), (400, 100)), min_distance=5)
ZONE = ZoneConfig(name="bay", polygon=[(0, 200), (400, 200), (400, 300), (0, 300)])
ME, OTHER = unit(1), unit(2)


def counter(**cfg) -> CameraCounter:
    return CameraCounter("cam", [LINE], [ZONE], CountingConfig(**cfg))


def track(tid: int, ys: list[float], emb: np.ndarray | None = ME, x: float = 100, cls: str = "car"):
    return [frame({tid: (x, y)}, cls=cls, emb=None if emb is None else {tid: emb}) for y in ys]


def noisy(e: np.ndarray, seed: int, scale: float = 0.05) -> np.ndarray:
    return e + np.random.default_rng(seed).normal(scale=scale, size=e.shape).astype(np.float32)


@pytest.mark.parametrize("down", [True, False])
def test_id_switch_counts_like_one_unbroken_track(down):
    # Track 1 crosses (counted), drifts back over the line and is lost; the tracker starts track 2
    # there and it crosses again. One object, one unbroken path: the switch must change nothing.
    ys1 = [60, 80, 120, 140, 90] if down else [140, 120, 80, 60, 110]
    ys2 = [90, 130] if down else [110, 70]
    first, again = ("in", "out") if down else ("out", "in")
    unbroken = tally(run(counter(), track(1, ys1) + [frame({})] * 3 + track(1, ys2)))
    assert unbroken == {("line", "gate", first): 1, ("line", "gate", again): 1}   # policy 'once'
    switched = run(counter(), track(1, ys1) + [frame({})] * 3 + track(2, ys2, emb=noisy(ME, 0)))
    assert tally(switched) == unbroken
    # Without re-ID the new track counts the object a second time: what the de-duplication prevents.
    for frames in (track(1, ys1, emb=None) + [frame({})] * 3 + track(2, ys2, emb=None),
                   track(1, ys1) + [frame({})] * 3 + track(2, ys2)):
        dedup = frames[0].embedding is not None
        c = counter(reid_dedup=False) if dedup else counter()
        assert tally(run(c, frames))[("line", "gate", first)] == 2


@pytest.mark.parametrize("down", [True, False])
def test_crossing_during_the_gap_counts_once_for_the_new_track(down):
    before, after = ([50, 70], [130, 150]) if down else ([150, 130], [70, 50])
    events = run(counter(), track(1, before) + [frame({})] * 4 + track(2, after))
    (e,) = events
    assert (e.track_id, e.direction) == (1, "in" if down else "out")  # the object's id, kept across the switch
    # a new track with no history of its own cannot know it crossed
    assert run(counter(), track(1, before, emb=None) + [frame({})] * 4 + track(2, after, emb=None)) == []


def test_different_appearance_is_a_different_object():
    frames = track(1, [60, 120]) + [frame({})] * 2 + track(2, [90, 130], emb=OTHER)
    assert tally(run(counter(), frames))[("line", "gate", "in")] == 2


@pytest.mark.parametrize("gate", ["time", "distance", "class", "still_seen"])
def test_match_gates(gate):
    gap = 40 if gate == "time" else 2           # 10 fps: 4 s > reid_max_gap_s = 3 s
    x = 300 if gate == "distance" else 100      # 200 px away from a 40 px tall box
    cls = "pedestrian" if gate == "class" else "car"
    first = track(1, [60, 120])
    if gate == "still_seen":                    # the old track is still reported: not lost
        second = [frame({1: (100, 120), 2: (100, y)}, emb={1: ME, 2: ME}) for y in (90, 130)]
    else:
        second = track(2, [90, 130], x=x, cls=cls)
    events = run(counter(), first + [frame({})] * gap + second)
    assert tally(events)[("line", "gate", "in")] == 2


def test_prediction_along_velocity_finds_a_fast_object():
    # A car moving 200 px/s at 10 fps, lost for 1 s: it reappears ~200 px further on, 5 box heights away.
    first = [frame({1: (100 + 20 * k, 60)}, emb={1: ME}) for k in range(5)]
    second = [frame({2: (100 + 20 * k, 60 if k < 17 else 140)}, emb={2: ME}) for k in (15, 16, 17)]
    c = counter()
    run(c, first + [frame({})] * 10 + second)
    assert c.tracked == 1       # 2 took over 1's slot


def test_zone_visit_continues_across_the_switch():
    frames = track(1, [150, 220, 240, 250]) + [frame({})] * 5 + track(2, [255, 260, 350])
    events = [e for e in run(counter(), frames) if e.kind == "zone"]
    assert [(e.track_id, e.direction) for e in events] == [(1, "in"), (1, "out")]  # one object, one id
    assert events[1].dwell_s == pytest.approx((11 - 1) / 10)    # entered on frame 1, left on frame 11


def test_best_pairs_win_when_several_switch_at_once():
    a, b = unit(10), unit(11)
    first = [frame({1: (100, y), 2: (130, y)}, emb={1: a, 2: b}) for y in (60, 80)]
    # both lost; 3 looks like 2 and 4 like 1; each starts below the line
    second = [frame({3: (130, y), 4: (100, y)}, emb={3: noisy(b, 1), 4: noisy(a, 2)}) for y in (130, 150)]
    c = counter()
    events = run(c, first + [frame({})] * 2 + second)
    assert sorted(e.track_id for e in events if e.kind == "line") == [1, 2]  # events carry the objects' ids
    assert c.identities(np.array([3, 4])).tolist() == [2, 1]  # 3 continues 2, 4 continues 1


def test_a_turning_movement_survives_an_id_switch(tmp_path):
    """A car enters over `west`, is lost behind something, and the tracker restarts it as id 2
    before it leaves over `north`. Re-ID bridges the switch, so the store sees one object going
    west -> north, not two half-movements (each with one passage, which counts as no movement)."""
    from vigil.store import Store

    west = LineConfig(name="west", points=((50, 0), (50, 400)), min_distance=5)
    north = LineConfig(name="north", points=((0, 50), (400, 50)), min_distance=5)
    path1 = [(20, 300), (40, 300), (70, 300), (100, 300), (130, 280)]   # crosses west
    path2 = [(200, 120), (200, 90), (200, 60), (200, 30), (200, 10)]   # crosses north
    frames = ([frame({1: p}, emb={1: ME}) for p in path1] + [frame({})] * 3
              + [frame({2: p}, emb={2: noisy(ME, 3)}) for p in path2])
    counting = CountingConfig(reid_max_distance=20)  # box heights: the car reappears ~4 of them away
    events = run(CameraCounter("cam", [west, north], [], counting), frames)
    assert [(e.name, e.track_id) for e in events] == [("west", 1), ("north", 1)]
    with Store(f"sqlite:///{tmp_path / 'od.db'}") as store:
        store.write(store.begin_run("cam", "clip.mp4", "h"), events)
        assert [(r["origin"], r["destination"], r["count"]) for r in store.od()] == [("line west", "line north", 1)]
    # Without re-ID the switch is two objects and neither made a movement.
    plain = run(CameraCounter("cam", [west, north], [], counting),
                [frame({1: p}) for p in path1] + [frame({})] * 3 + [frame({2: p}) for p in path2])
    assert sorted(e.track_id for e in plain) == [1, 2]


def test_an_id_the_tracker_recovers_after_its_identity_moved_on_is_a_new_object():
    """Re-ID handed track 1's identity to track 2; then the tracker recovers id 1 on another box.
    Two live objects must not share one identity (their movements and crops would merge)."""
    c = counter()
    frames = track(1, [60, 80]) + [frame({})] * 2 + track(2, [90, 95])
    frames.append(frame({2: (100, 98), 1: (300, 250)}, emb={2: ME, 1: OTHER}))
    run(c, frames)
    ident = c.identities(np.array([2, 1])).tolist()
    assert ident[0] == 1 and ident[1] not in (1, 2), ident
    # Once both are forgotten their identities are free: ids 1 and 2 on new objects (a tracker
    # restarted after a reconnect counts from 1 again) are their own identities.
    run(c, [frame({})] * 60 + [frame({2: (100, 300), 1: (300, 300)}, emb={2: ME, 1: OTHER})], start=len(frames))
    assert c.identities(np.array([2, 1])).tolist() == [2, 1]

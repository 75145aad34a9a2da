"""Zone rules: entries and exits both ways, dwell, occupancy, edge jitter, lost tracks, end of stream."""

from __future__ import annotations

import pytest

from tests.count.countkit import FPS, at, frame, run, tally, walk
from vigil.config.geometry import CountingConfig, ZoneConfig
from vigil.count import CameraCounter

SQUARE = [(100, 100), (200, 100), (200, 200), (100, 200)]


def counter(min_frames: int = 1, lost_after_s: float = 2.0) -> CameraCounter:
    return CameraCounter("cam", [], [ZoneConfig(name="bay", polygon=SQUARE, min_frames=min_frames)],
                         CountingConfig(lost_after_s=lost_after_s, reid_max_gap_s=1.0))


@pytest.mark.parametrize("path", [
    [(50, 150), (150, 150), (150, 160), (150, 170), (250, 150)],     # left to right
    [(250, 150), (150, 150), (150, 160), (150, 170), (50, 150)],     # right to left
    [(150, 50), (150, 150), (150, 160), (150, 170), (150, 250)],     # top to bottom
])
def test_entry_then_exit_with_dwell(path):
    events = walk(counter(), 3, path)
    assert [(e.kind, e.direction) for e in events] == [("zone", "in"), ("zone", "out")]
    entry, exit_ = events
    assert entry.time == at(1) and entry.dwell_s is None
    assert exit_.time == at(4) and exit_.dwell_s == pytest.approx(3 / FPS)


def test_occupancy_per_class_is_entries_minus_exits():
    c = counter()
    frames = [frame({1: (150, 150, "car"), 2: (160, 150, "pedestrian"), 3: (50, 50, "car")}),
              frame({1: (150, 150, "car"), 2: (160, 150, "pedestrian"), 3: (150, 120, "car")}),
              frame({1: (250, 150, "car"), 2: (160, 150, "pedestrian"), 3: (150, 120, "car")})]
    occ = []
    events = []
    for k, f in enumerate(frames):
        events += c.update(f, at(k))
        occ.append(c.occupancy()["bay"])
    assert (occ[0]["car"], occ[0]["pedestrian"]) == (1, 1)
    assert (occ[1]["car"], occ[1]["pedestrian"]) == (2, 1)
    assert (occ[2]["car"], occ[2]["pedestrian"]) == (1, 1)
    assert set(occ[2]) == {"pedestrian", "bicycle", "car", "motorcycle", "bus", "truck"}
    t = tally(events)
    assert t[("zone", "bay", "in")] - t[("zone", "bay", "out")] == sum(occ[2].values())


def test_edge_jitter_is_ignored_with_min_frames():
    wobble = [(95, 150), (105, 150)] * 6
    assert tally(walk(counter(min_frames=1), 1, wobble)) == {("zone", "bay", "in"): 6, ("zone", "bay", "out"): 5}
    assert walk(counter(min_frames=3), 1, wobble) == []
    events = walk(counter(min_frames=3), 1, [(50, 150), (150, 150), (150, 150), (150, 150), (250, 150),
                                             (250, 150), (250, 150)])
    assert [(e.direction, e.time) for e in events] == [("in", at(3)), ("out", at(6))]
    # dwell runs from the first frame inside to the first frame outside, not from the decisions
    assert events[1].dwell_s == pytest.approx(3 / FPS)


def test_lost_track_exits_with_dwell_up_to_its_last_sighting():
    c = counter(lost_after_s=2.0)
    walk(c, 1, [(150, 150)] * 5)                       # inside on frames 0..4
    quiet = run(c, [frame({})] * 20, start=5)          # frames 5..24: 2.0 s after frame 4 is frame 24
    assert quiet == [] and c.occupancy()["bay"]["car"] == 1
    (e,) = c.update(frame({}), at(25))                 # 2.1 s since the last sighting: forgotten
    assert (e.direction, e.track_id, e.time) == ("out", 1, at(4))
    assert e.dwell_s == pytest.approx(0.4)
    assert c.occupancy()["bay"]["car"] == 0 and c.tracked == 0


def test_finish_closes_open_visits_and_forgets_everything():
    c = counter(min_frames=2)
    run(c, [frame({1: (150, 150), 2: (50, 50), 3: (150, 150)})] * 3)
    events = c.finish(at(3))
    assert sorted((e.track_id, e.direction, e.time) for e in events) == [(1, "out", at(2)), (3, "out", at(2))]
    assert all(e.dwell_s == pytest.approx(0.2) for e in events)
    assert c.tracked == 0 and c.occupancy()["bay"]["car"] == 0
    # a new stream starts afresh: the same id entering again is a new visit
    assert [e.direction for e in walk(c, 1, [(150, 150)] * 2, start=100)] == ["in"]


def test_finish_uses_the_start_of_a_pending_exit():
    c = counter(min_frames=3)
    walk(c, 1, [(150, 150)] * 3 + [(250, 150)] * 2)   # entered on frame 0 (decided on 2), leaving since 3
    (e,) = c.finish(at(5))
    assert e.time == at(3) and e.dwell_s == pytest.approx(0.3)


def test_zone_and_line_anchors_are_independent():
    from vigil.config.geometry import LineConfig
    c = CameraCounter("cam", [LineConfig(name="l", points=((0, 300), (400, 300)))],
                      [ZoneConfig(name="top", polygon=SQUARE, anchor="top_center")])
    # bottom-centre at y=230 puts the 40 px box's top at y=190: inside by its top only
    assert tally(walk(c, 1, [(150, 230)])) == {("zone", "top", "in"): 1}

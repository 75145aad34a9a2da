"""Line crossing rules on tiny box sequences, each in both directions."""

from __future__ import annotations

import pytest

from tests.count.countkit import at, frame, run, tally, walk
from vigil.config.geometry import LineConfig
from vigil.count import CameraCounter

# Horizontal line drawn left to right at y=100, x in [0, 200]; in_side 'right' is below it on screen.
A, B = (0.0, 100.0), (200.0, 100.0)
DOWN = [(100, 40), (100, 70), (100, 90), (100, 110), (100, 130), (100, 160)]   # crosses on frame 3
UP = DOWN[::-1]
IN = {("line", "gate", "in"): 1}
OUT = {("line", "gate", "out"): 1}


def counter(**line) -> CameraCounter:
    return CameraCounter("cam", [LineConfig(name="gate", points=line.pop("points", (A, B)), **line)], [])


@pytest.mark.parametrize("path, expected", [(DOWN, IN), (UP, OUT)])
def test_crossing_direction_follows_in_side(path, expected):
    assert tally(walk(counter(), 1, path)) == expected
    flipped = {(k, n, "out" if d == "in" else "in"): v for (k, n, d), v in expected.items()}
    assert tally(walk(counter(in_side="left"), 1, path)) == flipped
    assert tally(walk(counter(points=(B, A)), 1, path)) == flipped   # reversing A->B swaps sides too


def test_event_fields_and_frame_of_decision():
    events = walk(counter(), 7, DOWN, cls="pedestrian")
    (e,) = events
    assert (e.camera_id, e.kind, e.name, e.track_id, e.class_name, e.direction) == \
        ("cam", "line", "gate", 7, "pedestrian", "in")
    assert e.time == at(3) and e.dwell_s is None    # 90 -> 110 is the move that crosses


@pytest.mark.parametrize("path, expected", [([(100, 10), (100, 190)], IN), ([(100, 190), (100, 10)], OUT)])
def test_fast_object_jumping_over_the_line_counts(path, expected):
    # Both positions are far from the line; only the move between them crosses it.
    assert tally(walk(counter(min_distance=20), 1, path)) == expected


@pytest.mark.parametrize("x", [250, 300])
@pytest.mark.parametrize("path_y", [(40, 160), (160, 40)])
def test_crossing_beyond_the_segment_ends_does_not_count(x, path_y):
    assert walk(counter(), 1, [(x, y) for y in path_y]) == []


@pytest.mark.parametrize("path, expected", [
    ([(180, 40), (260, 160)], {}),     # meets y=100 at x=220, beyond B
    ([(260, 40), (120, 160)], IN),     # meets y=100 at x=190, inside the segment
    ([(120, 160), (260, 40)], OUT),
    ([(260, 160), (180, 40)], {}),
])
def test_diagonal_jump_is_judged_where_it_meets_the_line(path, expected):
    assert tally(walk(counter(), 1, path)) == expected


def test_passing_round_the_end_then_back_through_counts_only_the_real_crossing():
    # Down beyond B (no count), then up through the segment: one 'out'.
    path = [(250, 40), (250, 160), (150, 160), (150, 40)]
    assert tally(walk(counter(), 1, path)) == OUT


@pytest.mark.parametrize("start_y", [70, 130])
def test_jitter_on_the_line_is_ignored_with_min_distance(start_y):
    sign = 1 if start_y > 100 else -1
    jitter = [(100, start_y)] + [(100, 100 + sign * (-1) ** k * 4) for k in range(30)] + [(100, start_y)]
    assert tally(walk(counter(min_distance=10), 1, jitter)) == {}
    # Without hysteresis the same wobble crosses both ways (once each, by the default policy).
    assert tally(walk(counter(), 1, jitter)) == {**IN, **OUT}
    # ...and every wobble under policy 'every'.
    assert sum(tally(walk(counter(policy="every"), 1, jitter)).values()) > 20


@pytest.mark.parametrize("path, expected", [(DOWN, IN), (UP, OUT)])
def test_jitter_is_ignored_with_min_frames(path, expected):
    wobble = [(100, 95), (100, 105)] * 10
    assert tally(walk(counter(min_frames=3), 1, [path[0], *wobble, path[0]])) == {}
    events = walk(counter(min_frames=3), 1, path + [path[-1]])
    assert tally(events) == expected
    assert events[0].time == at(5)    # third frame on the new side: frames 3, 4, 5


@pytest.mark.parametrize("path, expected", [(DOWN, IN), (UP, OUT)])
def test_min_distance_waits_until_far_enough(path, expected):
    events = walk(counter(min_distance=30), 1, path)
    assert tally(events) == expected
    assert events[0].time == at(4)     # frame 3 is 10 px past the line, frame 4 is 30 px past


def test_stopping_just_past_the_line_does_not_count_until_it_moves_on():
    c = counter(min_distance=10)
    assert walk(c, 1, [(100, 60), (100, 104), (100, 105), (100, 103)]) == []
    assert tally(walk(c, 1, [(100, 130)], start=4)) == IN


def test_track_born_near_the_line_has_no_side_until_it_is_clear_of_it():
    # Born 3 px above the line: with min_distance 10 that is not 'above', so reaching 'below' is no crossing.
    assert walk(counter(min_distance=10), 1, [(100, 97), (100, 140)]) == []
    assert tally(walk(counter(), 1, [(100, 97), (100, 140)])) == IN


def test_once_per_direction_versus_every_crossing():
    back_and_forth = DOWN + UP + DOWN + UP
    assert tally(walk(counter(policy="once"), 1, back_and_forth)) == {**IN, **OUT}
    assert tally(walk(counter(policy="every"), 1, back_and_forth)) == {("line", "gate", "in"): 2,
                                                                      ("line", "gate", "out"): 2}


def test_once_is_per_track():
    c = counter()
    events = run(c, [frame({1: p, 2: p}) for p in DOWN])
    assert sorted(e.track_id for e in events) == [1, 2]


def test_gap_in_reports_is_bridged_by_the_move_between_sightings():
    c = counter()
    assert walk(c, 1, [(100, 60), (100, 80)]) == []
    assert run(c, [frame({}), frame({})], start=2) == []      # occluded for two frames
    assert tally(walk(c, 1, [(100, 130)], start=4)) == IN


def test_anchor_choice_matters():
    # A 40 px tall box whose bottom goes from 90 to 110: the bottom crosses y=100, the top does not.
    path = [(100, 90), (100, 110)]
    assert tally(walk(counter(), 1, path)) == IN
    assert walk(counter(anchor="top_center"), 1, path) == []
    assert walk(counter(anchor="center"), 1, path) == []
    assert tally(walk(counter(anchor="center"), 1, [(100, 110), (100, 130)])) == IN   # centre 90 -> 110


def test_several_lines_each_with_its_own_rules():
    lines = [LineConfig(name="h", points=(A, B)),
             LineConfig(name="v", points=((100, 0), (100, 200)), in_side="left", policy="every")]
    c = CameraCounter("cam", lines, [])
    # Diagonal path from top-left to bottom-right crosses both; then back over the vertical one only.
    events = walk(c, 1, [(50, 50), (150, 150), (50, 150), (150, 150)])
    # v runs top to bottom; its left (on screen, y down) is +x, so moving right is 'in'.
    assert tally(events) == {("line", "h", "in"): 1, ("line", "v", "in"): 2, ("line", "v", "out"): 1}


def test_vertical_line_in_side_convention():
    # A=(100,0) -> B=(100,200) points down the screen; 'right' of it on screen is -x (the viewer's left).
    c = CameraCounter("cam", [LineConfig(name="v", points=((100, 0), (100, 200)), in_side="right")], [])
    assert tally(walk(c, 1, [(150, 100), (50, 100)])) == {("line", "v", "in"): 1}


def test_ignores_unassigned_rows_and_duplicate_ids():
    from vigil.types import Detections
    c = counter()
    rows = Detections(xyxy=[[90, 30, 110, 70]] * 3, tracker_id=[-1, 5, 5])
    assert c.update(rows, at(0)) == [] and c.tracked == 1
    rows = Detections(xyxy=[[90, 90, 110, 130]] * 3, tracker_id=[-1, 5, 5])
    assert [e.track_id for e in c.update(rows, at(1))] == [5]


def test_naive_time_is_rejected():
    from datetime import datetime
    with pytest.raises(ValueError, match="timezone-aware"):
        counter().update(frame({1: (1, 1)}), datetime(2024, 1, 1))

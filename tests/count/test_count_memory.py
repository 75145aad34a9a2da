"""State stays bounded on a long stream: lost tracks are forgotten and their slots reused."""

from __future__ import annotations

import numpy as np

from tests.count.countkit import at, frame, run, tally, unit, walk
from vigil.config.geometry import CountingConfig, LineConfig, ZoneConfig
from vigil.count import CameraCounter


def test_long_stream_keeps_state_bounded_and_counts_every_track():
    # 1 500 tracks over ~8 simulated minutes at 10 fps, 6 alive at a time, each crossing the line
    # once and passing through the zone; every one carries an embedding.
    c = CameraCounter("cam", [LineConfig(name="gate", points=((0, 100), (1000, 100)))],
                      [ZoneConfig(name="bay", polygon=[(0, 120), (1000, 120), (1000, 160), (0, 160)])],
                      CountingConfig(lost_after_s=1.0, reid_max_gap_s=0.5))
    life, alive, n_tracks = 20, 6, 1500
    looks = [unit(i, dim=16) for i in range(50)]
    frames = (n_tracks // alive) * life
    sizes, events = [], []
    for k in range(frames + 20):
        objs, emb = {}, {}
        for slot in range(alive):
            tid = (k // life) * alive + slot       # ids never repeat, like a real tracker's
            age = k % life
            if tid < n_tracks and k < frames:
                objs[tid] = (100 + 150 * slot, 10 * age)     # y from 0 to 190: crosses 100, passes the zone
                emb[tid] = looks[tid % 50]
        events += c.update(frame(objs, emb=emb), at(k))
        sizes.append(c.tracked)
    t = tally(events)
    assert t[("line", "gate", "in")] == n_tracks - n_tracks % alive
    assert t[("zone", "bay", "in")] == t[("zone", "bay", "out")] == n_tracks - n_tracks % alive
    # held tracks: the ones alive plus those lost for under a second (10 frames), never more
    assert max(sizes) <= alive * 2
    assert c.tracked == 0 and len(c._table.slot_of) == 0
    assert c._table.capacity <= 64
    assert len(c._ids) == 0 and c._ids._table.capacity <= 64  # the stitcher forgets with the counter
    assert c.occupancy()["bay"]["car"] == 0


def test_track_back_after_being_forgotten_starts_afresh():
    c = CameraCounter("cam", [LineConfig(name="gate", points=((0, 100), (400, 100)))], [],
                      CountingConfig(lost_after_s=1.0, reid_max_gap_s=0.5))
    assert tally(walk(c, 1, [(50, 60), (50, 140)])) == {("line", "gate", "in"): 1}
    # 0.3 s later back above (out) and down again: the second "in" is the same track, not counted
    assert tally(walk(c, 1, [(50, 60), (50, 140)], start=5)) == {("line", "gate", "out"): 1}
    run(c, [frame({})] * 11, start=7)                               # 1.1 s without it: forgotten
    assert c.tracked == 0
    assert tally(walk(c, 1, [(50, 60), (50, 140)], start=18)) == {("line", "gate", "in"): 1}


def test_finish_frees_everything():
    c = CameraCounter("cam", [LineConfig(name="gate", points=((0, 100), (400, 100)))], [])
    run(c, [frame({i: (i, 50) for i in range(200)}, emb={i: unit(i) for i in range(200)})])
    assert c.tracked == 200
    c.finish(at(1))
    assert c.tracked == 0 and np.all(c._table.track_id == -1)
    assert len(c._ids) == 0

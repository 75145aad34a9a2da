"""Tracker behaviour on crafted scenes: crossings, occlusions, lost-track recovery by time,
confirmation, ids per instance, appearance, classes, and bounded memory over a long run."""

import gc
import weakref

import numpy as np
import pytest

from vigil.bench.synthetic_scene import SyntheticScene
from vigil.config.tracker import TrackerConfig
from vigil.track import Tracker
from vigil.types import Detections


def dets(boxes, conf=None, cls=None, emb=None, embedded=None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(xyxy=boxes, confidence=None if conf is None else np.asarray(conf),
                      class_id=None if cls is None else np.asarray(cls), embedding=emb, embedded=embedded)


def person(cx: float, cy: float = 200.0, w: float = 40.0, h: float = 100.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def id_at(tracks: Detections, cx: float) -> int:
    """Id of the reported track whose box centre is nearest to x = cx."""
    centres = (tracks.xyxy[:, 0] + tracks.xyxy[:, 2]) / 2
    return int(tracks.tracker_id[np.argmin(np.abs(centres - cx))])


def run_crossing(tracker: Tracker, hide_b: range = range(0), fps: float = 30.0, speed: float = 150.0):
    """A walks right from x=100, B walks left from x=500, both at `speed` px/s, same height;
    B (behind A) is not detected on frames in `hide_b`. Returns the first and last frame's tracks."""
    first = last = None
    n = int(round(400 / speed * fps))
    for f in range(n + 1):
        t = f / fps
        a, b = 100 + speed * t, 500 - speed * t
        boxes = [person(a)] + ([] if f in hide_b else [person(b, cy=205)])
        out = tracker.update(dets(boxes), t)
        if f == 1:
            first = out
        last = out
    return first, last


@pytest.mark.parametrize("hide", [range(0), range(12, 30)], ids=["visible", "occluded"])
@pytest.mark.parametrize("fps", [30.0, 12.5])
def test_crossing_paths_keep_their_ids(hide, fps):
    hide = range(int(hide.start * fps / 30), int(hide.stop * fps / 30))
    first, last = run_crossing(Tracker(), hide, fps)
    assert len(first) == 2 and len(last) == 2
    a_id, b_id = id_at(first, 100), id_at(first, 500)
    assert a_id != b_id
    assert id_at(last, 500) == a_id, "A (walking right) must end on the right with its own id"
    assert id_at(last, 100) == b_id


def test_ids_are_per_instance_and_reset_restarts_them():
    one, two = Tracker(), Tracker()
    for f in range(3):
        out1 = one.update(dets([person(100 + f), person(300 + f)]), f / 30)
        out2 = two.update(dets([person(100 + f)]), f / 30)
    assert sorted(out1.tracker_id) == [1, 2]
    assert list(out2.tracker_id) == [1]  # not 3: the other tracker's ids are not shared
    one.reset()
    out = one.update(dets([person(50)]), 0.0)
    assert list(out.tracker_id) == [1]


@pytest.mark.parametrize("newcomer_conf, reported_on", [(0.7, 3), (0.95, 1)], ids=["doubtful", "confident"])
def test_new_track_confirmation_depends_on_its_birth_confidence(newcomer_conf, reported_on):
    """A doubtful birth waits for min_hits matched frames; one at least instant_confirm_threshold
    confident is reported on its first frame (ByteTrack reports only the stream's first frame so)."""
    trk = Tracker(TrackerConfig(min_hits=3, instant_confirm_threshold=0.9))
    assert len(trk.update(dets([person(100)]), 0.0)) == 1  # the stream's first frame reports at once
    for f in range(1, 5):
        trk.update(dets([person(100 + f)]), f / 30)
    for k in range(1, 4):
        out = trk.update(dets([person(104 + k), person(400 + k)], conf=[1.0, newcomer_conf]), (4 + k) / 30)
        assert sorted(out.tracker_id) == ([1, 2] if k >= reported_on else [1]), f"newcomer's frame {k}"


def test_low_confidence_detection_does_not_start_a_track_but_keeps_one():
    cfg = TrackerConfig()
    trk = Tracker(cfg)
    trk.update(dets([person(100)], conf=[0.9]), 0.0)
    low = (cfg.low_threshold + cfg.high_threshold) / 2
    out = trk.update(dets([person(101), person(400)], conf=[low, low]), 1 / 30)
    assert list(out.tracker_id) == [1]  # the weak box continues track 1 (ByteTrack's second stage) ...
    for f in range(2, 5):  # ... and a weak box alone never becomes a track
        out = trk.update(dets([person(100 + f), person(400)], conf=[0.9, low]), f / 30)
    assert list(out.tracker_id) == [1]


@pytest.mark.parametrize("fps", [30.0, 10.0])
def test_lost_track_recovery_is_by_time_not_frames(fps):
    def gap_then_return(gap_s: float) -> tuple[int, int]:
        trk = Tracker(TrackerConfig(max_lost_seconds=1.0))
        t = 0.0
        for _ in range(int(fps)):  # 1 s visible, standing still
            before = trk.update(dets([person(200)]), t)
            t += 1 / fps
        t += gap_s  # hidden
        trk.update(dets([person(202)]), t)
        after = trk.update(dets([person(203)]), t + 1 / fps)
        return int(before.tracker_id[0]), int(after.tracker_id[0])

    a, b = gap_then_return(0.6)
    assert a == b, "a 0.6 s gap is recovered"
    a, b = gap_then_return(1.5)
    assert a != b, "after max_lost_seconds the track is gone"


def test_classes_do_not_mix():
    trk = Tracker()
    for f in range(3):
        out = trk.update(dets([person(100 + f)], cls=[0]), f / 30)
    pid = int(out.tracker_id[0])
    trk.update(dets([person(103)], cls=[2]), 3 / 30)
    out = trk.update(dets([person(104)], cls=[2]), 4 / 30)
    assert len(out) == 1 and int(out.tracker_id[0]) != pid and int(out.class_id[0]) == 2


def test_embeddings_are_carried_and_keep_identities_through_an_ambiguous_occlusion():
    rng = np.random.default_rng(1)
    e = rng.normal(size=(2, 64)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)

    def run(with_appearance: bool) -> tuple[int, int, Detections]:
        trk = Tracker()
        f = 0
        for f in range(30):  # A walks right, B walks left, slowly, towards each other
            emb = e if with_appearance else None
            out = trk.update(dets([person(200 + 2 * f), person(320 - 2 * f)], emb=emb), f / 30)
        a_id, b_id = id_at(out, 258), id_at(out, 262)
        # both hidden for 6 frames, then both turn back: A reappears on the left, B on the right
        f += 7
        for k in range(3):
            emb = e if with_appearance else None
            out = trk.update(dets([person(250 - 2 * k), person(270 + 2 * k)], emb=emb), (f + k) / 30)
        return a_id, b_id, out

    a_id, b_id, out = run(with_appearance=True)
    assert id_at(out, 240) == a_id and id_at(out, 280) == b_id
    np.testing.assert_array_equal(out.embedding[np.argsort(out.xyxy[:, 0])], e)


def test_bounded_memory_over_a_long_run_and_inputs_are_not_retained():
    """Objects live 1 s then are replaced; after thousands of frames the tracker holds only live
    tracks, and none of the frames, detections or embeddings it was given (weak references)."""
    scene = SyntheticScene(objects=15, lifetime_frames=30, miss_rate=0.1, seed=3)
    trk = Tracker(TrackerConfig(camera_motion="sparse_flow"))
    refs, sizes = [], []
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    looks = rng.normal(size=(5000, 16)).astype(np.float32)  # one appearance per true object
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    for f, (t, d, truth) in enumerate(scene.frames(2000)):
        d.embedding = looks[truth % len(looks)]
        frame = np.roll(image, f % 5, axis=1)
        trk.update(d, t, frame)
        if f % 50 == 0:
            refs += [weakref.ref(d), weakref.ref(d.embedding), weakref.ref(frame)]
        sizes.append(len(trk.tracks))
        del d, frame
    gc.collect()
    assert trk._next_id > 500, "tracks really turned over"
    # live objects, plus each replaced object's lost track for max_lost_seconds, plus slack
    lost_per_object = trk.cfg.max_lost_seconds * scene.fps / scene.lifetime_frames
    assert max(sizes[100:]) <= scene.objects * (2 + lost_per_object), "track table stays bounded"
    assert max(sizes[1000:]) <= max(sizes[100:1000]) + 5, "no growth late in the run"
    assert sum(r() is not None for r in refs) == 0, "inputs must not be kept alive by the tracker"


def test_tracks_on_a_synthetic_scene_rarely_switch():
    scene = SyntheticScene(objects=20, miss_rate=0.05, jitter=1.0, seed=7)
    trk = Tracker()
    pairs: dict[int, set] = {}
    for t, d, truth in scene.frames(300):
        out = trk.update(d, t)
        # map each reported box back to its true object through its exact box (unique per frame)
        for box, tid in zip(out.xyxy, out.tracker_id):
            k = int(np.argmin(np.abs(d.xyxy - box).sum(1)))
            pairs.setdefault(int(truth[k]), set()).add(int(tid))
    fragments = sum(len(v) - 1 for v in pairs.values())
    assert fragments <= 3, f"{fragments} id changes on 20 well-separated objects"


def test_irregular_timestamps_and_dropped_frames():
    """Frames arrive at jittered times with some dropped: ids hold because motion is in seconds."""
    rng = np.random.default_rng(5)
    trk = Tracker()
    t, ids = 0.0, set()
    for f in range(120):
        t += rng.uniform(0.02, 0.06) * (3 if f % 17 == 0 else 1)  # every 17th step skips frames
        out = trk.update(dets([person(50 + 120 * t), person(600 - 120 * t, cy=320)]), t)
        if f > 2:
            ids |= set(out.tracker_id.tolist())
    assert ids == {1, 2}


def test_lost_track_is_reidentified_by_appearance_without_overlap():
    """A person hidden for 0.8 s reappears further along than the box overlap reaches; appearance
    (within the motion gate) gives the old id back, while a stranger nearby gets a new one."""
    rng = np.random.default_rng(2)
    look = rng.normal(size=(2, 32)).astype(np.float32)
    look /= np.linalg.norm(look, axis=1, keepdims=True)
    trk = Tracker()
    for f in range(20):  # walks right at 120 px/s
        out = trk.update(dets([person(100 + 4 * f, w=30)], emb=look[:1]), f / 30)
    pid = int(out.tracker_id[0])
    f += 24  # hidden 0.8 s, then seen 35 px short of the predicted place (no overlap with it)
    for k in range(2):
        out = trk.update(dets([person(100 + 4 * f - 35 + 4 * k, w=30), person(700, w=30)], emb=look),
                         (f + k) / 30)
    assert id_at(out, 100 + 4 * f) == pid
    assert id_at(out, 700) != pid


def test_camera_motion_compensation_follows_a_shaking_camera():
    """The camera shakes by up to 30 px between frames; a standing person jumps on screen with the
    scene. The estimated warp matches the shift, and with compensation the track holds although
    the detector misses the person every other frame; without it, the id is lost."""
    from vigil.track.camera_motion import CameraMotion

    rng = np.random.default_rng(0)
    world = (rng.random((240, 600)) * 255).astype(np.uint8)
    world = np.repeat(np.repeat(world, 2, 0), 2, 1)  # blocky texture with corners to track
    cmc = CameraMotion("sparse_flow")
    assert cmc.estimate(np.dstack([world[:, 100:740]] * 3)) is None
    warp = cmc.estimate(np.dstack([world[:, 112:752]] * 3))
    assert warp[0, 2] == pytest.approx(-12, abs=1.0) and warp[1, 2] == pytest.approx(0, abs=1.0)

    def run(method: str) -> set:
        trk = Tracker(TrackerConfig(camera_motion=method))
        ids = set()
        for f in range(30):
            offset = 100 + int(30 * np.sin(1.3 * f))
            image = np.dstack([world[:, offset:offset + 640]] * 3)
            seen = f < 4 or f % 2 == 0
            x = 400 - (offset - 100)  # standing still in the world
            out = trk.update(dets([person(x, w=30, h=60)] if seen else []), f / 30, image)
            ids |= set(out.tracker_id.tolist())
        return ids

    assert run("sparse_flow") == {1}
    assert len(run("none")) > 1


@pytest.mark.parametrize("lost_match_iou, keeps", [(0.1, True), (0.2, False)])
def test_lost_track_whose_prediction_drifted_gets_a_looser_second_chance(lost_match_iou, keeps):
    """A walker stops while hidden for 5 frames: the prediction runs on ~25 px (IoU ~0.17 with the
    reappearing box, below match_iou 0.2). The lost-track stage at a lower IoU keeps the identity;
    with it off (lost_match_iou = match_iou) the walker comes back under a new id."""
    trk = Tracker(TrackerConfig(match_iou=0.2, lost_match_iou=lost_match_iou))
    fps, x = 30.0, 100.0
    for f in range(30):
        x = 100 + 150 * f / fps
        out = trk.update(dets([person(x)]), f / fps)
    walker = int(out.tracker_id[0])
    for f in range(30, 35):
        trk.update(Detections.empty(), f / fps)
    for f in range(35, 37):
        out = trk.update(dets([person(x)]), f / fps)
    assert len(out) == 1
    assert (int(out.tracker_id[0]) == walker) == keeps


def test_detection_marked_not_embedded_is_matched_by_motion():
    """A degenerate crop (or a row nobody wanted) is marked not embedded: it has no appearance to
    compare, so the track must still take it by motion, whatever its vector holds (read as an
    appearance, this one is orthogonal to the track's: unmatchable, and a new id)."""
    e = np.zeros((1, 16), np.float32)
    e[0, 3] = 1.0
    other = np.roll(e, 5, axis=1)
    trk = Tracker()
    for f in range(10):
        out = trk.update(dets([person(100 + 3 * f)], emb=e), f / 30)
    walker = int(out.tracker_id[0])
    for f in range(10, 13):
        out = trk.update(dets([person(100 + 3 * f)], emb=other, embedded=[False]), f / 30)
        assert list(out.tracker_id) == [walker]
        assert out.embedded.tolist() == [False]  # the mask travels with the reported row
    out = trk.update(dets([person(139)], emb=e), 13 / 30)
    assert list(out.tracker_id) == [walker]


def _unit(rng, n, dim=8):
    e = rng.normal(size=(n, dim)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_embedding_wanted_skips_only_plain_continuations_and_refreshes_on_time():
    rng = np.random.default_rng(5)
    look = _unit(rng, 3)
    trk = Tracker()
    far = person(600)
    # nothing tracked yet: everything is wanted
    assert trk.embedding_wanted(dets([person(100)]), 0.0, 1.0).tolist() == [True]
    for f in range(5):  # one person walking alone, embedded every frame
        trk.update(dets([person(100 + 3 * f)], conf=[0.9], emb=look[:1]), f / 30)
    state = {k: v.copy() for k, v in vars(trk.tracks).items() if isinstance(v, np.ndarray)}
    t = 5 / 30
    wanted = trk.embedding_wanted(dets([person(115), far]), t, 1.0)
    assert wanted.tolist() == [False, True]  # the plain continuation goes without; a newcomer is embedded
    for k, v in vars(trk.tracks).items():  # asking changes nothing
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, state[k])
    # a second detection overlapping the track's box: a crowd, both embedded
    assert trk.embedding_wanted(dets([person(115), person(125)]), t, 1.0).tolist() == [True, True]
    # the appearance was refreshed at t=4/30; after the refresh interval it is wanted again
    assert trk.embedding_wanted(dets([person(115)]), 4 / 30 + 1.01, 1.0).tolist() == [True]
    # a detection barely touching the prediction is not a plain continuation
    assert trk.embedding_wanted(dets([person(140)]), t, 1.0).tolist() == [True]


def test_embedding_wanted_counts_tracks_without_fresh_appearance_as_rivals():
    rng = np.random.default_rng(7)
    look = _unit(rng, 1)
    trk = Tracker()
    for f in range(4):  # A has a fresh appearance; B, close beside it, was never embedded
        both = dets([person(100 + 3 * f), person(115 + 3 * f)], conf=[0.9, 0.9],
                    emb=np.concatenate([look, look]), embedded=[True, False])
        trk.update(both, f / 30)
    assert np.isfinite(trk.tracks.t_emb).sum() == 1
    # a detection on A, which B's predicted box also overlaps: ambiguous, embedded
    assert trk.embedding_wanted(dets([person(112)]), 4 / 30, 1.0).tolist() == [True]


def test_rows_not_embedded_leave_the_track_appearance_and_refresh_time_alone():
    rng = np.random.default_rng(6)
    look = _unit(rng, 1)
    trk = Tracker()
    for f in range(4):
        trk.update(dets([person(100 + 3 * f)], conf=[0.9], emb=look), f / 30)
    before, t_emb = trk.tracks.embedding.copy(), trk.tracks.t_emb.copy()
    np.testing.assert_allclose(t_emb, [3 / 30])
    out = trk.update(dets([person(112)], conf=[0.9], emb=-look, embedded=[False]), 4 / 30)
    assert len(out) == 1  # matched by motion
    np.testing.assert_array_equal(trk.tracks.embedding, before)
    np.testing.assert_array_equal(trk.tracks.t_emb, t_emb)
    trk.update(dets([person(115)], conf=[0.9], emb=look), 5 / 30)
    np.testing.assert_allclose(trk.tracks.t_emb, [5 / 30])
    # a track born without any embedding has never been refreshed
    fresh = Tracker()
    fresh.update(dets([person(100)], conf=[0.9], emb=look, embedded=[False]), 0.0)
    assert np.isneginf(fresh.tracks.t_emb).all()
    assert fresh.embedding_wanted(dets([person(101)]), 1 / 30, 1.0).tolist() == [True]

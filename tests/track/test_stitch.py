"""Identity stitching on its own: which new track id continues a recently lost one."""

import numpy as np

from vigil.track.stitch import IdentityStitcher
from vigil.types import CLASS_IDS, Detections

CAR, PED = CLASS_IDS["car"], CLASS_IDS["pedestrian"]


def look(i: int, dim: int = 8) -> np.ndarray:
    e = np.zeros(dim, np.float32)
    e[i] = 1.0
    return e


def seen(ids, xs, looks, cls=CAR, embedded=None) -> Detections:
    xyxy = [[x - 20, 100, x + 20, 140] for x in xs]
    return Detections(xyxy=xyxy, tracker_id=ids, class_id=np.full(len(ids), cls),
                      embedding=np.array(looks, np.float32), embedded=embedded)


def stitcher() -> IdentityStitcher:
    return IdentityStitcher(max_gap_s=1.0, max_distance=2.0, min_similarity=0.75)


def test_a_new_id_that_looks_like_a_lost_one_nearby_continues_it():
    s = stitcher()
    for k in range(5):  # id 1 drives right at 100 px/s, id 2 stands still far away
        assert s.update(seen([1, 2], [100 + 10 * k, 400], [look(0), look(1)]), k * 0.1).tolist() == [-1, -1]
    # id 1 is lost for half a second and comes back as id 7 where its velocity took it
    got = s.update(seen([2, 7], [400, 190], [look(1), look(0)]), 0.9)
    assert got.tolist() == [-1, 1]
    assert len(s) == 2  # id 1 is forgotten: its identity now belongs to 7
    assert s.classes([7]).tolist() == [CAR]


def test_no_continuation_across_looks_classes_the_gap_or_a_row_not_embedded():
    for new_look, cls, t, embedded in [(look(3), CAR, 0.5, None),     # another appearance
                                       (look(0), PED, 0.5, None),     # another class group
                                       (look(0), CAR, 1.5, None),     # lost for too long
                                       (look(0), CAR, 0.5, [False])]:  # no appearance to compare
        s = stitcher()
        s.update(seen([1], [100], [look(0)]), 0.0)
        assert s.update(seen([5], [105], [new_look], cls=cls, embedded=embedded), t).tolist() == [-1]


def test_forgotten_ids_are_never_continued():
    s = stitcher()
    s.update(seen([1], [100], [look(0)]), 0.0)
    s.forget([1])
    assert len(s) == 0
    assert s.update(seen([5], [100], [look(0)]), 0.2).tolist() == [-1]


def test_class_is_the_vote_of_every_sighting():
    s = stitcher()
    for k, cls in enumerate([CAR, CLASS_IDS["truck"], CAR]):
        s.update(seen([3], [100], [look(0)], cls=cls), k * 0.1)
    assert s.classes([3]).tolist() == [CAR]


def test_a_pipelines_groups_decide_which_classes_may_continue_each_other():
    from vigil.config.pipeline import DetectorConfig

    # A forklift model: forklift joins the vehicles, pallet_truck stays a group of its own.
    vocab = DetectorConfig(weights="x.pt", classes={"forklift": "forklift", "pallet": "pallet_truck"},
                           groups={"forklift": "vehicle"}).vocabulary
    for new_cls, continues in [(vocab.id("forklift"), True), (CAR, True), (vocab.id("pallet_truck"), False)]:
        s = IdentityStitcher(max_gap_s=1.0, max_distance=2.0, min_similarity=0.75, vocab=vocab)
        for k in range(3):
            s.update(seen([1], [100 + 10 * k], [look(0)], cls=vocab.id("forklift")), k * 0.1)
        got = s.update(seen([7], [140], [look(0)], cls=new_cls), 0.4)
        assert got.tolist() == ([1] if continues else [-1]), vocab.names[new_cls]
    assert s.classes([7]).tolist() == [vocab.id("pallet_truck")]  # 8 classes voted, the new ones included

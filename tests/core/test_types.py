from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from vigil.types import CLASS_IDS, COCO_TO_VIGIL, DIRECTIONS, EVENT_KINDS, CountEvent, Detections, class_group


def dets(n=3, emb=False):
    xyxy = np.array([[i, i, i + 10, i + 20] for i in range(n)], dtype=np.float64)
    return Detections(xyxy=xyxy, confidence=np.linspace(0.5, 0.9, n), class_id=np.arange(n),
                      embedding=np.eye(n, 4) if emb else None)


def test_defaults_and_dtypes():
    d = Detections(xyxy=[[0, 0, 1, 1], [1, 1, 2, 2]])
    assert d.xyxy.dtype == np.float32 and d.confidence.dtype == np.float32
    assert d.class_id.dtype == np.int32 and d.tracker_id.dtype == np.int64
    assert d.tracker_id.tolist() == [-1, -1]
    assert d.confidence.tolist() == [1.0, 1.0]
    assert len(d) == 2


def test_empty_has_right_shapes():
    d = Detections.empty(embedding_dim=8)
    assert d.xyxy.shape == (0, 4) and d.embedding.shape == (0, 8) and len(d) == 0
    assert len(Detections(xyxy=np.zeros((0, 4)))) == 0
    assert len(Detections(xyxy=[])) == 0


@pytest.mark.parametrize("kwargs, msg", [
    ({"xyxy": np.zeros((3, 5))}, "xyxy must have shape"),
    ({"xyxy": np.zeros(4)}, "xyxy must have shape"),
    ({"xyxy": np.zeros((2, 4)), "confidence": np.ones(3)}, "confidence has 3 rows"),
    ({"xyxy": np.zeros((2, 4)), "class_id": np.ones((2, 1))}, "class_id must have shape"),
    ({"xyxy": np.zeros((2, 4)), "tracker_id": [1]}, "tracker_id has 1 rows"),
    ({"xyxy": np.zeros((2, 4)), "embedding": np.ones((3, 8))}, "embedding must have shape"),
])
def test_shape_checks(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        Detections(**kwargs)


def test_mask_and_index_select_rows_in_every_array():
    d = dets(4, emb=True)
    m = d[d.confidence > 0.7]  # 0.5, 0.63, 0.77, 0.9
    assert len(m) == 2
    assert m.class_id.tolist() == [2, 3]
    assert np.allclose(m.xyxy[:, 0], [2, 3])
    assert m.embedding.shape == (2, 4) and np.allclose(m.embedding, np.eye(4)[2:])
    one = d[1]
    assert len(one) == 1 and one.class_id.tolist() == [1]
    assert d[np.array([3, 0])].class_id.tolist() == [3, 0]
    # selection copies nothing back: editing the result leaves the source alone
    m.xyxy[:] = -1
    assert d.xyxy.min() >= 0


def test_merge_keeps_embeddings_only_when_all_have_them():
    a, b = dets(2, emb=True), dets(3, emb=True)
    m = Detections.merge([a, b])
    assert len(m) == 5 and m.embedding.shape == (5, 4)
    assert Detections.merge([a, dets(1)]).embedding is None
    assert len(Detections.merge([])) == 0


def test_anchors():
    d = Detections(xyxy=[[10, 20, 30, 60]])
    assert d.anchors("bottom_center").tolist() == [[20, 60]]
    assert d.anchors("center").tolist() == [[20, 40]]
    assert d.anchors("top_left").tolist() == [[10, 20]]
    assert d.anchors("bottom_right").tolist() == [[30, 60]]
    with pytest.raises(ValueError, match="unknown anchor"):
        d.anchors("middle")
    assert d.area.tolist() == [800]


def test_class_map():
    assert COCO_TO_VIGIL[0] == CLASS_IDS["pedestrian"]
    assert COCO_TO_VIGIL[7] == CLASS_IDS["truck"] and COCO_TO_VIGIL[5] == CLASS_IDS["bus"]
    assert 4 not in COCO_TO_VIGIL  # airplane is not a Vigil class
    assert class_group("car") == "vehicle" and class_group("pedestrian") == "pedestrian"


def test_count_event_is_checked_where_it_is_made():
    """Kinds, directions and tz-aware times are checked in one place: CountEvent itself."""
    t = datetime(2026, 11, 1, 8, tzinfo=UTC)
    ok = CountEvent("cam", "zone", "Z", 3, "car", "out", t, dwell_s=2.5)
    assert (ok.kind, ok.direction, ok.dwell_s) == ("zone", "out", 2.5)
    assert CountEvent("cam", "line", "L", 1, "car", "in", t.astimezone(timezone(timedelta(hours=2)))).time == t
    assert EVENT_KINDS == ("line", "zone") and DIRECTIONS == ("in", "out")
    with pytest.raises(ValueError, match="kind must be one of line, zone, got 'area'"):
        CountEvent("cam", "area", "L", 1, "car", "in", t)
    with pytest.raises(ValueError, match="direction must be one of in, out, got 'up'"):
        CountEvent("cam", "line", "L", 1, "car", "up", t)
    with pytest.raises(ValueError, match="timezone-aware"):
        CountEvent("cam", "line", "L", 1, "car", "in", datetime(2026, 11, 1, 8))
    with pytest.raises(ValueError, match="timezone-aware"):
        CountEvent("cam", "line", "L", 1, "car", "in", 1762000000.0)


def test_embedded_mask_says_which_embeddings_are_real_and_travels_with_the_rows():
    d = dets(3, emb=True)
    assert d.embedded is None and d.has_embedding.tolist() == [True, True, True]  # no mask: every row
    assert dets(2).has_embedding.tolist() == [False, False]                       # no embedding: none
    m = Detections(xyxy=d.xyxy, embedding=d.embedding, embedded=[True, False, True])
    assert m.embedded.dtype == bool
    assert m[[2, 1]].embedded.tolist() == [True, False] and m[0].has_embedding.tolist() == [True]
    merged = Detections.merge([m, d[:1]])
    assert merged.has_embedding.tolist() == [True, False, True, True]
    assert Detections.merge([d, d]).embedded is None
    with pytest.raises(ValueError, match="embedded has 2 rows, xyxy has 3"):
        Detections(xyxy=d.xyxy, embedding=d.embedding, embedded=[True, False])
    with pytest.raises(ValueError, match="embedding is None"):
        Detections(xyxy=d.xyxy, embedded=[True, True, True])

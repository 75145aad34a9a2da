"""Kalman predict/update and the assignment primitives on crafted numbers."""

import numpy as np
import pytest

from vigil.track.kalman import BoxKalman, xywh_to_xyxy, xyxy_to_xywh
from vigil.track.matching import INFEASIBLE, iou_matrix, linear_assignment


def test_predict_moves_by_velocity_times_dt_and_grows_uncertainty():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 200.0, 40.0, 100.0]]))
    mean[0, 4:6] = [30.0, -10.0]  # px/s
    m1, c1 = kf.predict(mean, cov, 0.5)
    assert m1[0, :4] == pytest.approx([115.0, 195.0, 40.0, 100.0])
    assert np.all(c1[0, 0] > cov[0, 0])  # position variances grew
    # two half steps land on the same mean as one full step
    m2, _ = kf.predict(*kf.predict(mean, cov, 0.25), 0.25)
    assert m2 == pytest.approx(m1)


def test_update_pulls_towards_measurement_and_shrinks_covariance():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 40.0, 100.0]]))
    mean, cov = kf.predict(mean, cov, 1 / 30)
    z = np.array([[110.0, 100.0, 40.0, 100.0]])
    m, c = kf.update(mean, cov, z)
    assert 100.0 < m[0, 0] < 110.0
    assert m[0, 4] > 0  # learnt a rightward velocity
    full, before = BoxKalman.full_covariance(c)[0], BoxKalman.full_covariance(cov)[0]
    assert np.all(np.diag(full) < np.diag(before))
    assert np.all(np.linalg.eigvalsh(full) > 0)


def test_batched_equals_one_by_one():
    kf = BoxKalman()
    boxes = np.array([[100.0, 100.0, 40.0, 100.0], [300.0, 50.0, 80.0, 60.0], [10.0, 10.0, 5.0, 12.0]])
    z = boxes + [[3, -2, 1, 2], [-5, 4, 0, -3], [1, 1, 0.5, 0.2]]
    mean, cov = kf.predict(*kf.initiate(boxes), 0.04)
    mb, cb = kf.update(mean, cov, z)
    for i in range(3):
        mi, ci = kf.update(mean[i:i + 1], cov[i:i + 1], z[i:i + 1])
        np.testing.assert_allclose(mi[0], mb[i])
        np.testing.assert_allclose(ci[0], cb[i])


def reference_kalman_step(mean, cov, z, dt, kf):
    """Textbook full-matrix Kalman predict + update (8x8 F, Q; 4x8 H; 4x4 R), one track."""
    f = np.eye(8)
    f[:4, 4:] = dt * np.eye(4)
    size = mean[[2, 3, 2, 3]]
    steps = dt / (1 / 30)
    q = np.diag(np.r_[(kf.std_position * size) ** 2, (kf.std_velocity * 30 * size) ** 2] * steps)
    m = f @ mean
    p = f @ cov @ f.T + q
    h = np.hstack([np.eye(4), np.zeros((4, 4))])
    r = np.diag((kf.std_measurement * m[[2, 3, 2, 3]]) ** 2)
    s = h @ p @ h.T + r
    k = p @ h.T @ np.linalg.inv(s)
    return m + k @ (z - h @ m), (np.eye(8) - k @ h) @ p


def test_compact_filter_equals_the_full_matrix_filter():
    kf = BoxKalman()
    rng = np.random.default_rng(0)
    boxes = np.c_[rng.uniform(0, 500, (5, 2)), rng.uniform(20, 80, (5, 2))]
    mean, cov = kf.initiate(boxes)
    ref = [(mean[i], BoxKalman.full_covariance(cov)[i]) for i in range(5)]
    for step in range(6):
        dt = [1 / 30, 1 / 14, 0.2][step % 3]
        z = mean[:, :4] + rng.normal(0, 3, (5, 4))
        mean, cov = kf.update(*kf.predict(mean, cov, dt), z)
        ref = [reference_kalman_step(m, c, z[i], dt, kf) for i, (m, c) in enumerate(ref)]
    for i in range(5):
        np.testing.assert_allclose(mean[i], ref[i][0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(BoxKalman.full_covariance(cov)[i], ref[i][1], rtol=1e-9, atol=1e-9)


def test_gating_distance_grows_with_offset():
    kf = BoxKalman()
    mean, cov = kf.predict(*kf.initiate(np.array([[100.0, 100.0, 40.0, 100.0]])), 1 / 30)
    z = np.array([[100.0, 100.0, 40.0, 100.0], [110.0, 100.0, 40.0, 100.0], [200.0, 100.0, 40.0, 100.0]])
    for dims in (2, 4):
        d = kf.gating_distance(mean, cov, z, dims)[0]
        assert d[0] == pytest.approx(0.0, abs=1e-9) and d[0] < d[1] < d[2]


def test_box_conversions_round_trip():
    xyxy = np.array([[10.0, 20.0, 50.0, 120.0]])
    assert xyxy_to_xywh(xyxy)[0] == pytest.approx([30.0, 70.0, 40.0, 100.0])
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(xyxy)), xyxy)


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]], float)
    iou = iou_matrix(a, b)
    assert iou[0] == pytest.approx([1.0, 50 / 150, 0.0])
    assert iou[1] == pytest.approx([0.0, 0.0, 0.0])
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_assignment_is_globally_optimal_and_respects_limit():
    # Greedy would take (0, 0) at cost 0.1 and leave row 1 with 0.9; optimal is the anti-diagonal.
    cost = np.array([[0.1, 0.2], [0.3, 0.9]])
    m, ur, uc = linear_assignment(cost, limit=0.8)
    assert sorted(map(tuple, m)) == [(0, 1), (1, 0)]
    assert len(ur) == len(uc) == 0
    # a pair above the limit stays unmatched
    m, ur, uc = linear_assignment(np.array([[0.95, INFEASIBLE], [INFEASIBLE, 0.1]]), limit=0.8)
    assert list(map(tuple, m)) == [(1, 1)] and list(ur) == [0] and list(uc) == [0]
    m, ur, uc = linear_assignment(np.zeros((0, 3)), limit=0.5)
    assert len(m) == 0 and list(uc) == [0, 1, 2]

"""Cost matrices and linear assignment (lap.lapjv, scipy fallback), all vectorised."""

from __future__ import annotations

import numpy as np

try:
    import lap
except ImportError:  # pragma: no cover - lap is a dependency; scipy keeps things working without it
    lap = None

INFEASIBLE = 1e6  # cost of a forbidden pair; above every threshold


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N, 4 xyxy) with every box in b (M, 4 xyxy) -> (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def expand_boxes(xyxy: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """Grow boxes about their centre by `scale` x their size on each side (buffered IoU)."""
    xyxy = np.asarray(xyxy, np.float64)
    pad = (xyxy[:, 2:] - xyxy[:, :2]) * np.reshape(scale, (-1, 1))
    return np.concatenate([xyxy[:, :2] - pad, xyxy[:, 2:] + pad], axis=1)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of L2-normalised rows -> (N, M) in [0, 2]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)


def linear_assignment(cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching with every accepted pair costing <= limit.

    Returns (matches (K, 2) of row, col; unmatched rows; unmatched cols)."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n), np.arange(m)
    if lap is not None:
        _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=limit)
        rows = np.flatnonzero(x >= 0)
        return np.column_stack([rows, x[rows]]).astype(np.int64), np.flatnonzero(x < 0), np.flatnonzero(y < 0)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(np.minimum(cost, INFEASIBLE))
    keep = cost[rows, cols] <= limit
    rows, cols = rows[keep], cols[keep]
    return (np.column_stack([rows, cols]).astype(np.int64), np.setdiff1d(np.arange(n), rows),
            np.setdiff1d(np.arange(m), cols))

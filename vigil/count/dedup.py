"""Re-ID assisted de-duplication: pair new tracks with recently lost ones that look the same.

When the tracker loses an object and picks it up again under a new id, the new track should
carry on the old one's counting state (sides, counted directions, zone visits) instead of
counting the object a second time. A pair must pass three gates: time (the old track was last
seen at most `max_gap_s` ago), place (the new track starts within `max_distance` old-box heights
of where the old one was, or of where its last velocity was taking it) and appearance (cosine
similarity of the embeddings at least `min_similarity`), and have the same class group
(vehicle / pedestrian). Among the pairs that pass, the most similar win (Hungarian assignment).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from vigil.config.geometry import CountingConfig

_BLOCKED = 1e6


def normalise(e: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(e, axis=-1, keepdims=True)
    return np.divide(e, n, out=np.zeros_like(e), where=n > 0)


def match_lost(cfg: CountingConfig, *, new_emb: np.ndarray, new_center: np.ndarray, new_group: np.ndarray,
               old_emb: np.ndarray, old_center: np.ndarray, old_velocity: np.ndarray, old_height: np.ndarray,
               old_gap_s: np.ndarray, old_group: np.ndarray) -> list[tuple[int, int]]:
    """(new row, old row) pairs; embeddings are L2-normalised, centers in pixels, velocities in px/s."""
    if len(new_emb) == 0 or len(old_emb) == 0:
        return []
    sim = new_emb @ old_emb.T
    predicted = old_center + old_velocity * old_gap_s[:, None]
    d_last = np.linalg.norm(new_center[:, None, :] - old_center[None, :, :], axis=2)
    d_pred = np.linalg.norm(new_center[:, None, :] - predicted[None, :, :], axis=2)
    near = np.minimum(d_last, d_pred) <= cfg.reid_max_distance * old_height[None, :]
    ok = (near & (sim >= cfg.reid_min_similarity) & (old_gap_s <= cfg.reid_max_gap_s)[None, :]
          & (new_group[:, None] == old_group[None, :]))
    if not ok.any():
        return []
    cost = np.where(ok, 1.0 - sim, _BLOCKED)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if ok[r, c]]

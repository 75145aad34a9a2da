"""The tracker's track table: one row per live track, every attribute a numpy array.

Struct-of-arrays keeps the hot path vectorised (one Kalman predict for all tracks) and the
memory bounded: removing tracks rebuilds the arrays without them, nothing else refers to a
track, and no history of removed tracks is kept (unlike ByteTrack's `removed_stracks`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

TENTATIVE, TRACKED, LOST = 0, 1, 2


@dataclass
class TrackArrays:
    id: np.ndarray          # (N,) int64
    class_id: np.ndarray    # (N,) int32
    confidence: np.ndarray  # (N,) float32, of the last matched detection
    state: np.ndarray       # (N,) int8: TENTATIVE, TRACKED or LOST
    hits: np.ndarray        # (N,) int32, matched frames
    t_last: np.ndarray      # (N,) float64, time of the last matched detection
    mean: np.ndarray        # (N, 8) Kalman state at the current time
    cov: np.ndarray         # (N, 3, 4) compact covariance (see kalman.py)
    last_box: np.ndarray    # (N, 4) xyxy of the last matched detection
    obs_mean: np.ndarray    # (N, 8) Kalman state right after the last match (for re-update)
    obs_cov: np.ndarray     # (N, 3, 4)
    t_emb: np.ndarray       # (N,) float64, time of the last real embedding (-inf: never embedded)
    embedding: np.ndarray | None = None  # (N, D) L2-normalised EMA of matched embeddings

    @classmethod
    def empty(cls) -> TrackArrays:
        return cls(id=np.zeros(0, np.int64), class_id=np.zeros(0, np.int32), confidence=np.zeros(0, np.float32),
                   state=np.zeros(0, np.int8), hits=np.zeros(0, np.int32), t_last=np.zeros(0),
                   mean=np.zeros((0, 8)), cov=np.zeros((0, 3, 4)), last_box=np.zeros((0, 4)),
                   obs_mean=np.zeros((0, 8)), obs_cov=np.zeros((0, 3, 4)), t_emb=np.zeros(0))

    def __len__(self) -> int:
        return len(self.id)

    @property
    def has_embedding(self) -> np.ndarray:
        """(N,) bool: tracks with an appearance (embedded at least once); the others' rows are unused."""
        return np.isfinite(self.t_emb)

    def select(self, index: np.ndarray) -> TrackArrays:
        """A new table with the rows in `index` (mask or indices); the arrays are copies."""
        rows: dict[str, Any] = {f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[index]
                                for f in fields(self)}
        return TrackArrays(**rows)

    def append(self, other: TrackArrays) -> TrackArrays:
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        out: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "embedding":
                if a is None and b is None:
                    out[f.name] = None
                    continue
                dim = (a if a is not None else b).shape[1]
                a = np.zeros((len(self), dim), np.float32) if a is None else a
                b = np.zeros((len(other), dim), np.float32) if b is None else b
            out[f.name] = np.concatenate([a, b])
        return TrackArrays(**out)

"""Identity stitching: a new track id that continues a recently lost one.

When the tracker loses an object and picks it up again under a new id, whoever keeps state per
track (the counter: sides, counted directions, zone visits) should carry the old id's state on
instead of starting afresh. The stitcher keeps, per track id, where the track was, how it moved
(EMA of its box-centre velocity), what it looked like (EMA of its embeddings) and which class it
was seen as (votes), and pairs each new id with a lost one when they pass three gates: time (the
old track was last seen at most `max_gap_s` ago), place (the new track starts within
`max_distance` old-box heights of where the old one was, or of where its last velocity was
taking it) and appearance (cosine similarity of the embeddings at least `min_similarity`), and
have the same class group (vehicle / pedestrian / a group of the pipeline's vocabulary, see
vigil.classes). Among the pairs that pass, the most similar win (Hungarian assignment). A
continued id hands its identity to the new id and is forgotten.

The owner decides how long an id is remembered (`forget`); ids it forgets are never stitched.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.track.slots import SlotTable
from vigil.types import Detections

_EMB_MOMENTUM = 0.8      # weight of the track's running embedding against the newest one
_VEL_MOMENTUM = 0.5
_IDENTITY = ("last_seen", "center", "height", "velocity", "votes", "has_emb", "emb")
_BLOCKED = 1e6


class IdentityStitcher:
    """Per-id identity of one camera's tracks, and which new ids continue lost ones. Not thread-safe."""

    def __init__(self, max_gap_s: float, max_distance: float, min_similarity: float, enabled: bool = True,
                 vocab: ClassVocab = DEFAULT_VOCAB):
        self._n_classes = len(vocab)
        self._group_of_class = vocab.group_codes()
        self.max_gap_s = max_gap_s
        self.max_distance = max_distance
        self.min_similarity = min_similarity
        self.enabled = enabled
        self.reset()

    def reset(self) -> None:
        self._table = SlotTable({
            "track_id": ((), np.int64, -1),
            "last_seen": ((), np.float64, 0.0),      # seconds, the caller's clock
            "center": ((2,), np.float64, 0.0),
            "height": ((), np.float64, 0.0),
            "velocity": ((2,), np.float64, 0.0),     # px/s of the box center
            "votes": ((self._n_classes,), np.int32, 0),   # class observations; argmax is the track's class
            "has_emb": ((), bool, False),
        })

    def update(self, tracks: Detections, t: float) -> np.ndarray:
        """Record this frame's tracks (unique ids, all >= 0) seen at `t` seconds; returns, per row, the
        id of the lost track it continues (-1: none). That id's identity passes on and it is forgotten."""
        tab = self._table
        ids = tracks.tracker_id
        slots = np.array([tab.slot_of.get(i, -1) for i in ids.tolist()], dtype=np.int64)
        new = slots < 0
        for i in np.flatnonzero(new):
            slots[i] = tab.allocate(int(ids[i]))
            tab.track_id[slots[i]] = ids[i]
        continues = np.full(len(ids), -1, np.int64)
        if self.enabled and new.any() and tracks.embedding is not None:
            for r, src in self._match_lost(tracks, normalise(tracks.embedding), slots, new, t):
                continues[r] = tab.track_id[src]
                tab.copy_rows(int(slots[r]), src, list(_IDENTITY))
                self.forget([int(tab.track_id[src])])
                new[r] = False
        self._observe(tracks, slots, new, t)
        return continues

    def classes(self, ids: np.ndarray) -> np.ndarray:
        """The voted class id of each known track id."""
        tab = self._table
        slots = np.array([tab.slot_of[i] for i in np.asarray(ids).tolist()], dtype=np.int64)
        return tab.votes[slots].argmax(axis=1) if len(slots) else np.zeros(0, np.int64)

    def forget(self, ids: list[int] | np.ndarray) -> None:
        tab = self._table
        ids = [int(i) for i in ids]
        slots = [tab.slot_of[i] for i in ids]
        tab.release(slots, ids)
        tab.track_id[slots] = -1

    def __len__(self) -> int:
        return len(self._table)

    # ------------------------------------------------------------------ pieces

    def _match_lost(self, tracks: Detections, emb: np.ndarray, slots: np.ndarray, new: np.ndarray,
                    t: float) -> list[tuple[int, int]]:
        """(row of a new track, slot of the lost track it continues) pairs; `emb`: the rows' unit embeddings."""
        tab = self._table
        self._ensure_embedding_field(emb.shape[1])
        new_rows = np.flatnonzero(new & tracks.has_embedding)
        live = np.flatnonzero(tab.track_id >= 0)
        old = live[tab.has_emb[live] & (tab.last_seen[live] < t) & (t - tab.last_seen[live] <= self.max_gap_s)]
        old = np.setdiff1d(old, slots)
        if not len(new_rows) or not len(old):
            return []
        new_emb, old_emb = emb[new_rows], tab.emb[old]
        new_center = tracks.anchors("center").astype(np.float64)[new_rows]
        gap = t - tab.last_seen[old]
        sim = new_emb @ old_emb.T
        predicted = tab.center[old] + tab.velocity[old] * gap[:, None]
        d_last = np.linalg.norm(new_center[:, None, :] - tab.center[old][None, :, :], axis=2)
        d_pred = np.linalg.norm(new_center[:, None, :] - predicted[None, :, :], axis=2)
        near = np.minimum(d_last, d_pred) <= self.max_distance * tab.height[old][None, :]
        group = self._group_of_class
        same_group = group[tracks.class_id[new_rows]][:, None] == group[tab.votes[old].argmax(axis=1)][None, :]
        ok = near & (sim >= self.min_similarity) & (gap <= self.max_gap_s)[None, :] & same_group
        if not ok.any():
            return []
        rows, cols = linear_sum_assignment(np.where(ok, 1.0 - sim, _BLOCKED))
        return [(int(new_rows[r]), int(old[c])) for r, c in zip(rows, cols) if ok[r, c]]

    def _ensure_embedding_field(self, dim: int) -> None:
        tab = self._table
        if not tab.has_field("emb") or tab.emb.shape[1] != dim:
            tab.add_field("emb", (dim,), np.float32, 0.0)
            tab.has_emb[:] = False

    def _observe(self, tracks: Detections, slots: np.ndarray, new: np.ndarray, t: float) -> None:
        tab = self._table
        center = tracks.anchors("center").astype(np.float64)
        old = ~new
        if old.any():
            so = slots[old]
            dt = t - tab.last_seen[so]
            moving = dt > 0
            v = (center[old] - tab.center[so]) / np.where(moving, dt, 1.0)[:, None]
            blended = _VEL_MOMENTUM * tab.velocity[so] + (1 - _VEL_MOMENTUM) * v
            tab.velocity[so] = np.where(moving[:, None], blended, tab.velocity[so])
        tab.center[slots] = center
        tab.height[slots] = tracks.xyxy[:, 3] - tracks.xyxy[:, 1]
        tab.last_seen[slots] = t
        tab.votes[slots, tracks.class_id] += 1
        if tracks.embedding is not None and len(tracks):
            emb = normalise(tracks.embedding)
            self._ensure_embedding_field(emb.shape[1])
            real = tracks.has_embedding
            s, e = slots[real], emb[real]
            had = tab.has_emb[s][:, None]
            tab.emb[s] = normalise(np.where(had, _EMB_MOMENTUM * tab.emb[s] + (1 - _EMB_MOMENTUM) * e, e))
            tab.has_emb[s] = True


def normalise(e: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    n = np.linalg.norm(e, axis=-1, keepdims=True)
    return np.divide(e, n, out=np.zeros_like(e), where=n > 0)

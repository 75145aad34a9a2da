"""Speeds on the ground plane: image points -> metres through a perspective transform (four
points, cv2.getPerspectiveTransform), and each track's recent ground positions kept in a
small ring per counter slot, so a line crossing can say how fast the track was moving.

Times are the frames' own times (presentation timestamps), never frame counts: with a
frame_stride, dropped frames or a variable frame rate, counts of frames say nothing about time."""

from __future__ import annotations

import cv2
import numpy as np

from vigil.config.ground import GroundConfig
from vigil.track.slots import SlotTable
from vigil.types import Detections

HISTORY = 64  # ground positions kept per track: 2 s at 30 fps, more with frame_stride
MIN_SAMPLES = 3
# Seconds a track must have been seen for a speed. Short: on an elevated camera close to the road
# a vehicle crosses the picture's near part in a third of a second, and there a pixel is a few cm.
MIN_SPAN = 0.1


class GroundPlane:
    def __init__(self, cfg: GroundConfig) -> None:
        self.cfg = cfg
        self.h = cv2.getPerspectiveTransform(np.asarray(cfg.image, np.float32), np.asarray(cfg.world, np.float32))
        self.h = self.h.astype(np.float64)

    def to_metres(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) image points -> (N, 2) ground points in metres."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        q = np.c_[p, np.ones(len(p))] @ self.h.T
        with np.errstate(divide="ignore", invalid="ignore"):
            return q[:, :2] / q[:, 2:3]  # a point beyond the horizon comes out non-finite: no speed

    @staticmethod
    def fields() -> dict:
        return {"ground_xy": ((HISTORY, 2), np.float64, np.nan),
                "ground_t": ((HISTORY,), np.float64, -np.inf),
                "ground_next": ((), np.int32, 0)}

    def record(self, table: SlotTable, slots: np.ndarray, tracks: Detections, t: float) -> None:
        """Append this frame's ground point of every reported track to its ring."""
        if not len(slots):
            return
        pos = table.ground_next[slots]
        table.ground_xy[slots, pos] = self.to_metres(tracks.anchors("bottom_center"))
        table.ground_t[slots, pos] = t
        table.ground_next[slots] = (pos + 1) % HISTORY

    def speed_kmh(self, table: SlotTable, slot: int, t: float) -> float | None:
        """Speed of the track in `slot` over the window ending at t: the slope of a least-squares
        line through its ground positions (jitter of the box edge averages out), None when it
        has not been seen long enough, or the answer is beyond max_speed_kmh."""
        return speed_from(table.ground_t[slot], table.ground_xy[slot], t, self.cfg.speed_window_s,
                          self.cfg.max_speed_kmh)


def speed_from(ts: np.ndarray, xy: np.ndarray, t: float, window: float, max_kmh: float) -> float | None:
    keep = (ts >= t - window - 1e-9) & (ts <= t) & np.isfinite(xy).all(axis=1)
    if keep.sum() < MIN_SAMPLES:
        return None
    ts, xy = ts[keep], xy[keep]
    dt = ts - ts.mean()
    var = float(dt @ dt)
    if ts.max() - ts.min() < min(MIN_SPAN, window) - 1e-9 or var <= 0:
        return None
    v = (dt @ (xy - xy.mean(axis=0))) / var  # metres per second, x and y
    kmh = float(np.hypot(v[0], v[1]) * 3.6)
    return kmh if kmh <= max_kmh else None

"""Helpers for the counting tests: tiny box sequences fed to a CameraCounter at a fixed frame rate."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np

from vigil.count import CameraCounter
from vigil.types import CLASS_IDS, CountEvent, Detections

T0 = datetime(2024, 3, 31, 0, 30, tzinfo=timezone.utc)
FPS = 10.0


def at(frame: int, fps: float = FPS) -> datetime:
    return T0 + timedelta(seconds=frame / fps)


def box(x: float, y: float, w: float = 20.0, h: float = 40.0) -> list[float]:
    """A box whose bottom-centre is (x, y)."""
    return [x - w / 2, y - h, x + w / 2, y]


def frame(objs: dict[int, tuple], cls: str = "car", emb: dict[int, np.ndarray] | None = None) -> Detections:
    """objs: track id -> (x, y) bottom-centre, or (x, y, class name)."""
    ids = list(objs)
    xyxy = [box(*objs[i][:2]) for i in ids] or np.zeros((0, 4))
    classes = [CLASS_IDS[objs[i][2] if len(objs[i]) > 2 else cls] for i in ids]
    embedding = None if emb is None or not ids else np.array([emb[i] for i in ids], np.float32)
    return Detections(xyxy=xyxy, tracker_id=ids, class_id=classes, embedding=embedding)


def run(counter: CameraCounter, frames: list[Detections], start: int = 0, fps: float = FPS) -> list[CountEvent]:
    events = []
    for k, dets in enumerate(frames):
        events += counter.update(dets, at(start + k, fps))
    return events


def walk(counter: CameraCounter, tid: int, points: list[tuple[float, float]], start: int = 0, **kw) -> list[CountEvent]:
    """One track visiting `points` on consecutive frames."""
    return run(counter, [frame({tid: p}, **kw) for p in points], start=start)


def tally(events: list[CountEvent]) -> Counter:
    return Counter((e.kind, e.name, e.direction) for e in events)


def unit(seed: int, dim: int = 64) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)

"""`vigil bench count`: counter time per frame (two lines and a zone) at a given number of
tracks, on a synthetic stream where tracks turn over all the time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np


def synthetic_stream(objects: int, frames: int, embedding_dim: int, seed: int = 0):
    """`objects` tracks at a time walking down a 1920x1080 image at 10 fps; every track lives
    60 frames, crossing two lines and a zone, then ends and a new id takes its place, so pruning
    and (with embeddings) re-ID matching run as on a real stream."""
    from vigil.types import CLASS_IDS, Detections

    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    x = rng.uniform(40, 1880, objects)
    phase = rng.integers(0, 60, objects)
    looks = rng.normal(size=(objects, embedding_dim)).astype(np.float32) if embedding_dim else None
    for k in range(frames):
        age = (k + phase) % 60
        ids = (k + phase) // 60 * objects + np.arange(objects)
        y = 100 + 15 * age + rng.normal(0, 1.5, objects)
        xyxy = np.stack([x - 20, y - 80, x + 20, y], axis=1)
        yield t0 + timedelta(seconds=k / 10), Detections(
            xyxy=xyxy, tracker_id=ids, class_id=np.full(objects, CLASS_IDS["pedestrian"]),
            embedding=None if looks is None else looks + rng.normal(0, 0.1, looks.shape).astype(np.float32))


def bench_counter(objects: list[int], frames: int, embedding_dim: int, repeats: int = 3) -> dict[int, dict[str, float]]:
    """Counter time per frame, best of `repeats` runs: wall time and this process's CPU time."""
    from vigil.config.geometry import LineConfig, ZoneConfig
    from vigil.count import CameraCounter

    lines = [LineConfig(name="a", points=((0, 400), (1920, 400)), min_distance=5),
             LineConfig(name="b", points=((0, 700), (1920, 700)), anchor="center", policy="every")]
    zones = [ZoneConfig(name="z", polygon=[(0, 500), (1920, 500), (1920, 900), (0, 900)], min_frames=2)]
    out = {}
    for n in objects:
        stream = list(synthetic_stream(n, frames, embedding_dim, seed=n))
        wall = cpu = float("inf")
        events = 0
        for _ in range(repeats):
            counter = CameraCounter("bench", lines, zones)
            w0, c0 = time.perf_counter(), time.process_time()
            events = sum(len(counter.update(dets, t)) for t, dets in stream)
            wall = min(wall, time.perf_counter() - w0)
            cpu = min(cpu, time.process_time() - c0)
        out[n] = {"wall_ms": 1000.0 * wall / frames, "cpu_ms": 1000.0 * cpu / frames, "events": events}
    return out

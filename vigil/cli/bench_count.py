"""`vigil bench count`: counter time per frame at 10, 50 and 200 tracks (synthetic stream)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import typer

from vigil.cli.app import bench_app
from vigil.errors import VigilError


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


def bench(objects: list[int], frames: int, embedding_dim: int, repeats: int = 3) -> dict[int, dict[str, float]]:
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


@bench_app.command("count")
def bench_count_cmd(
        objects: list[int] = typer.Option([10, 50, 200], "--objects", help="tracks per frame (repeatable)"),
        frames: int = typer.Option(600, "--frames", help="frames per run (10 fps, a new id every 6 s per slot)"),
        embedding_dim: int = typer.Option(512, "--embedding-dim", help="re-ID embedding size; 0 = no embeddings"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Time the counting stage alone: two lines and a zone, tracks turning over all the time."""
    if frames < 1 or any(n < 1 for n in objects) or embedding_dim < 0:
        raise VigilError("--frames and --objects must be at least 1 and --embedding-dim at least 0")
    result = bench(objects, frames, embedding_dim)
    if as_json:
        print(json.dumps(result))
        return
    print(f"{'tracks':>7} {'wall ms/frame':>14} {'cpu ms/frame':>13} {'events':>7}")
    for n, r in result.items():
        print(f"{n:>7} {r['wall_ms']:>14.3f} {r['cpu_ms']:>13.3f} {r['events']:>7}")

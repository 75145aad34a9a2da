"""`vigil bench tracker`: tracker time per frame on a synthetic scene, Vigil's tracker and
(optionally) ultralytics' ByteTrack and BoT-SORT fed the same detections."""

from __future__ import annotations

import time

from vigil.bench.synthetic_scene import SyntheticScene
from vigil.bench.ultralytics_trackers import UltralyticsTracker


def bench_tracker(objects: list[int], frames: int, trackers: list[str],
                  repeats: int = 3) -> dict[str, dict[int, dict[str, float]]]:
    """Tracker time per frame, after a short warm-up, best of `repeats` runs: wall time, and CPU
    time of this process (what the tracker itself costs when other work shares the machine)."""
    from vigil.track import Tracker

    out: dict[str, dict[int, dict[str, float]]] = {}
    for name in trackers:
        out[name] = {}
        for n in objects:
            scene = list(SyntheticScene(objects=n, seed=n).frames(frames + 20))
            wall = cpu = float("inf")
            for _ in range(repeats):
                tracker = Tracker() if name == "vigil" else UltralyticsTracker(name)
                for t, dets, _ in scene[:20]:
                    tracker.update(dets, t)
                w0, c0 = time.perf_counter(), time.process_time()
                for t, dets, _ in scene[20:]:
                    tracker.update(dets, t)
                wall = min(wall, time.perf_counter() - w0)
                cpu = min(cpu, time.process_time() - c0)
            out[name][n] = {"wall_ms": 1000.0 * wall / frames, "cpu_ms": 1000.0 * cpu / frames}
    return out

"""The Vigil side of `vigil bench pipeline`: the same `Replay` that `vigil replay` runs (reader
threads, batched detector, tracker, counter, batched writer into a temporary SQLite file),
with N copies of the clip as N cameras, every stage timed on one `StageClock`."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from vigil.bench.memory import RssSampler, cpu_seconds
from vigil.bench.side import STAGES, SideResult, empty_counts
from vigil.config.geometry import LineConfig
from vigil.config.load import LoadedConfig
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.reid import ReidConfig
from vigil.config.site import CameraConfig, SiteConfig
from vigil.config.tracker import TrackerConfig
from vigil.errors import SourceError
from vigil.pipeline.stages import build_stages  # noqa: F401  (the benchmarks build stages as replay does)
from vigil.timing import StageClock

Line = tuple[tuple[float, float], tuple[float, float]]


def object_counter_line(line: Line, name: str = "bench") -> LineConfig:
    """A Vigil line that counts like ObjectCounter's: the box centre is tested, and "in" is
    moving down across a mostly horizontal line, or right across a mostly vertical one."""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    want = (1.0, 0.0) if abs(dx) < abs(dy) else (0.0, 1.0)  # ObjectCounter's "in" direction
    right = (-dy, dx)  # screen-right of A->B with y pointing down
    in_side = "right" if right[0] * want[0] + right[1] * want[1] > 0 else "left"
    return LineConfig(name=name, points=line, in_side=in_side, anchor="center")


class _ClockedStore:
    """`target` with every call the analysis round makes on it (and on the writer it opens)
    timed as stage "store" on `clock`: the writes run in the writer thread, so this is the
    time the round waits for the store, which is what slows it."""

    def __init__(self, target, clock: StageClock) -> None:
        self._target, self._clock = target, clock

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*a, **kw):
            with self._clock.time("store"):
                out = attr(*a, **kw)
            return _ClockedStore(out, self._clock) if name == "writer" else out

        return call


def replay_timed(cfg: LoadedConfig, store, detector, embedder, jobs: list, clock: StageClock,
                 on_frames: Callable[[int], None] | None = None):
    """Replay `jobs` with every stage timed on `clock`: the one place the benchmarks hand a
    clock to the pipeline. Returns (the Replay, its job results)."""
    from vigil.pipeline.replay import Replay

    times = getattr(detector, "times", None)  # the detector's own split of "detect", summed since it was built
    before = (dict(times.seconds), dict(times.frames)) if times is not None else ({}, {})
    runner = Replay(cfg, _ClockedStore(store, clock), detector, embedder, on_frames=on_frames, clock=clock)
    results = runner.run(jobs)
    if times is not None:
        for stage in ("preprocess", "inference", "postprocess"):
            clock.add(stage, times.seconds[stage] - before[0].get(stage, 0.0),
                      times.frames[stage] - before[1].get(stage, 0))
    return runner, results


def bytetrack_like_tracker(fps: float = 30.0) -> TrackerConfig:
    """Vigil's tracker with the settings of ultralytics' bytetrack.yaml (the ultralytics side's), so
    the same detections start and extend tracks on both sides: high/new-track 0.25, low 0.1,
    IoU >= 0.2 to match, 30 frames of lost-track buffer, and class-agnostic matching (a vehicle
    whose class flickers between car and truck stays one track instead of two that both count).
    Vigil's own defaults (high 0.5, new 0.6, per class) count fewer weak detections: 15 against
    the ultralytics side's 21 on the first 10 s of saoyan_test.mp4; with these, 23."""
    return TrackerConfig(high_threshold=0.25, low_threshold=0.1, new_track_threshold=0.25, match_iou=0.2,
                         low_match_iou=0.5, max_lost_seconds=30 / fps, fuse_score=True, per_class=False)


def bench_config(weights: Path, line: Line, cameras: int, imgsz: int, conf: float, iou: float,
                 stride: int = 1, batch: int = 8, workdir: Path | None = None, fps: float = 30.0,
                 reid: Path | None = None, reid_refresh: float | None = 1.0) -> LoadedConfig:
    """An in-memory site (N cameras, the same line) and pipeline (the given detector, and
    OSNet re-ID when `reid` weights are given)."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ln = object_counter_line(line)
    cams = [CameraConfig(id=f"cam{i + 1}", start_time=start, lines=[ln]) for i in range(cameras)]
    site = SiteConfig(site="bench", database="sqlite://", cameras=cams)
    pipe = PipelineConfig(name="bench", frame_stride=stride, tracker=bytetrack_like_tracker(fps),
                          detector=DetectorConfig(weights=str(weights), imgsz=imgsz, confidence=conf, iou=iou,
                                                  batch=batch),
                          reid=None if reid is None else ReidConfig(weights=str(reid), model="auto",
                                                                    refresh_seconds=reid_refresh))
    base = workdir or Path.cwd()
    return LoadedConfig(site=site, pipeline=pipe, site_path=base / "bench-site.yaml",
                        pipeline_path=base / "bench-pipeline.yaml")


def _counts(results) -> dict:
    """Counts of the first camera (every camera replays the same clip), and whether all agree."""
    per_cam = []
    for r in results:
        c = empty_counts()
        for (kind, _name, cls, direction), n in r.counts.items():
            if kind == "line":
                c[direction] += n
                c["by_class"].setdefault(cls, {"in": 0, "out": 0})[direction] += n
        per_cam.append(c)
    if not per_cam:
        return empty_counts()
    out = dict(per_cam[0])
    out["cameras_agree"] = all(c == per_cam[0] for c in per_cam)
    return out


def run_vigil(video: Path, weights: Path, line: Line, cameras: int, imgsz: int, conf: float,
              iou: float = 0.7, stride: int = 1, batch: int = 8, fps: float = 30.0,
              reid: Path | None = None, reid_refresh: float | None = 1.0) -> SideResult:
    """Replay `video` as `cameras` cameras through Vigil's pipeline; every frame when stride=1."""
    from vigil.pipeline.replay import ReplayJob
    from vigil.store import Store

    clock = StageClock()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        cfg = bench_config(weights, line, cameras, imgsz, conf, iou, stride, batch, Path(tmp), fps, reid, reid_refresh)
        with RssSampler() as rss:
            detector, embedder = build_stages(cfg)
            store = Store(f"sqlite:///{tmp}/bench.db")
            marks: dict[str, float] = {}

            def on_frames(n: int) -> None:
                if "first" not in marks:  # steady state starts after the first batch (model warm-up)
                    marks["first"], marks["first_n"], marks["cpu"] = time.perf_counter(), n, cpu_seconds()

            jobs = [ReplayJob(cam, Path(video)) for cam in cfg.site.cameras]
            t0 = time.perf_counter()
            runner, results = replay_timed(cfg, store, detector, embedder, jobs, clock, on_frames)
            t1, cpu_end = time.perf_counter(), cpu_seconds()
            events = sum(len(store.events(camera=c.id)) for c in cfg.site.cameras)  # all really written
            store.close()
    frames = runner.frames
    errors = [r.error for r in results if r.error]
    if errors:
        raise SourceError(errors[0])
    first_n = marks.get("first_n", 0)
    steady_frames = frames - first_n
    steady_seconds = t1 - marks.get("first", t0)
    stages = {k: clock.ms_per_frame(k, frames) for k in STAGES}
    extra = {"cameras": cameras, "camera_frames": frames, "total_seconds": t1 - t0, "events_stored": events,
             "detector_workers": getattr(detector, "workers", 1),
             "engine": detector.describe() if hasattr(detector, "describe") else None,
             "exact_graph_rewrite": bool(getattr(getattr(detector, "pool", None), "rewritten", False)),
             "stride": stride,
             **({"reid_embedded_fraction": round(embedder.rows_embedded / max(embedder.rows_seen, 1), 3)}
                if embedder is not None else {}),
             "cpu_ms_per_frame": round(1000 * (cpu_end - marks["cpu"]) / max(steady_frames, 1), 1) if "cpu" in marks
             else None}
    return SideResult(steady_frames, steady_seconds, _counts(results), stages, rss.start, rss.peak, rss.end,
                      extra)

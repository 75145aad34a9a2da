"""Vigil's side of the benchmark: the same `Replay` that `vigil replay` runs (reader
threads, batched detector, tracker, counter, batched writer into a temporary SQLite file),
with N copies of the clip as N cameras."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from vigil.bench.memory import RssSampler, cpu_seconds
from vigil.bench.peer import SideResult, empty_counts
from vigil.config.geometry import LineConfig
from vigil.config.load import LoadedConfig
from vigil.config.pipeline import DetectorConfig, PipelineConfig
from vigil.config.reid import ReidConfig
from vigil.config.site import CameraConfig, SiteConfig
from vigil.config.tracker import TrackerConfig

Line = tuple[tuple[float, float], tuple[float, float]]
STAGES = ("decode", "preprocess", "inference", "postprocess", "reid", "track", "count", "store")


def peer_compatible_line(line: Line, name: str = "bench") -> LineConfig:
    """A Vigil line that counts like ObjectCounter's: the box centre is tested, and "in" is
    moving down across a mostly horizontal line, or right across a mostly vertical one."""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    want = (1.0, 0.0) if abs(dx) < abs(dy) else (0.0, 1.0)  # ObjectCounter's "in" direction
    right = (-dy, dx)  # screen-right of A->B with y pointing down
    in_side = "right" if right[0] * want[0] + right[1] * want[1] > 0 else "left"
    return LineConfig(name=name, points=line, in_side=in_side, anchor="center")


def _timed_call(clock: Counter, fn, *a, **kw):
    t0 = time.perf_counter()
    try:
        return fn(*a, **kw)
    finally:
        clock["store"] += time.perf_counter() - t0


class _TimedWriter:
    """The store's writer, with the time the pipeline thread spends in it."""

    def __init__(self, writer, clock: Counter) -> None:
        self._w, self._clock = writer, clock

    def put(self, *a):
        return _timed_call(self._clock, self._w.put, *a)

    def flush(self):
        return _timed_call(self._clock, self._w.flush)

    def close(self):
        return _timed_call(self._clock, self._w.close)


class _TimedStore:
    """A `Store` whose calls from the pipeline thread are timed (the writes themselves run in
    the writer thread; what the pipeline waits for is what slows it)."""

    def __init__(self, store, clock: Counter) -> None:
        self._s, self._clock = store, clock

    def writer(self, **kw):
        return _TimedWriter(self._s.writer(**kw), self._clock)

    def begin_run(self, *a, **kw):
        return _timed_call(self._clock, self._s.begin_run, *a, **kw)

    def finish_run(self, *a, **kw):
        return _timed_call(self._clock, self._s.finish_run, *a, **kw)


def peer_like_tracker(fps: float = 30.0) -> TrackerConfig:
    """Vigil's tracker with the settings of ultralytics' bytetrack.yaml (the peer's tracker), so
    the same detections start and extend tracks on both sides: high/new-track 0.25, low 0.1,
    IoU >= 0.2 to match, 30 frames of lost-track buffer, and class-agnostic matching (a vehicle
    whose class flickers between car and truck stays one track instead of two that both count).
    Vigil's own defaults (high 0.5, new 0.6, per class) count fewer weak detections: 15 against
    the peer's 21 on the first 10 s of saoyan_test.mp4; with these, 23."""
    return TrackerConfig(high_threshold=0.25, low_threshold=0.1, new_track_threshold=0.25, match_iou=0.2,
                         low_match_iou=0.5, max_lost_seconds=30 / fps, fuse_score=True, per_class=False)


def bench_config(weights: Path, line: Line, cameras: int, imgsz: int, conf: float, iou: float,
                 stride: int = 1, batch: int = 8, workdir: Path | None = None, fps: float = 30.0,
                 reid: Path | None = None, reid_refresh: float | None = 1.0) -> LoadedConfig:
    """An in-memory site (N cameras, the same line) and pipeline (the given detector, and
    OSNet re-ID when `reid` weights are given)."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ln = peer_compatible_line(line)
    cams = [CameraConfig(id=f"cam{i + 1}", start_time=start, lines=[ln]) for i in range(cameras)]
    site = SiteConfig(site="bench", database="sqlite://", cameras=cams)
    pipe = PipelineConfig(name="bench", frame_stride=stride, tracker=peer_like_tracker(fps),
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
    from vigil.cli.replay import build_stages
    from vigil.pipeline.replay import Replay, ReplayJob
    from vigil.sources.file import DECODE_CLOCK
    from vigil.store import Store

    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        cfg = bench_config(weights, line, cameras, imgsz, conf, iou, stride, batch, Path(tmp), fps, reid, reid_refresh)
        with RssSampler() as rss:
            detector, embedder = build_stages(cfg)
            store = Store(f"sqlite:///{tmp}/bench.db")
            clock: Counter = Counter()
            marks: dict[str, float] = {}

            def on_frames(n: int) -> None:
                if "first" not in marks:  # steady state starts after the first batch (model warm-up)
                    marks["first"], marks["first_n"], marks["cpu"] = time.perf_counter(), n, cpu_seconds()

            runner = Replay(cfg, _TimedStore(store, clock), detector, embedder, on_frames=on_frames)
            jobs = [ReplayJob(cam, Path(video)) for cam in cfg.site.cameras]
            DECODE_CLOCK.reset()
            t0 = time.perf_counter()
            results = runner.run(jobs)
            t1, cpu_end = time.perf_counter(), cpu_seconds()
            events = sum(len(store.events(camera=c.id)) for c in cfg.site.cameras)  # all really written
            store.close()
    frames = runner.frames
    errors = [r.error for r in results if r.error]
    if errors:
        from vigil.errors import SourceError

        raise SourceError(errors[0])
    first_n = marks.get("first_n", 0)
    steady_frames = frames - first_n
    steady_seconds = t1 - marks.get("first", t0)
    n = max(frames, 1)
    d = detector.times
    secs = {"decode": DECODE_CLOCK.seconds, "preprocess": d.preprocess, "inference": d.inference,
            "postprocess": d.postprocess, "reid": runner.stage_seconds.get("reid", 0.0),
            "track": runner.stage_seconds.get("track", 0.0), "count": runner.stage_seconds.get("count", 0.0),
            "store": clock["store"]}
    stages = {k: 1000 * secs[k] / n for k in STAGES}
    extra = {"cameras": cameras, "camera_frames": frames, "total_seconds": t1 - t0, "events_stored": events,
             "detector_workers": getattr(detector, "workers", 1),
             "exact_graph_rewrite": bool(getattr(getattr(detector, "pool", None), "rewritten", False)),
             "stride": stride,
             **({"reid_embedded_fraction": round(embedder.rows_embedded / max(embedder.rows_seen, 1), 3)}
                if embedder is not None else {}),
             "cpu_ms_per_frame": round(1000 * (cpu_end - marks["cpu"]) / max(steady_frames, 1), 1) if "cpu" in marks
             else None}
    return SideResult(steady_frames, steady_seconds, _counts(results), stages, rss.start, rss.peak, rss.end,
                      extra)

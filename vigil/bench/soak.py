"""Memory over a long replay: the clip looped into one continuous file (so tracker, counter
and store run as on a long stream, not restarted per loop), replayed for a fixed time while
RSS is sampled."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from vigil.bench.memory import RssSampler
from vigil.errors import SourceError
from vigil.timing import NullClock


def loop_clip(src: Path, dst: Path, loops: int) -> Path:
    """`loops` copies of `src` back to back, packets copied with shifted timestamps."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        if not inp.streams.video:
            raise SourceError(f"'{src}' has no video stream; give a video file")
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        packets = [p for p in inp.demux(vin) if p.dts is not None]
        if not packets:
            raise SourceError(f"'{src}' holds no video packets; give a video with frames")
        step = max((p.duration or 0) for p in packets) or 1
        pts = [p.pts for p in packets if p.pts is not None]
        span = max(pts) - min(pts) + step
        for k in range(loops):  # pts and dts shift together: their order within a loop is kept
            for p in packets:
                q = av.Packet(bytes(p))
                q.pts = p.pts + k * span if p.pts is not None else None
                q.dts = p.dts + k * span
                q.duration, q.time_base, q.is_keyframe = p.duration, p.time_base, p.is_keyframe
                q.stream = vout
                out.mux(q)
    return dst


class _TimeUp(Exception):
    pass


@dataclass
class SoakResult:
    minutes: float
    frames: int
    samples: list[tuple[float, float]]  # (seconds, RSS MiB)

    def rss_at(self, fraction: float) -> float:
        """RSS at a fraction of the run (the nearest sample)."""
        t_end = self.samples[-1][0]
        return min(self.samples, key=lambda s: abs(s[0] - fraction * t_end))[1]

    def summary(self) -> dict:
        ts = np.array([s[0] for s in self.samples])
        mb = np.array([s[1] for s in self.samples])
        half = ts >= ts[-1] / 2
        slope = float(np.polyfit(ts[half], mb[half], 1)[0]) * 600 if half.sum() > 2 else 0.0
        return {"minutes": round(self.minutes, 2), "frames": self.frames,
                "fps": round(self.frames / max(self.minutes * 60, 1e-9), 3),
                "rss_mib": {"start": round(mb[0], 1), "after_10pct": round(self.rss_at(0.1), 1),
                            "peak": round(float(mb.max()), 1), "end": round(mb[-1], 1)},
                "second_half_slope_mib_per_10min": round(slope, 2)}


def run_soak(video: Path, weights: Path, line, minutes: float, cameras: int = 1, imgsz: int = 640,
             conf: float = 0.25, stride: int = 1, loops: int | None = None) -> SoakResult:
    """Replay the looped clip through Vigil for `minutes` (or until the loops end)."""
    from vigil.bench.clip import probe_clip
    from vigil.bench.pipeline_ultralytics import quiet_ultralytics
    from vigil.bench.pipeline_vigil import bench_config, replay_timed
    from vigil.pipeline.replay import ReplayJob
    from vigil.pipeline.stages import build_stages
    from vigil.store import Store

    quiet_ultralytics()
    with tempfile.TemporaryDirectory(prefix="vigil-soak-") as tmp:
        info = probe_clip(video)
        # Enough loops that the clip cannot run out before the time is up (a few fps at most here).
        n = loops or max(2, int(np.ceil(minutes * 60 * 30 / max(info.frames, 1) / stride)) + 1)
        looped = loop_clip(video, Path(tmp) / f"loop{video.suffix or '.mp4'}", n)
        cfg = bench_config(weights, line, cameras, imgsz, conf, 0.7, stride, workdir=Path(tmp), fps=info.fps)
        detector, embedder = build_stages(cfg)
        store = Store(f"sqlite:///{tmp}/soak.db")
        deadline = time.perf_counter() + minutes * 60
        done = {"frames": 0}

        def on_frames(k: int) -> None:
            done["frames"] += k
            if time.perf_counter() > deadline:
                raise _TimeUp

        t0 = time.perf_counter()
        with RssSampler(interval=1.0) as rss:
            try:
                replay_timed(cfg, store, detector, embedder, [ReplayJob(c, looped) for c in cfg.site.cameras],
                             NullClock(), on_frames)
            except _TimeUp:
                pass
        store.close()
    return SoakResult((time.perf_counter() - t0) / 60, done["frames"], rss.samples)

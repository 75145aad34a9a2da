"""Live daemon benchmarks: N cameras on RTSP streams through the real daemon (real YOLO,
tracker, counter, SQLite store). The streams are served by the caller (bench/live_capacity.py
serves a clip from the loopback GStreamer RTSP server of tests/support).

capacity: after a warm-up, per stream, decoded and analysed fps and the share of frames dropped
as stale; decode_only swaps the detector for one that finds nothing, to measure the readers alone.
latency: one camera served slowly enough that every frame is analysed; a thread polls the
database and records, for every event, the time from its frame's timestamp (wall clock at decode)
until the event is visible in the database (commit by the batched writer).
parity: the live side of a live-versus-replay count on the same served clip.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from pathlib import Path

from vigil.types import Detections

LINE = "[{name: southbound, points: [[120, 200], [630, 200]], in_side: right}]"


class NoDetections:
    def detect(self, images):
        return [Detections.empty() for _ in images]


def write_site(work: Path, weights: Path, urls: dict[str, str], live: str, tracker: str = "{}") -> Path:
    (work / "pipeline.yaml").write_text(f"detector: {{weights: {weights}, imgsz: 640, batch: 8}}\n"
                                        f"frame_stride: 1\ntracker: {tracker}\n")
    cams = "\n".join(f"  - {{id: {c}, source: '{u}', lines: {LINE}}}" for c, u in urls.items())
    site = work / "site.yaml"
    site.write_text(f"site: bench\npipeline: pipeline.yaml\ndatabase: sqlite:///{work}/bench.db\n"
                    f"live: {{status_file: {work}/status.json, {live}}}\ncameras:\n{cams}\n")
    return site


def start_daemon(site: Path, decode_only: bool):
    from vigil.config.load import load_site
    from vigil.live.build import build_daemon
    from vigil.pipeline.camera import CameraPipeline
    from vigil.pipeline.stages import build_stages
    from vigil.store import Store

    cfg = load_site(site)
    detector, embedder = (NoDetections(), None) if decode_only else build_stages(cfg)
    daemon = build_daemon(cfg, Store(cfg.site.database), detector,
                          lambda cam: CameraPipeline(cam, cfg.pipeline, embedder))
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    thread.start()
    return daemon, stop, thread


def capacity(work: Path, weights: Path, url: str, n: int, fps: float, seconds: float, warmup: float,
             decode_only: bool) -> dict:
    """`n` cameras on the same stream `url` (served at `fps`)."""
    site = write_site(work, weights, {f"c{i}": url for i in range(n)}, "flush_interval: 1.0")
    daemon, stop, thread = start_daemon(site, decode_only)
    time.sleep(warmup)
    cams = daemon.cameras
    start = [(c.stats.frames, c.proc.processed, c.slot.dropped + c.stats.skipped) for c in cams]
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    end = [(c.stats.frames, c.proc.processed, c.slot.dropped + c.stats.skipped) for c in cams]
    snap = daemon.snapshot()
    stop.set()
    thread.join(60)
    decoded = [(e[0] - s[0]) / dt for s, e in zip(start, end)]
    analysed = [(e[1] - s[1]) / dt for s, e in zip(start, end)]
    dropped = [(e[2] - s[2]) for s, e in zip(start, end)]
    total_decoded = sum(e[0] - s[0] for s, e in zip(start, end))
    return {"bench": "capacity", "streams": n, "stream_fps": fps, "decode_only": decode_only,
            "window_s": round(dt, 1), "decoded_fps_per_stream": round(statistics.mean(decoded), 2),
            "min_decoded_fps": round(min(decoded), 2),
            "analysed_fps_per_stream": round(statistics.mean(analysed), 2),
            "analysed_fps_total": round(sum(analysed), 2),
            "dropped_share": round(sum(dropped) / max(total_decoded, 1), 3),
            "mean_batch": snap["inference"]["mean_batch"], "last_batch_ms": snap["inference"]["last_batch_ms"]}


def latency(work: Path, weights: Path, url: str, flush: float, timeout: float) -> dict:
    """One camera on `url` until its stream ends (or `timeout`), events timed into the database."""
    lat: list[float] = []
    site = write_site(work, weights, {"a": url}, f"flush_interval: {flush}, backoff: {{initial: 120}}",
                      tracker="{max_lost_seconds: 15}")
    daemon, stop, thread = start_daemon(site, False)
    cam = daemon.cameras[0]
    db, last_id = work / "bench.db", 0
    end = time.monotonic() + timeout
    while time.monotonic() < end and not (cam.stats.state == "backoff" and cam.stats.frames):
        time.sleep(0.02)
        try:
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT id, t_us FROM events WHERE id > ?", (last_id,)).fetchall()
        except sqlite3.OperationalError:
            continue
        now_us = time.time() * 1e6
        for rid, t_us in rows:
            lat.append((now_us - t_us) / 1e3)
            last_id = max(last_id, rid)
    infer = cam.proc.inference_ms
    stop.set()
    thread.join(60)
    return {"bench": "latency", "flush_interval_s": flush, "events": len(lat),
            "latency_ms_mean": round(statistics.mean(lat), 1) if lat else None,
            "latency_ms_p50": round(statistics.median(lat), 1) if lat else None,
            "latency_ms_max": round(max(lat), 1) if lat else None, "last_inference_ms": round(infer, 1),
            "poll_interval_ms": 20}


def live_parity(work: Path, weights: Path, url: str, slowdown: float, timeout: float) -> tuple[dict, Path]:
    """Count `url` live until its stream ends; returns the live numbers and the site file, so the
    caller can replay the same clip with it."""
    emitted: list = []
    site = write_site(work, weights, {"a": url}, "backoff: {initial: 600}",
                      tracker=f"{{max_lost_seconds: {slowdown}}}")  # the clip's time is stretched
    daemon, stop, thread = start_daemon(site, False)
    daemon.on_events = emitted.extend
    cam = daemon.cameras[0]
    end = time.monotonic() + timeout
    while time.monotonic() < end and not (cam.stats.state == "backoff" and cam.stats.frames and not len(cam.slot)):
        time.sleep(0.1)
    time.sleep(2.0)  # the last frame's inference
    stop.set()
    thread.join(60)
    decoded, dropped = cam.stats.frames, cam.slot.dropped + cam.stats.skipped
    return {"decoded": decoded, "dropped": dropped, "analysed": decoded - dropped,
            "live_crossings": sum(1 for e in emitted if e.kind == "line")}, site

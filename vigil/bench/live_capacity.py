"""Live daemon benchmarks: N cameras on RTSP streams through the real daemon (real YOLO,
tracker, counter, SQLite store). The streams are served by the caller (bench/live_capacity.py
serves a clip from the loopback GStreamer RTSP server of tests/support).

capacity: after a warm-up, per stream, decoded and analysed fps and the frames dropped (stale in
the slot, or skipped to catch up); `sustained` says the daemon kept up: nothing dropped and every
stream analysed at its rate / stride. The pipeline is the caller's (bench/live_capacity.py hands
it pipelines/default.yaml: the default detector and engine auto). decode_only swaps the detector
for one that finds nothing, to measure the readers alone.
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


def write_site(work: Path, weights: Path | str, urls: dict[str, str], live: str, tracker: str = "{}") -> Path:
    """`weights`: a weights file (a pipeline of it, every frame analysed), or a pipeline's YAML text."""
    text = weights if isinstance(weights, str) else (f"detector: {{weights: {weights}, imgsz: 640, batch: 8}}\n"
                                                     f"frame_stride: 1\ntracker: {tracker}\n")
    (work / "pipeline.yaml").write_text(text)
    cams = "\n".join(f"  - {{id: {c}, source: '{u}', lines: {LINE}}}" for c, u in urls.items())
    site = work / "site.yaml"
    site.write_text(f"site: bench\npipeline: pipeline.yaml\ndatabase: sqlite:///{work}/bench.db\n"
                    f"live: {{status_file: {work}/status.json, {live}}}\ncameras:\n{cams}\n")
    return site


def start_daemon(site: Path, decode_only: bool):
    from vigil.config.load import load_site
    from vigil.live.build import build_daemon
    from vigil.pipeline.round import AnalysisRound
    from vigil.pipeline.stages import build_stages
    from vigil.store import Store

    cfg = load_site(site)
    detector, embedder = (NoDetections(), None) if decode_only else build_stages(cfg)
    daemon = build_daemon(cfg, Store(cfg.site.database), AnalysisRound(detector, embedder))
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    thread.start()
    return daemon, stop, thread


def capacity(work: Path, pipeline: Path | str, url: str, n: int, fps: float, seconds: float, warmup: float,
             decode_only: bool, hwaccel: str = "auto", stride: int = 1, tolerate: float = 0.0) -> dict:
    """`n` cameras on the same stream `url` (served at `fps`), analysed by `pipeline` (weights or
    a pipeline's YAML text) at every `stride`-th frame; `tolerate`: share of frames that may drop."""
    site = write_site(work, pipeline, {f"c{i}": url for i in range(n)}, f"flush_interval: 1.0, hwaccel: {hwaccel}")
    daemon, stop, thread = start_daemon(site, decode_only)
    try:
        time.sleep(warmup)
        cams = daemon.cameras
        start = [(c.feed.stats.frames, c.proc.processed, c.feed.slot.dropped + c.feed.stats.skipped) for c in cams]
        t0 = time.monotonic()
        time.sleep(seconds)
        dt = time.monotonic() - t0
        end = [(c.feed.stats.frames, c.proc.processed, c.feed.slot.dropped + c.feed.stats.skipped) for c in cams]
        snap = daemon.snapshot()
    finally:
        stop.set()
        thread.join(60)
    decoded = [(e[0] - s[0]) / dt for s, e in zip(start, end)]
    analysed = [(e[1] - s[1]) / dt for s, e in zip(start, end)]
    dropped = [(e[2] - s[2]) for s, e in zip(start, end)]
    total_decoded = sum(e[0] - s[0] for s, e in zip(start, end))
    streaming = sum(c["state"] == "streaming" for c in snap["cameras"])
    # kept up: every camera streaming, nothing dropped (or within `tolerate`), each analysed at
    # (nearly) its rate / stride (5 % slack: the window's edges cut a frame or two)
    sustained = (streaming == n and sum(dropped) <= tolerate * total_decoded
                 and min(analysed) >= 0.95 * fps / stride)
    return {"bench": "capacity", "streams": n, "stream_fps": fps, "frame_stride": stride, "decode_only": decode_only,
            "engine": snap["inference"].get("engine"), "decoders": sorted({c.get("decoder") or "-" for c in
                                                                           snap["cameras"]}),
            "window_s": round(dt, 1), "decoded_fps_per_stream": round(statistics.mean(decoded), 2),
            "min_decoded_fps": round(min(decoded), 2),
            "analysed_fps_per_stream": round(statistics.mean(analysed), 2),
            "min_analysed_fps": round(min(analysed), 2),
            "analysed_fps_total": round(sum(analysed), 2),
            "dropped": sum(dropped), "dropped_share": round(sum(dropped) / max(total_decoded, 1), 3),
            "streaming": streaming, "sustained": sustained,
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
    while time.monotonic() < end and not (cam.feed.stats.state == "backoff" and cam.feed.stats.frames):
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
    while time.monotonic() < end and not (cam.feed.stats.state == "backoff" and cam.feed.stats.frames
                                          and not len(cam.feed.slot)):
        time.sleep(0.1)
    time.sleep(2.0)  # the last frame's inference
    stop.set()
    thread.join(60)
    decoded, dropped = cam.feed.stats.frames, cam.feed.slot.dropped + cam.feed.stats.skipped
    return {"decoded": decoded, "dropped": dropped, "analysed": decoded - dropped,
            "live_crossings": sum(1 for e in emitted if e.kind == "line")}, site

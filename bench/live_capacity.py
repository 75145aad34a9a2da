"""Live daemon benchmarks against the loopback GStreamer RTSP server (tests/support/rtsp_server.py).

    .venv/bin/python bench/live_capacity.py capacity --streams 1,2,3 --fps 5 --seconds 30
    .venv/bin/python bench/live_capacity.py capacity --streams 1,8,16,32 --decode-only
    .venv/bin/python bench/live_capacity.py latency --flush 1.0
    .venv/bin/python bench/live_capacity.py parity --slowdown 1 --seconds 8

capacity: N cameras, each an RTSP stream of saoyan_test.mp4 (640x360) at --fps, through the real
daemon (real YOLO from ../shared/data, tracker, counter, SQLite store). After a warm-up it
measures, per stream, decoded and analysed fps and the share of frames dropped as stale.
--decode-only swaps the detector for one that finds nothing, to measure the readers alone.

latency: one camera serving a clip slowly enough that every frame is analysed; a thread polls the
database and records, for every event, the time from its frame's timestamp (wall clock at decode)
until the event is visible in the database (commit by the batched writer).

parity: a clip (15 fps content) served at 1/--slowdown of real time, counted live, against
`vigil replay` of the same served file; reports both counts and the frames dropped live.

Prints one JSON object per run. Needs Debian's python3-gi + gst-rtsp-server (see README).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.data import VIDEO, YOLO_ONNX  # noqa: E402
from tests.support.rtsp_harness import RtspServer, gst_unavailable_reason, prepare_clip  # noqa: E402
from vigil.types import Detections  # noqa: E402

LINE = "[{name: southbound, points: [[120, 200], [630, 200]], in_side: right}]"


class NoDetections:
    def detect(self, images):
        return [Detections.empty() for _ in images]


def write_site(work: Path, urls: dict[str, str], live: str, tracker: str = "{}") -> Path:
    (work / "pipeline.yaml").write_text(f"detector: {{weights: {YOLO_ONNX}, imgsz: 640, batch: 8}}\n"
                                        f"frame_stride: 1\ntracker: {tracker}\n")
    cams = "\n".join(f"  - {{id: {c}, source: '{u}', lines: {LINE}}}" for c, u in urls.items())
    site = work / "site.yaml"
    site.write_text(f"site: bench\npipeline: pipeline.yaml\ndatabase: sqlite:///{work}/bench.db\n"
                    f"live: {{status_file: {work}/status.json, {live}}}\ncameras:\n{cams}\n")
    return site


def start_daemon(site: Path, decode_only: bool):
    from vigil.cli.replay import build_stages
    from vigil.config.load import load_site
    from vigil.live.build import build_daemon
    from vigil.pipeline.camera import CameraPipeline
    from vigil.store import Store

    cfg = load_site(site)
    detector, embedder = (NoDetections(), None) if decode_only else build_stages(cfg)
    daemon = build_daemon(cfg, Store(cfg.site.database), detector,
                          lambda cam: CameraPipeline(cam, cfg.pipeline, embedder))
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    thread.start()
    return daemon, stop, thread


def capacity(n: int, fps: float, seconds: float, warmup: float, decode_only: bool) -> dict:
    clip = prepare_clip(VIDEO / "saoyan_test.mp4", fps=fps, loops=max(2, int((seconds + warmup) // 30) + 2))
    with tempfile.TemporaryDirectory() as tmp, RtspServer({"cam": clip}) as srv:
        work = Path(tmp)
        site = write_site(work, {f"c{i}": srv.url("cam") for i in range(n)}, "flush_interval: 1.0")
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


def latency(flush: float, timeout: float) -> dict:
    # 4 s of the clip at 15 fps served 15x slowed (1 frame/s): every frame analysed, cars counted.
    clip = prepare_clip(VIDEO / "saoyan_test.mp4", fps=15, seconds=4, slowdown=15)
    lat: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, RtspServer({"cam": clip}) as srv:
        work = Path(tmp)
        site = write_site(work, {"a": srv.url("cam")}, f"flush_interval: {flush}, backoff: {{initial: 120}}",
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


def parity(slowdown: float, seconds: float, timeout: float) -> dict:
    from vigil.cli import main as vigil_main

    clip = prepare_clip(VIDEO / "saoyan_test.mp4", fps=15, seconds=seconds, slowdown=slowdown)
    emitted: list = []
    with tempfile.TemporaryDirectory() as tmp, RtspServer({"cam": clip}) as srv:
        work = Path(tmp)
        site = write_site(work, {"a": srv.url("cam")}, "backoff: {initial: 600}",
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
        db = work / "replay.db"
        vigil_main(["replay", str(site), f"a={clip}", "--db", f"sqlite:///{db}", "--no-progress"])
        with sqlite3.connect(db) as conn:
            replay = conn.execute("SELECT count(*) FROM events e JOIN series s ON s.id = e.series_id "
                                  "WHERE s.kind = 'line'").fetchone()[0]
    return {"bench": "parity", "content_fps": 15, "served_fps": round(15 / slowdown, 2), "seconds": seconds,
            "decoded": decoded, "dropped": dropped, "analysed": decoded - dropped,
            "live_crossings": sum(1 for e in emitted if e.kind == "line"), "replay_crossings": replay}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capacity")
    c.add_argument("--streams", default="1,2,3", help="comma-separated stream counts")
    c.add_argument("--fps", type=float, default=5.0)
    c.add_argument("--seconds", type=float, default=30.0, help="measurement window per run")
    c.add_argument("--warmup", type=float, default=10.0)
    c.add_argument("--decode-only", action="store_true")
    lt = sub.add_parser("latency")
    lt.add_argument("--flush", type=float, default=1.0)
    lt.add_argument("--timeout", type=float, default=150.0)
    pa = sub.add_parser("parity")
    pa.add_argument("--slowdown", type=float, default=1.0, help="serve the 15 fps clip this many times slower")
    pa.add_argument("--seconds", type=float, default=8.0, help="seconds of the clip's content")
    pa.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    reason = gst_unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    if args.cmd == "capacity":
        for n in (int(x) for x in args.streams.split(",")):
            print(json.dumps(capacity(n, args.fps, args.seconds, args.warmup, args.decode_only)), flush=True)
    elif args.cmd == "latency":
        print(json.dumps(latency(args.flush, args.timeout)), flush=True)
    else:
        print(json.dumps(parity(args.slowdown, args.seconds, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Live daemon benchmarks (vigil/bench/live_capacity.py) against the loopback GStreamer RTSP
server of tests/support, serving saoyan_test.mp4 (640x360) from ../shared/data.

    python bench/live_capacity.py capacity --streams 4,8,12,16,20,24 --fps 5 --seconds 30
    python bench/live_capacity.py capacity --streams 1,8,16,32 --decode-only
    python bench/live_capacity.py latency --flush 1.0
    python bench/live_capacity.py parity --slowdown 1 --seconds 8

capacity: N cameras, each an RTSP stream of the clip (640x360) at --fps, through the real daemon
with the default pipeline (pipelines/default.yaml: its detector, engine auto, tracker), every
frame analysed (--stride 1: the default pipeline's stride 2 is for 30 fps cameras). A run is
`sustained` when no frame was dropped and every stream was analysed at its rate; the sweep stops
at the first count that is not (--keep-going runs them all) and ends with one summary line,
{"bench": "capacity-summary", "max_sustained_streams": N, ...}.
latency: one camera served 15x slowed (every frame analysed), event latency into the database.
parity: a clip (15 fps content) served at 1/--slowdown of real time, counted live, against
`vigil replay` of the same served file; reports both counts and the frames dropped live.

Prints one JSON object per run. Needs Debian's python3-gi + gst-rtsp-server (see README). This
wrapper stays outside the package because the RTSP server is test support, not library code.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.support.data import VIDEO, YOLO_ONNX  # noqa: E402
from tests.support.rtsp_harness import RtspServer, gst_unavailable_reason, prepare_clip  # noqa: E402
from vigil.bench import live_capacity as bench  # noqa: E402

CLIP = VIDEO / "saoyan_test.mp4"


def pipeline_text(path: Path, stride: int, batch: int | None) -> str:
    """`path`'s pipeline with its weights made absolute, `frame_stride` and (when given) batch set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    det = data["detector"]
    weights = Path(det["weights"])
    if not weights.is_absolute() and (path.parent / weights).exists():
        det["weights"] = str((path.parent / weights).resolve())
    if batch:
        det["batch"] = batch
    data["frame_stride"] = stride
    return yaml.safe_dump(data, sort_keys=False)


def capacity(n: int, fps: float, seconds: float, warmup: float, decode_only: bool, pipeline: str,
             hwaccel: str, stride: int, tolerate: float = 0.0) -> dict:
    # the 33 s clip repeats so the stream outlives start-up, warm-up and window (an end would drop frames)
    clip = prepare_clip(CLIP, fps=fps, loops=max(2, int((seconds + warmup + 30) // 30) + 1))
    with tempfile.TemporaryDirectory() as tmp, RtspServer({"cam": clip}) as srv:
        return bench.capacity(Path(tmp), pipeline, srv.url("cam"), n, fps, seconds, warmup, decode_only,
                              hwaccel, stride, tolerate)


def latency(flush: float, timeout: float) -> dict:
    # 4 s of the clip at 15 fps served 15x slowed (1 frame/s): every frame analysed, cars counted.
    clip = prepare_clip(CLIP, fps=15, seconds=4, slowdown=15)
    with tempfile.TemporaryDirectory() as tmp, RtspServer({"cam": clip}) as srv:
        return bench.latency(Path(tmp), YOLO_ONNX, srv.url("cam"), flush, timeout)


def parity(slowdown: float, seconds: float, timeout: float) -> dict:
    from vigil.cli import main as vigil_main

    clip = prepare_clip(CLIP, fps=15, seconds=seconds, slowdown=slowdown)
    with tempfile.TemporaryDirectory() as tmp, RtspServer({"cam": clip}) as srv:
        live, site = bench.live_parity(Path(tmp), YOLO_ONNX, srv.url("cam"), slowdown, timeout)
        db = Path(tmp) / "replay.db"
        vigil_main(["replay", str(site), f"a={clip}", "--db", f"sqlite:///{db}", "--no-progress"])
        with sqlite3.connect(db) as conn:
            replay = conn.execute("SELECT count(*) FROM events e JOIN series s ON s.id = e.series_id "
                                  "WHERE s.kind = 'line'").fetchone()[0]
    return {"bench": "parity", "content_fps": 15, "served_fps": round(15 / slowdown, 2), "seconds": seconds,
            **live, "replay_crossings": replay}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capacity")
    c.add_argument("--streams", default="4,8,12,16,20,24", help="comma-separated stream counts, rising")
    c.add_argument("--fps", type=float, default=5.0)
    c.add_argument("--seconds", type=float, default=30.0, help="measurement window per run")
    c.add_argument("--warmup", type=float, default=10.0)
    c.add_argument("--decode-only", action="store_true")
    c.add_argument("--pipeline", type=Path, default=REPO / "pipelines" / "default.yaml")
    c.add_argument("--stride", type=int, default=1, help="analyse every N-th frame of each stream")
    c.add_argument("--batch", type=int, default=None, help="detector batch (default: the pipeline's)")
    c.add_argument("--hwaccel", default="auto", choices=["auto", "cuda", "qsv", "vaapi", "none"])
    c.add_argument("--tolerate", type=float, default=0.0,
                   help="share of frames that may drop in a sustained run (default 0: none)")
    c.add_argument("--keep-going", action="store_true", help="run every count, not only up to the first miss")
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
        if not args.pipeline.is_file():
            print(f"error: pipeline '{args.pipeline}' does not exist; give --pipeline PATH.yaml", file=sys.stderr)
            return 2
        text = pipeline_text(args.pipeline, args.stride, args.batch)
        best = 0
        for n in (int(x) for x in args.streams.split(",")):
            row = capacity(n, args.fps, args.seconds, args.warmup, args.decode_only, text, args.hwaccel,
                           args.stride, args.tolerate)
            print(json.dumps(row), flush=True)
            if row["sustained"]:
                best = max(best, n)
            elif not args.keep_going:
                break
        print(json.dumps({"bench": "capacity-summary", "max_sustained_streams": best, "stream_fps": args.fps,
                          "frame_stride": args.stride, "pipeline": str(args.pipeline)}), flush=True)
    elif args.cmd == "latency":
        print(json.dumps(latency(args.flush, args.timeout)), flush=True)
    else:
        print(json.dumps(parity(args.slowdown, args.seconds, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The detector on an NVIDIA GPU, measured in one go; prints one JSON object.

    python scripts/gpu_check.py [--weights ../shared/data/models/yolov8n_dequant.pt]
                                [--video ../shared/data/video/saoyan_test.mp4] [--seconds 10]

On a machine with an NVIDIA GPU: builds (once; cached like every engine export) the TensorRT
fp16 plan of the weights with a dynamic batch up to 32, measures detector ms per frame at
batch 1, 8 and 32 (median of 20 calls after warm-up, input letterboxed to 640x384), then
replays the clip as 4 and as 16 cameras through Vigil's pipeline and reports camera-frames
per second. Without TensorRT it measures PyTorch CUDA fp16 instead and says so. It also decodes
the clip on NVDEC (`live.hwaccel: cuda`) and in software: frames per second of each, which
device decoded, and how far the frames differ (mean absolute difference in grey levels).
On a machine without an NVIDIA GPU it prints that there is none and exits 0."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"


def detector_ms(detector, frame, batch: int, rounds: int = 20) -> float:
    frames = [frame] * batch
    for _ in range(3):
        detector.detect(frames)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        detector.detect(frames)
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times) / batch, 3)


def decode_check(video: Path) -> dict:
    """The clip decoded (every frame to BGR) in software and on CUDA, timed; frames compared."""
    import numpy as np

    from vigil.sources.file import FileSource

    out: dict = {}
    frames: dict = {}
    for kind in ("none", "cuda"):
        src = FileSource(video, "gpu-check", hwaccel=kind)
        t0 = time.perf_counter()
        images = [f.image for f in src]
        out[kind] = {"device": src.decoder.device, "fallback": src.decoder.fallback_reason,
                     "frames": len(images), "fps": round(len(images) / (time.perf_counter() - t0), 1)}
        frames[kind] = images[:30]
    diffs = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(frames["none"], frames["cuda"])]
    out["max_mean_abs_diff"] = round(max(diffs), 3) if diffs else None  # worst of the first 30 frames
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", type=Path, default=SHARED / "models" / "yolov8n_dequant.pt")
    ap.add_argument("--video", type=Path, default=SHARED / "video" / "saoyan_test.mp4")
    ap.add_argument("--seconds", type=float, default=10.0, help="clip length replayed per camera")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"gpu": None, "result": "no NVIDIA GPU on this machine (torch.cuda.is_available() is "
                                                 "False); nothing measured"}))
        return 0
    for f in (args.weights, args.video):
        if not f.exists():
            print(f"error: {f} does not exist; pass --weights/--video", file=sys.stderr)
            return 2

    import av

    from vigil.bench.clip import cut_clip
    from vigil.bench.pipeline_vigil import run_vigil
    from vigil.detect.engines import installed
    from vigil.detect.yolo import YoloDetector

    engine = "tensorrt" if installed("tensorrt") else "torch"
    out: dict = {"gpu": torch.cuda.get_device_name(0), "engine": engine, "weights": str(args.weights),
                 "torch": torch.__version__}
    t0 = time.perf_counter()
    det = YoloDetector(weights=args.weights, engine=engine, batch=32)  # TensorRT: builds the plan (cached)
    out["load_or_build_s"] = round(time.perf_counter() - t0, 1)
    out["describe"] = det.describe()
    out["decode"] = decode_check(args.video)
    with av.open(str(args.video)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="bgr24")
    out["ms_per_frame"] = {str(b): detector_ms(det, frame, b) for b in (1, 8, 32)}
    del det
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        clip = cut_clip(args.video, Path(tmp) / f"clip{args.video.suffix}", args.seconds)
        line = ((0.0, 200.0), (639.0, 200.0))
        replay = {}
        for cams in (4, 16):
            r = run_vigil(clip, args.weights, line, cams, 640, 0.25, batch=min(32, 2 * cams))
            replay[str(cams)] = {"camera_frames_per_s": round(r.fps, 1), "camera_frames": r.extra["camera_frames"],
                                 "engine": r.extra.get("engine")}
        out["replay"] = replay
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

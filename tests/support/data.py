"""Where the shared, read-only test data lives (../shared/data beside the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VIGIL_SHARED_DATA", REPO.parent / "shared" / "data"))
MODELS = SHARED / "models"
VIDEO = SHARED / "video"
YOLO_ONNX = MODELS / "yolov8n_int8.onnx"


def need(path: Path) -> Path:
    """Skip the calling test, naming the file, when a shared data file is absent."""
    if not path.exists():
        pytest.skip(f"shared test data missing: {path} (set VIGIL_SHARED_DATA to the data folder)")
    return path


def cut_video(src: Path, dst: Path, frames: int, start: int = 0) -> Path:
    """Re-encode frames [start, start+frames) of a shared clip into a small H.264 file."""
    import av

    # faststart: the index goes first, so a truncated copy still opens (like a recording cut short)
    opts = {"movflags": "faststart"} if dst.suffix == ".mp4" else {}
    with av.open(str(src)) as inp, av.open(str(dst), "w", options=opts) as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 25
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.options = {"preset": "ultrafast", "crf": "23"}
        for i, frame in enumerate(inp.decode(vin)):
            if i < start:
                continue
            if i >= start + frames:
                break
            img = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            for packet in vout.encode(img):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)
    return dst

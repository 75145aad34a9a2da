"""Short RGB + thermal video pairs built from the shared still pairs (written into tmp)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def write_video(path: Path, frames: list[np.ndarray], fps: int, keep: list[int] | None = None) -> Path:
    """H.264 file of BGR frames at `fps`; with `keep`, only those frame numbers are written,
    at their own times (a stream that lost frames)."""
    keep = list(range(len(frames))) if keep is None else keep
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in keep:
            img = frames[i][: h - h % 2, : w - w % 2]
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[..., ::-1]), format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def pan_streams(visible: np.ndarray, thermal: np.ndarray, width: int, step: int, rgb_scale: float
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A camera pair panning across a registered still pair: the thermal camera sees a
    `width`-pixel window at the thermal image's resolution, the RGB camera the same window
    magnified `rgb_scale` times (a higher-resolution visible sensor). Objects in the scene
    move right-to-left through both views."""
    h, w = thermal.shape[:2]
    rgb, ir = [], []
    for x0 in range(0, w - width + 1, step):
        ir.append(cv2.cvtColor(thermal[:, x0:x0 + width], cv2.COLOR_GRAY2BGR))
        rgb.append(cv2.resize(visible[:, x0:x0 + width], None, fx=rgb_scale, fy=rgb_scale,
                              interpolation=cv2.INTER_LINEAR))
    return rgb, ir

"""Annotated video files, encoded by PyAV: H.264 (libx264) where the installed FFmpeg has it,
MPEG-4 part 2 otherwise; frames are BGR arrays as everywhere in Vigil."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vigil.errors import SourceError

CODECS = ("libx264", "mpeg4")


def video_encoder() -> str:
    """The first of CODECS this PyAV can encode with."""
    for name in CODECS:
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.error.FFmpegError, ValueError):  # not built into this FFmpeg
            continue
    raise SourceError(f"this PyAV/FFmpeg encodes none of {', '.join(CODECS)}; install a PyAV wheel with libx264")


class VideoWriter:
    """Opened on the first frame (its size decides the stream's); one frame per `write`."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.frames = 0
        self._out: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        codec = video_encoder()
        self._out = av.open(str(self.path), "w", options={"movflags": "faststart"})
        stream = self._out.add_stream(codec, rate=self.rate)
        assert isinstance(stream, av.video.stream.VideoStream)
        # yuv420p wants even sizes; an odd edge pixel is dropped rather than the frame rescaled
        stream.width, stream.height, stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        else:
            stream.bit_rate = 4_000_000
        self._stream = stream

    def write(self, bgr: np.ndarray) -> None:
        if self._out is None:
            self._open(bgr.shape[1], bgr.shape[0])
        assert self._out is not None and self._stream is not None
        bgr = bgr[: self._stream.height, : self._stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._out is None:
            return
        assert self._stream is not None
        for packet in self._stream.encode():
            self._out.mux(packet)
        self._out.close()
        self._out = None

"""The benchmark input: a video cut to its first S seconds without re-encoding, so both
sides decode exactly the same packets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from vigil.errors import SourceError


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    width: int
    height: int
    fps: float
    frames: int  # decoded frames (counted, not the header's claim)


def cut_clip(src: Path, dst: Path, seconds: float) -> Path:
    """Copy the packets of `src` whose decode time is below `seconds` into `dst`.

    Cutting in decode order keeps every reference a kept packet needs (B-frames refer only
    to packets decoded before them), so every copied packet decodes cleanly."""
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"cannot open video '{src}': {exc}; give a readable video file") from None
    with inp, av.open(str(dst), "w") as out:
        if not inp.streams.video:
            raise SourceError(f"'{src}' has no video stream; give a video file")
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        t0 = None
        for packet in inp.demux(vin):
            if packet.dts is None:  # the demuxer's end-of-stream flush packet
                continue
            t = float(packet.dts * packet.time_base)
            t0 = t if t0 is None else t0
            if t - t0 >= seconds:
                break
            packet.stream = vout
            out.mux(packet)
    return dst


def probe_clip(path: Path) -> ClipInfo:
    """Size, rate and the true number of frames (decoded, since headers can be wrong)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        rate = s.average_rate or s.guessed_rate
        n = sum(1 for _ in c.decode(s))
        return ClipInfo(Path(path), s.codec_context.width, s.codec_context.height,
                        float(rate) if rate else 25.0, n)

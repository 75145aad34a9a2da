"""Hardware video decode for a camera stream (`live.hwaccel`), with fallback to software.

The container is opened without a device, as always, so a missing or broken GPU can never look
like a network fault; the decoder is then built beside it: a codec context of the stream's codec
bound to the device (PyAV's HWAccel; frames come back to system memory), given the stream's
extradata (SPS/PPS from the SDP). When the device cannot be opened or this FFmpeg build cannot
decode the stream's codec on it, the stream's own (software) codec context decodes instead:
exactly the `none` path.

`auto` tries the devices in `AUTO_ORDER` and quietly decodes in software when none opens.
An explicitly named device that does not open also falls back (a camera keeps running, as
Frigate users expect), but the caller counts it and logs it once: see `StreamReader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import av
import numpy as np
from av.codec.hwaccel import HWAccel, hwdevices_available
from av.video.codeccontext import VideoCodecContext

HwAccelChoice = Literal["auto", "cuda", "qsv", "vaapi", "none"]
AUTO_ORDER: tuple[str, ...] = ("cuda", "vaapi", "qsv")
SOFTWARE = "software"


@dataclass
class Decoder:
    """What decodes one connection's video packets: `context` (None: the stream's own software
    context), `device` ("cuda", ... or "software") and, when a named device was not used, why."""

    context: VideoCodecContext | None
    device: str
    fallback_reason: str | None = None


def decoder_context(stream, hwaccel: HWAccel | None) -> VideoCodecContext:
    """A fresh decoder of `stream`'s codec (on the device when `hwaccel` opens) with the stream's
    extradata; it decodes the stream's packets like the stream's own context."""
    ctx = cast(VideoCodecContext, av.CodecContext.create(stream.codec_context.codec, "r", hwaccel=hwaccel))
    ctx.extradata = stream.codec_context.extradata
    ctx.thread_type = "SLICE"  # like the software path: no frames held back
    return ctx


def to_bgr(frame, decoder: Decoder, stream) -> np.ndarray:
    """A decoded frame as BGR, the same pixels whichever decoder made it: a device gives NV12,
    whose samples equal the software decoder's planar YUV but convert to BGR by another path
    (up to 16 levels apart), so it is first laid out as the software decoder would."""
    if decoder.context is not None and frame.format.name != (want := stream.codec_context.format.name):
        frame = frame.reformat(format=want)
    return frame.to_ndarray(format="bgr24")


def _open_on(kind: str, stream) -> tuple[VideoCodecContext | None, str | None]:
    """A decoder of `stream`'s codec on device `kind`, or (None, why not)."""
    if kind not in hwdevices_available():
        return None, f"this FFmpeg build has no {kind} support (it has: {', '.join(hwdevices_available()) or 'none'})"
    try:
        # CUDA: the device's primary context, shared by every camera (and the detector), not one per connection.
        options: dict[str, object] | None = {"primary_ctx": "1"} if kind == "cuda" else None
        ctx = decoder_context(stream, HWAccel(kind, allow_software_fallback=True, options=options))
    except (av.error.FFmpegError, OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return None, f"the {kind} device did not open ({reason}: check its driver and that the device is visible)"
    if not ctx.is_hwaccel:
        return None, f"this FFmpeg build cannot decode {stream.codec_context.codec.name} on {kind}"
    return ctx, None


def open_decoder(choice: str, stream) -> Decoder:
    """The decoder for one connection of `stream` under the `live.hwaccel` setting `choice`."""
    if choice == "none":
        return Decoder(None, SOFTWARE)
    reasons = []
    for kind in (AUTO_ORDER if choice == "auto" else (choice,)):
        ctx, why = _open_on(kind, stream)
        if ctx is not None:
            return Decoder(ctx, kind)
        reasons.append(why)
    return Decoder(None, SOFTWARE, None if choice == "auto" else reasons[0])

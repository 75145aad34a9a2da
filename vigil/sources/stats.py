"""What a stream reader knows about its stream, read by health and metrics from other threads."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

State = Literal["connecting", "streaming", "backoff", "stopped", "finished", "failed"]


class RateMeter:
    """Events per second over the last `window` seconds (safe enough across threads for monitoring)."""

    def __init__(self, window: float = 5.0, maxlen: int = 256):
        self.window = window
        self._times: deque[float] = deque(maxlen=maxlen)

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        ts = [t for t in list(self._times) if now - t <= self.window]
        if len(ts) < 2:
            return 0.0
        return (len(ts) - 1) / max(ts[-1] - ts[0], 1e-6)


@dataclass
class ReaderStats:
    """What the reader knows about its stream; read by health/metrics from other threads
    (single writes of Python attributes are atomic enough for monitoring)."""

    state: State = "connecting"
    frames: int = 0  # decoded (every stride-th one is handed over)
    skipped: int = 0  # packets skipped to catch up with the stream (counted as dropped)
    reconnects: int = 0
    last_frame_monotonic: float | None = None
    last_error: str | None = None
    next_retry_in: float | None = None
    stream_width: int = 0
    stream_height: int = 0
    decoder: str | None = None  # "cuda", "vaapi", "qsv" or "software", once a connection opened
    decode_fallbacks: int = 0  # times a device named in live.hwaccel failed and software took over
    decode_fallback_reason: str | None = None
    decode_rate: RateMeter = field(default_factory=RateMeter)

    def note_frame(self, now: float) -> None:
        self.frames += 1
        self.last_frame_monotonic = now
        self.decode_rate.tick(now)

    def decode_fps(self, now: float | None = None) -> float:
        return self.decode_rate.rate(now)

"""PyAV stream reader for live cameras: one thread per camera, reconnect with backoff, no lag.

`StreamReader` opens an RTSP URL (TCP by default), decodes in its own thread (PyAV releases the
GIL while decoding) and hands frames to a slot (vigil.sources.slots):

- live mode (`LatestFrameSlot`): only the newest frame is kept; a frame that was not taken before
  the next one arrived is dropped and counted, so a slow consumer never builds up lag. When the
  reader itself falls behind the stream (decode slower than real time), it skips packets up to the
  next keyframe, also counted as dropped.
- replay mode (`FrameQueue`): every frame is kept; the reader waits for the consumer.

Decoding runs on a GPU/VPU when `hwaccel` asks for one (vigil.sources.hwdecode), else in software.
A device that was asked for by name and does not work is a fallback to software: counted in
`stats.decode_fallbacks` and logged once per camera (again only after the device worked again).

Failures (refused, 401, timeout, EOF) close the stream and retry after an exponential, jittered,
bounded backoff that resets once the stream has been healthy for a while. Every URL that reaches
a log line or an error has its password masked.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Literal

import av

from vigil.errors import SourceError
from vigil.secrets import split_url
from vigil.sources.backoff import Backoff
from vigil.sources.hwdecode import SOFTWARE, Decoder, open_decoder, to_bgr
from vigil.sources.slots import FrameQueue, LatestFrameSlot
from vigil.sources.stats import RateMeter, ReaderStats, State
from vigil.sources.urls import is_stream_url, mask_url, scrub, with_credentials
from vigil.types import Frame

# Re-exported: callers import these from here (live/build.py, live/daemon.py, tests).
__all__ = ["Backoff", "FrameQueue", "LatestFrameSlot", "RateMeter", "ReaderStats", "State", "StreamReader",
           "describe_open_error", "is_stream_url", "mask_url", "scrub", "with_credentials"]

log = logging.getLogger("vigil.sources.rtsp")


def describe_open_error(exc: BaseException, url: str) -> str:
    """One line, password masked, that says what went wrong and what to check."""
    masked = mask_url(url)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return f"{masked}: authentication failed (401); check the camera's username and password"
    if isinstance(exc, av.error.HTTPForbiddenError):
        return f"{masked}: access forbidden (403); check the user's rights on the camera"
    if isinstance(exc, av.error.HTTPNotFoundError):
        return f"{masked}: stream path not found (404); check the path, channel and stream"
    if isinstance(exc, (ConnectionRefusedError, av.error.ConnectionRefusedError)):
        return f"{masked}: connection refused; is the camera up and the port right?"
    if isinstance(exc, (TimeoutError, av.error.ExitError)):
        return f"{masked}: timed out; is the host reachable?"
    return f"{masked}: {reason}"


def _resolve(url: str) -> None:
    parts = split_url(url)
    host = parts.host if parts else ""
    if host:
        try:
            socket.getaddrinfo(host, None)
        except OSError:
            raise SourceError(f"{mask_url(url)}: cannot resolve host '{host}'; check the address") from None


class _Resync(Exception):
    """The hardware decoder failed: continue in software from the next keyframe."""


class StreamReader(threading.Thread):
    """Decodes one camera's stream into `slot` until `stop` is set, reconnecting forever, or
    with `attempts` > 0 until that many connections failed in a row (state `failed`, the last
    error in stats): an interactive caller (vigil preview) wants the answer, not a retry."""

    def __init__(self, camera_id: str, url: str, slot: LatestFrameSlot | FrameQueue, stop: threading.Event, *,
                 transport: Literal["tcp", "udp"] = "tcp", open_timeout: float = 10.0, read_timeout: float = 10.0,
                 backoff: Backoff | None = None, max_lag: float = 2.0, stride: int = 1, hwaccel: str = "auto",
                 attempts: int = 0):
        super().__init__(name=f"reader-{camera_id}", daemon=True)
        self.attempts = max(0, int(attempts))
        self.camera_id, self.url, self.slot, self.stop_event = camera_id, url, slot, stop
        self.stride = max(1, int(stride))  # hand on every stride-th decoded frame (pipeline frame_stride)
        self.transport, self.open_timeout, self.read_timeout = transport, open_timeout, read_timeout
        self.backoff = backoff or Backoff()
        self.max_lag = max_lag
        self.hwaccel = hwaccel
        self.stats = ReaderStats()
        self._fell_back = False  # the named device failed; reported once until it works again
        self._index = 0
        # One clock for a frame: pts counts on from the monotonic clock at start, and `time` is the
        # wall time at that start plus pts, less the stream's lead (below), so tracker (pts) and
        # counter (time) never drift apart.
        self._clock0 = time.monotonic()
        self._wall0 = datetime.now(timezone.utc)
        self._last_pts = -1.0
        # A connection's first frame anchors pts at its arrival, but it can arrive late (a server's
        # preroll, the decoder's reorder delay) and the frames after it in a burst: pts then runs
        # ahead of our clock for good (1 s at 2 fps from GStreamer's RTSP server), which put event
        # times in the future and latency below zero. A frame cannot be seen before it arrives, so
        # `time` keeps the largest lead seen off pts; it only grows, so `time` never steps back.
        self._lead = 0.0

    # -- one connection
    def _open(self) -> av.container.InputContainer:
        _resolve(self.url)
        options = {
            "rtsp_transport": self.transport,
            "timeout": str(int(self.read_timeout * 1e6)),  # socket I/O timeout, microseconds
            # a live stream needs no long probing: start decoding at the first keyframe
            "analyzeduration": "1000000", "probesize": "500000",
        }
        return av.open(self.url, options=options, timeout=(self.open_timeout, self.read_timeout))

    def _fall_back(self, reason: str) -> None:
        self.stats.decoder = SOFTWARE
        if self._fell_back:
            return
        self._fell_back = True
        self.stats.decode_fallbacks += 1
        self.stats.decode_fallback_reason = reason
        log.warning("%s: live.hwaccel %s: %s; decoding in software", self.camera_id, self.hwaccel, reason,
                    extra={"camera": self.camera_id, "event": "hwaccel_fallback"})

    def _decoder(self, stream) -> Decoder:
        decoder = open_decoder(self.hwaccel, stream)
        self.stats.decoder = decoder.device
        if decoder.fallback_reason:
            self._fall_back(decoder.fallback_reason)
        elif self._fell_back and decoder.device != SOFTWARE:
            self._fell_back = False
            log.info("%s: decoding on %s again", self.camera_id, decoder.device,
                     extra={"camera": self.camera_id, "event": "hwaccel_restored"})
        return decoder

    def _decode(self, decoder: Decoder, packet) -> list:
        if decoder.context is None:
            return packet.decode()
        try:
            return decoder.context.decode(packet)
        except av.error.InvalidDataError:  # a damaged packet, as in software: the stream resyncs, the device stays
            raise
        except av.error.FFmpegError as exc:  # the device broke mid-stream: software from the next keyframe
            self._fall_back(f"{decoder.device} decode failed ({exc})")
            decoder.context, decoder.device = None, SOFTWARE
            raise _Resync() from None

    def _stream(self, container) -> None:
        stream = container.streams.video[0]
        # Frame threading would hold frames back (one per thread) before output: latency. Slice
        # threading adds none; a camera stream is cheap to decode next to the detector.
        stream.thread_type = "SLICE"
        decoder = self._decoder(stream)
        time_base = float(stream.time_base) if stream.time_base else 0.0
        offset = None  # min(monotonic - pts): where the stream started relative to our clock
        skipping = resync = False
        log_first = True
        rate = stream.average_rate or stream.guessed_rate
        interval = 1.0 / float(rate) if rate else 0.04
        prev_t: float | None = None  # stream time of the previous frame of this connection
        for packet in container.demux(stream):
            if self.stop_event.is_set():
                return
            now = time.monotonic()
            if packet.size and packet.pts is not None and not self.slot.keeps_all:
                pts_s = packet.pts * time_base
                offset = now - pts_s if offset is None else min(offset, now - pts_s)
                if not skipping and now - pts_s - offset > self.max_lag:
                    skipping = True  # we are behind the camera: jump to the next keyframe
                    log.warning("%s: %.1f s behind the stream; skipping to the next keyframe",
                                self.camera_id, now - pts_s - offset,
                                extra={"camera": self.camera_id, "event": "catch_up"})
                if skipping:
                    if not packet.is_keyframe:
                        self.stats.skipped += 1
                        continue
                    skipping, offset = False, None  # re-anchor: also absorbs slow clock drift
            if resync:
                if not packet.is_keyframe:
                    self.stats.skipped += 1
                    continue
                resync = False
            try:
                frames = self._decode(decoder, packet)
            except _Resync:
                resync = True
                continue
            for vf in frames:
                now = time.monotonic()
                if log_first:
                    self.stats.stream_width, self.stats.stream_height = vf.width, vf.height
                    self.stats.state = "streaming"
                    log.info("%s: streaming %dx%d from %s (decode: %s)", self.camera_id, vf.width, vf.height,
                             mask_url(self.url), decoder.device,
                             extra={"camera": self.camera_id, "event": "streaming"})
                    log_first = False
                self._last_pts, prev_t = self._next_pts(vf.time, prev_t, interval, now)
                self._lead = max(self._lead, self._last_pts - (now - self._clock0))
                index = self._index
                self._index += 1
                self.stats.note_frame(now)
                if index % self.stride:  # decoded (the next frames need it), not analysed
                    continue
                frame = Frame(image=to_bgr(vf, decoder, stream), index=index, pts=self._last_pts,
                              time=self._wall0 + timedelta(seconds=self._last_pts - self._lead),
                              camera_id=self.camera_id)
                self.slot.put(frame, self.stop_event)

    def _next_pts(self, t: float | None, prev_t: float | None, interval: float, now: float):
        """Frame.pts: seconds on one clock that only moves forward, across reconnects too (the
        tracker's time). Steps follow the stream's timestamps; the first frame of a connection,
        a frame without timestamp or a jump (camera clock reset) step by the nominal interval."""
        if prev_t is None:
            pts = max(now - self._clock0, self._last_pts + interval)  # first frame of a connection
        elif t is None or not 0 < t - prev_t <= 5.0:
            pts = self._last_pts + interval
        else:
            pts = self._last_pts + (t - prev_t)
        return pts, (t if t is not None else (prev_t + interval if prev_t is not None else 0.0))

    # -- the loop
    def run(self) -> None:
        failures = 0  # in a row: a connection that streamed resets it
        while not self.stop_event.is_set():
            self.stats.state = "connecting"
            self.stats.next_retry_in = None
            started = time.monotonic()
            error: str | None = None
            try:
                with self._open() as container:
                    self._stream(container)
                if not self.stop_event.is_set():
                    error = f"{mask_url(self.url)}: stream ended"
            except SourceError as exc:
                error = str(exc)
            except (av.error.FFmpegError, OSError, TimeoutError) as exc:
                error = describe_open_error(exc, self.url)
            except Exception as exc:  # a reader must never die silently: log it, back off, retry
                error = f"{mask_url(self.url)}: {type(exc).__name__}: {exc}"
                log.error("%s: unexpected reader error: %s", self.camera_id, scrub(error, self.url),
                          exc_info=log.isEnabledFor(logging.DEBUG),  # tracebacks may quote the URL
                          extra={"camera": self.camera_id, "event": "reader_error"})
            if self.stop_event.is_set():
                break
            error = scrub(error or "stream ended", self.url)
            streamed = time.monotonic() - started
            self.backoff.reset_if_healthy(streamed)
            self.stats.last_error = error
            failures = 1 if self.stats.state == "streaming" else failures + 1
            if self.attempts and failures >= self.attempts:
                self.stats.state = "failed"  # the caller reports last_error; no retry to announce
                return
            delay = self.backoff.next_delay()
            self.stats.reconnects += 1
            self.stats.state = "backoff"
            self.stats.next_retry_in = delay
            log.warning("%s: %s; retrying in %.1f s", self.camera_id, error, delay,
                        extra={"camera": self.camera_id, "event": "backoff", "delay_s": round(delay, 2)})
            self.stop_event.wait(delay)
        self.stats.state = "stopped"

"""Recorded video files, decoded by PyAV (FFmpeg) with threaded decoding."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import av

from vigil.errors import SourceError
from vigil.sources.hwdecode import open_decoder, to_bgr
from vigil.timing import StageClock
from vigil.types import Frame

log = logging.getLogger("vigil.sources.file")


def content_hash(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """blake2b of the whole file: the identity of a recording, so a replay of the same
    file (under any name) replaces its earlier run instead of counting twice."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _metadata_start(container: "av.container.InputContainer") -> datetime | None:
    raw = (container.metadata or {}).get("creation_time")
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def refuse_folder(path: str | os.PathLike, camera_id: str = "") -> None:
    """A folder as a camera's video source (users try image folders): one SourceError line
    saying what is accepted instead; open() would only say `Is a directory`."""
    if Path(path).is_dir():
        who = f"camera '{camera_id}': " if camera_id else ""
        raise SourceError(f"{who}source '{path}' is a folder, not a video source; give a video file "
                          "(.mp4, .mkv, ...) or a stream URL (rtsp://...). Image folders are read only as "
                          "a thermal source (thermal.source)")


def video_file(path: str | os.PathLike, camera_id: str = "") -> Path:
    """`path` when it is a file to decode; one SourceError line otherwise (a folder, or nothing)."""
    refuse_folder(path, camera_id)
    if not Path(path).is_file():
        raise SourceError(f"video file '{path}' does not exist; check the path")
    return Path(path)


class FileSource:
    """Frames of one video file, every `stride`-th decoded frame.

    Each frame carries its index in the file, its presentation time in seconds and an
    absolute time: `start_time` (config) or the file's creation_time metadata, else
    its modification time, plus the pts. Damage part-way through raises SourceError
    after every good frame before it has been yielded. Decode time (not the time the consumer
    holds a frame) goes to `clock` as stage "decode". `hwaccel` as live.hwaccel: a device named
    that does not open decodes in software with one warning for the file (`decoder` says which).
    """

    def __init__(self, path: str | os.PathLike, camera_id: str = "", start_time: datetime | None = None,
                 stride: int = 1, threads: int = 0, clock: StageClock | None = None, hwaccel: str = "none") -> None:
        self.path = video_file(path, camera_id)
        self.clock = clock
        self.camera_id = camera_id
        self.stride = max(1, int(stride))
        try:
            self.container = av.open(str(self.path), mode="r")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise SourceError(f"cannot open video '{self.path}': {exc}; is it a complete video file?") from None
        if not self.container.streams.video:
            self.container.close()
            raise SourceError(f"'{self.path}' has no video stream; give a video file")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg, GIL released
        if threads > 0:  # several files decoding side by side: don't let each take every core
            self.stream.codec_context.thread_count = int(threads)
        self.decoder = open_decoder(hwaccel, self.stream)
        if self.decoder.fallback_reason:
            log.warning("%s: hwaccel %s: %s; decoding in software", self.path.name, hwaccel,
                        self.decoder.fallback_reason, extra={"camera": camera_id, "event": "hwaccel_fallback"})
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else 25.0
        self.width, self.height = self.stream.codec_context.width, self.stream.codec_context.height
        if start_time is not None:
            self.start_time = start_time if start_time.tzinfo else start_time.replace(tzinfo=timezone.utc)
        else:
            self.start_time = _metadata_start(self.container) or datetime.fromtimestamp(
                self.path.stat().st_mtime, tz=timezone.utc)
        self.frames_decoded = 0
        # Read now: iteration closes the container, and MKV / raw H.264 only know their duration.
        self.expected_frames = self._expected_frames()

    def _expected_frames(self) -> int:
        """Frames the container claims to hold (estimated from duration when not stored)."""
        if self.stream.frames:
            return int(self.stream.frames)
        stream = self.stream
        if stream.duration and stream.time_base is not None:
            dur = float(stream.duration * stream.time_base)
        else:
            dur = self.container.duration / av.time_base if self.container.duration else 0.0
        return int(dur * self.fps)

    def _add_decode(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.add("decode", seconds, frames=1)

    def __iter__(self) -> Iterator[Frame]:
        t0 = None
        tick = time.perf_counter()
        try:
            for packet in self.container.demux(self.stream):
                try:
                    decoded = packet.decode() if self.decoder.context is None else self.decoder.context.decode(packet)
                except av.error.InvalidDataError as exc:
                    raise SourceError(f"'{self.path}' is damaged after frame {self.frames_decoded} "
                                      f"({exc}); frames before the damage were processed") from None
                except av.error.FFmpegError as exc:
                    if self.decoder.context is None:
                        raise
                    raise SourceError(f"'{self.path}': the {self.decoder.device} decoder failed after frame "
                                      f"{self.frames_decoded} ({exc}); frames before were processed. Replay it "
                                      "with --hwaccel none") from None
                for frame in decoded:
                    index = self.frames_decoded
                    self.frames_decoded += 1
                    if index % self.stride:
                        continue
                    pts = float(frame.time) if frame.time is not None else index / self.fps
                    if t0 is None:
                        t0 = pts  # pts relative to the first frame: some files start at an offset
                    pts -= t0
                    image = to_bgr(frame, self.decoder, self.stream)
                    self._add_decode(time.perf_counter() - tick)
                    yield Frame(image=image, index=index, pts=pts,
                                time=self.start_time + timedelta(seconds=pts), camera_id=self.camera_id)
                    tick = time.perf_counter()  # time spent downstream (or blocked on a full queue) is not decode
        except av.error.FFmpegError as exc:
            raise SourceError(f"'{self.path}' could not be decoded after frame {self.frames_decoded} "
                              f"({exc}); frames before the damage were processed") from None
        finally:
            self.container.close()
        expected = self.expected_frames
        # A clean file decodes to within a frame or two of what its header claims.
        if expected and self.frames_decoded < 0.98 * expected - 2:
            raise SourceError(f"'{self.path}' ended after {self.frames_decoded} of {expected} frames: "
                              "the file looks truncated; frames before the damage were processed")

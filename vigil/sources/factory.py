"""The one place a camera's source is built, for replay and live alike.

- `open_recording(camera, path)`: the frames of a recorded file, paired with the camera's
  recorded thermal file or image folder when it has a `thermal:` section. Replay iterates it;
  the daemon feeds it to a file camera's `Feed`.
- `open_feed(camera, config)`: a camera in the daemon: its reader thread(s) and the slot they
  hand frames to. RTSP and NVR channels are read by a reconnecting `StreamReader` into a
  newest-frame slot; a thermal RTSP stream gets a reader of its own and is paired with the RGB
  frame by time when the daemon takes it; a file is read in full, every frame.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from vigil.config.live import LiveConfig
from vigil.config.load import LoadedConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError, SourceError, VigilError
from vigil.fusion.compose import Estimator, registration_estimator
from vigil.sources.file import FileSource, refuse_folder
from vigil.sources.nvr import stream_target
from vigil.sources.paired import ImageFolderSource, LivePairing, PairedSource, ThermalBuffer
from vigil.sources.rtsp import Backoff, FrameQueue, LatestFrameSlot, ReaderStats, StreamReader, is_stream_url, mask_url
from vigil.timing import StageClock
from vigil.types import Frame

log = logging.getLogger("vigil.live")


def open_recording(camera: CameraConfig, rgb_path: str | Path, stride: int = 1,
                   base_dir: str | Path | None = None, estimator: Estimator | None = registration_estimator,
                   threads: int = 0, clock: StageClock | None = None, hwaccel: str = "none") -> Iterable[Frame]:
    """The frame source of a recorded camera: its RGB file, paired with its thermal source
    when the camera has a `thermal:` section (thermal paths relative to `base_dir`, the site
    config's folder). Decode time goes to `clock` ("decode"); `hwaccel` (live.hwaccel) decodes the
    RGB file on a device (a thermal file is small: software)."""
    rgb = FileSource(rgb_path, camera.id, camera.start_time, stride, threads, clock, hwaccel)
    cfg = camera.thermal
    if cfg is None:
        return rgb
    if cfg.mode == "rgb":
        return PairedSource(rgb, None, cfg, camera.id, estimator)
    if is_stream_url(cfg.source):
        raise ConfigError(f"camera '{camera.id}': thermal source '{mask_url(cfg.source)}' is a stream; recorded "
                          "RGB video pairs with a recorded thermal file or image folder")
    path = thermal_path(cfg.source, base_dir)
    start = cfg.start_time or rgb.start_time
    thermal: Iterable[Frame]
    if path.is_dir():
        thermal = ImageFolderSource(path, camera.id, cfg.fps or rgb.fps, start)
    elif path.is_file():
        thermal = FileSource(path, camera.id, start, 1, threads, clock)  # every frame: pairing needs them all
    else:
        raise SourceError(f"camera '{camera.id}': thermal source '{path}' does not exist; check thermal.source")
    return PairedSource(rgb, thermal, cfg, camera.id, estimator)


def thermal_path(source: str, base_dir: str | Path | None) -> Path:
    """A recorded thermal source (file or image folder); relative to the site config's folder."""
    path = Path(source).expanduser()
    return path if path.is_absolute() else (Path(base_dir) if base_dir is not None else Path.cwd()) / path


class FileFeeder(threading.Thread):
    """A file camera in the daemon (tests, demos, backfill next to live cameras): every frame of
    the recording through a FrameQueue, once; the camera then finishes."""

    def __init__(self, camera_id: str, frames: Callable[[], Iterable[Frame]], slot: FrameQueue,
                 stop: threading.Event):
        super().__init__(name=f"reader-{camera_id}", daemon=True)
        self.camera_id, self.frames, self.slot, self.stop_event = camera_id, frames, slot, stop
        self.stats = ReaderStats()

    def run(self) -> None:
        try:
            for frame in self.frames():
                if self.stats.state == "connecting":
                    self.stats.state = "streaming"
                    self.stats.stream_height, self.stats.stream_width = frame.shape
                if self.stop_event.is_set():
                    break
                self.stats.note_frame(time.monotonic())
                self.slot.put(frame, self.stop_event)
            self.stats.state = "stopped" if self.stop_event.is_set() else "finished"
        except VigilError as exc:
            self.stats.state, self.stats.last_error = "failed", str(exc)
            log.error("%s: %s", self.camera_id, exc, extra={"camera": self.camera_id, "event": "failed"})
        except Exception as exc:  # the thread would die in silence and the camera never finish
            self.stats.state, self.stats.last_error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("%s: reading the recording failed", self.camera_id,
                          extra={"camera": self.camera_id, "event": "failed"})


class Feed:
    """One camera's frames in the daemon: reader thread(s) filling a slot, and `take()`, which
    gives the daemon the next frame to analyse (paired with thermal where the camera has it)."""

    def __init__(self, camera_id: str, source: str, readers: Sequence[StreamReader | FileFeeder],
                 slot: LatestFrameSlot | FrameQueue, pairing: LivePairing | None = None) -> None:
        self.camera_id, self.source = camera_id, source  # source is masked: safe to print
        self.readers, self.slot, self.pairing = readers, slot, pairing

    @property
    def stats(self) -> ReaderStats:
        return self.readers[0].stats

    @property
    def thermal_stats(self) -> ReaderStats | None:
        return self.readers[1].stats if len(self.readers) > 1 else None

    @property
    def live(self) -> bool:
        """A stream (frames stamped with the wall clock), not a recording played through the daemon."""
        return not isinstance(self.readers[0], FileFeeder)

    @property
    def finished(self) -> bool:
        """A file camera that reached its end (or failed) and whose frames were all taken."""
        return self.stats.state in ("finished", "failed") and len(self.slot) == 0

    def start(self) -> None:
        for r in self.readers:
            r.start()

    def join(self, deadline: float) -> None:
        for r in self.readers:  # a reader blocked in a network read exits at its read timeout
            if r.ident is not None:
                r.join(timeout=max(0.0, deadline - time.monotonic()))

    def take(self) -> Frame | None:
        frame = self.slot.take()
        if frame is None or self.pairing is None:
            return frame
        return self.pairing(frame)  # None: dropped by the mode (no thermal partner yet)

    def __len__(self) -> int:
        return len(self.slot)


def make_backoff(live: LiveConfig) -> Backoff:
    b = live.backoff
    return Backoff(initial=b.initial, maximum=max(b.maximum, b.initial), factor=b.factor, jitter=b.jitter,
                   healthy_after=b.healthy_after)


def open_feed(camera: CameraConfig, config: LoadedConfig, ready: threading.Event, stop: threading.Event,
              estimator: Estimator | None = registration_estimator, attempts: int = 0) -> Feed:
    """A camera of the daemon, from the site config: URL (explicit or NVR channel) with its
    credentials, or a file; with a thermal stream paired by time when `thermal:` names one.
    attempts > 0: stream readers give up (state `failed`) after that many failed connections
    in a row instead of reconnecting forever (the daemon's default)."""
    live = config.site.live
    stride = config.pipeline.frame_stride  # as in replay: every stride-th frame is analysed
    source = config.source_of(camera) if camera.source else None
    target = stream_target(camera, live, source)
    thermal = camera.thermal
    if not is_stream_url(target.url):
        queue = FrameQueue(ready)
        path = target.url

        def frames() -> Iterable[Frame]:
            return open_recording(camera, path, stride, config.site_dir, estimator, hwaccel=live.hwaccel)

        return Feed(camera.id, target.masked, [FileFeeder(camera.id, frames, queue, stop)], queue)

    def reader(name: str, url: str, into, every: int) -> StreamReader:
        return StreamReader(name, url, into, stop, transport=target.transport, open_timeout=live.open_timeout,
                            read_timeout=live.read_timeout, backoff=make_backoff(live), max_lag=live.max_lag,
                            stride=every, hwaccel=live.hwaccel, attempts=attempts)

    slot = LatestFrameSlot(ready)
    readers = [reader(camera.id, target.url, slot, stride)]
    pairing = None
    if thermal is not None and thermal.mode != "rgb":
        if not is_stream_url(thermal.source):
            raise ConfigError(f"camera '{camera.id}': RGB streams from {target.masked} but thermal.source "
                              f"'{thermal.source}' is a file; a live RGB stream pairs with a live thermal stream "
                              "(rtsp://...)")
        buffer = ThermalBuffer(seconds=max(2.0, 4 * thermal.max_time_delta))
        # every thermal frame is kept: pairing needs the one nearest in time to the RGB frame
        readers.append(reader(f"{camera.id}/thermal", thermal.source, buffer, 1))
        pairing = LivePairing(buffer, thermal, camera.id, estimator)
    return Feed(camera.id, target.masked, readers, slot, pairing)


def check_sources(config: LoadedConfig, cameras: list[CameraConfig]) -> None:
    """Every camera's source usable (URL built, credentials found, file present), checked
    before anything expensive starts; one ConfigError line otherwise."""
    for camera in cameras:
        target = stream_target(camera, config.site.live, config.source_of(camera) if camera.source else None)
        if not is_stream_url(target.url):
            refuse_folder(target.url, camera.id)
            if not Path(target.url).is_file():
                raise ConfigError(f"camera '{camera.id}': video file '{target.url}' does not exist; check source")
        th = camera.thermal
        if th is not None and th.mode != "rgb" and is_stream_url(target.url) != is_stream_url(th.source):
            raise ConfigError(f"camera '{camera.id}': RGB source and thermal.source must both be streams or "
                              "both be recordings")



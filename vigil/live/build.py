"""Build the daemon's cameras from a loaded site config: URL (explicit or NVR channel) with its
credentials, the reader that fits the source, and one pipeline per camera."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from vigil.config.live import LiveConfig
from vigil.config.load import LoadedConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError
from vigil.live.daemon import FileFeeder, LiveCamera, LiveDaemon
from vigil.live.health import default_status_path
from vigil.sources.nvr import stream_target
from vigil.sources.rtsp import Backoff, FrameQueue, LatestFrameSlot, StreamReader, is_stream_url


def make_backoff(live: LiveConfig) -> Backoff:
    b = live.backoff
    return Backoff(initial=b.initial, maximum=max(b.maximum, b.initial), factor=b.factor, jitter=b.jitter,
                   healthy_after=b.healthy_after)


def build_camera(camera: CameraConfig, config: LoadedConfig, pipeline, ready: threading.Event,
                 reader_stop: threading.Event) -> LiveCamera:
    live = config.site.live
    stride = config.pipeline.frame_stride  # as in replay: every stride-th frame is analysed
    source = config.source_of(camera) if camera.source else None
    target = stream_target(camera, live, source)
    if is_stream_url(target.url):
        slot = LatestFrameSlot(ready)
        reader = StreamReader(camera.id, target.url, slot, reader_stop, transport=target.transport,
                              open_timeout=live.open_timeout, read_timeout=live.read_timeout,
                              backoff=make_backoff(live), max_lag=live.max_lag, stride=stride)
    else:
        slot = FrameQueue(ready)
        reader = FileFeeder(camera.id, target.url, slot, reader_stop, camera.start_time, stride)
    return LiveCamera(camera.id, target.masked, reader, slot, pipeline)


def check_cameras(config: LoadedConfig, cameras: list[str] | None = None) -> list[CameraConfig]:
    """The cameras to watch, each with a usable source (URL built, credentials found, file
    present), checked before anything expensive starts; one ConfigError line otherwise."""
    site = config.site
    chosen = site.cameras
    if cameras:
        ids = [c.id for c in site.cameras]
        unknown = [c for c in cameras if c not in ids]
        if unknown:
            raise ConfigError(f"camera '{unknown[0]}' is not in {config.site_path}; cameras there: {', '.join(ids)}")
        chosen = [site.camera(c) for c in cameras]
    for camera in chosen:
        target = stream_target(camera, site.live, config.source_of(camera) if camera.source else None)
        if not is_stream_url(target.url) and not Path(target.url).is_file():
            raise ConfigError(f"camera '{camera.id}': video file '{target.url}' does not exist; check source")
    return chosen


def build_daemon(config: LoadedConfig, store, detector, make_pipeline: Callable[[CameraConfig], object],
                 cameras: list[str] | None = None, status_path: Path | None = None) -> LiveDaemon:
    """Every camera of the site (or the ones named), validated before anything starts."""
    site, live = config.site, config.site.live
    chosen = check_cameras(config, cameras)
    ready, reader_stop = threading.Event(), threading.Event()
    live_cams = [build_camera(c, config, make_pipeline(c), ready, reader_stop) for c in chosen]
    if status_path is None:
        status_path = Path(live.status_file) if live.status_file else default_status_path(site.site)
    return LiveDaemon(live_cams, detector, store, ready=ready, reader_stop=reader_stop,
                      flush_interval=live.flush_interval, site=site.site, status_path=status_path,
                      status_interval=live.status_interval)

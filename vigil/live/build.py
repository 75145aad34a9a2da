"""Build the daemon from a loaded site config: the cameras to watch (checked before anything
expensive starts), one Feed (vigil.sources.factory) and one CameraPipeline per camera."""

from __future__ import annotations

import threading
from pathlib import Path

from vigil.config.load import LoadedConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError
from vigil.live.daemon import LiveCamera, LiveDaemon
from vigil.live.health import default_status_path
from vigil.pipeline.camera import CameraPipeline
from vigil.pipeline.round import AnalysisRound
from vigil.sources.factory import check_sources, open_feed


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
    check_sources(config, chosen)
    return chosen


def build_daemon(config: LoadedConfig, store, round_: AnalysisRound, cameras: list[str] | None = None,
                 status_path: Path | None = None) -> LiveDaemon:
    """Every camera of the site (or the ones named), validated before anything starts."""
    site, live = config.site, config.site.live
    chosen = check_cameras(config, cameras)
    ready, reader_stop = threading.Event(), threading.Event()
    live_cams = [LiveCamera(open_feed(c, config, ready, reader_stop),
                            CameraPipeline(c, config.pipeline, snapshots=config.site.snapshots))
                 for c in chosen]
    if status_path is None:
        status_path = Path(live.status_file) if live.status_file else default_status_path(site.site)
    return LiveDaemon(live_cams, round_, store, ready=ready, reader_stop=reader_stop,
                      flush_interval=live.flush_interval, site=site.site, status_path=status_path,
                      status_interval=live.status_interval)

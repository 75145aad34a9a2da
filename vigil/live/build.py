"""Build the daemon from a loaded site config: the cameras to watch (checked before anything
expensive starts), one Feed (vigil.sources.factory) and one CameraPipeline per camera."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vigil.config.load import LoadedConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError
from vigil.live.daemon import LiveCamera, LiveDaemon
from vigil.live.health import default_status_path
from vigil.live.leases import CameraLeases, LeaseKeeper, worker_id
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


def check_leases(config: LoadedConfig, store) -> None:
    """Leases need PostgreSQL: say so in one line before the models load."""
    if config.site.live.leases.enabled and store.engine.dialect.name != "postgresql":
        raise ConfigError(f"live.leases.enabled in {config.site_path} shares cameras between workers through "
                          f"PostgreSQL, but the database is {store.url}; use a postgresql:// URL (--db or "
                          "$VIGIL_DB), or turn leases off to run every camera in this one process")


def build_daemon(config: LoadedConfig, store, round_: AnalysisRound, cameras: list[str] | None = None,
                 status_path: Path | None = None) -> LiveDaemon:
    """Every camera of the site (or the ones named), validated before anything starts. With
    live.leases.enabled the daemon starts with none and runs those whose leases it wins."""
    site, live = config.site, config.site.live
    chosen = check_cameras(config, cameras)
    ready, reader_stop = threading.Event(), threading.Event()
    if status_path is None:
        status_path = Path(live.status_file) if live.status_file else default_status_path(site.site)
    kw: dict[str, Any] = {"ready": ready, "reader_stop": reader_stop, "flush_interval": live.flush_interval,
                          "site": site.site, "status_path": status_path, "status_interval": live.status_interval}
    if not live.leases.enabled:
        live_cams = []
        for c in chosen:  # each camera's readers can stop on their own (a camera that fails for good)
            stop = threading.Event()
            live_cams.append(LiveCamera(open_feed(c, config, ready, stop),
                                        CameraPipeline(c, config.pipeline, snapshots=site.snapshots), stop=stop))
        return LiveDaemon(live_cams, round_, store, **kw)
    check_leases(config, store)
    by_id = {c.id: c for c in chosen}

    def make_camera(camera_id: str) -> LiveCamera:
        stop = threading.Event()  # each leased camera stops on its own when its lease goes
        cam = by_id[camera_id]
        return LiveCamera(open_feed(cam, config, ready, stop),
                          CameraPipeline(cam, config.pipeline, snapshots=site.snapshots), stop=stop)

    keeper = LeaseKeeper(CameraLeases(store.engine, site.site, worker_id(), live.leases.ttl), list(by_id),
                         live.max_cameras or len(chosen), ttl=live.leases.ttl, renew_every=live.leases.renew)
    return LiveDaemon([], round_, store, leases=keeper, make_camera=make_camera, **kw)

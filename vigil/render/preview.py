"""`vigil preview`: one real frame per camera, from the same source factory the daemon and replay
use, with every line and zone drawn, the frame size, and a warning per shape outside the frame."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.config.load import LoadedConfig
from vigil.config.scale import to_pixels
from vigil.config.site import CameraConfig
from vigil.count.geometry import outside_frame
from vigil.errors import SourceError
from vigil.render.overlay import Overlay
from vigil.sources.factory import check_sources, open_feed
from vigil.types import Frame


@dataclass
class Preview:
    camera: CameraConfig
    image: np.ndarray          # BGR, overlay drawn
    width: int
    height: int
    warnings: list[str]


def first_frame(config: LoadedConfig, camera: CameraConfig, timeout: float | None = None) -> Frame:
    """The first frame the camera's feed hands over (a file's first analysed frame, or a stream's
    newest frame), within `timeout` seconds (default: the site's open + read timeouts). A stream
    is tried once, within the live reader's own open and read timeouts: preview is interactive,
    and a camera that refuses or does not answer now is the answer, not a reason to back off."""
    check_sources(config, [camera])
    live = config.site.live
    limit = timeout if timeout is not None else live.open_timeout + live.read_timeout
    ready, stop = threading.Event(), threading.Event()
    feed = open_feed(camera, config, ready, stop, attempts=1)
    feed.start()
    deadline = time.monotonic() + limit
    try:
        while True:
            ready.wait(0.05)
            ready.clear()
            frame = feed.take()
            if frame is not None:
                return frame
            for what, stats in (("", feed.stats), ("thermal ", feed.thermal_stats)):
                if stats is not None and stats.state == "failed":
                    err = stats.last_error or "failed"
                    # a stream's error names its (masked) URL already; a file's may not
                    shown = err if "://" in err or feed.source in err else f"{feed.source}: {err}"
                    raise SourceError(f"camera '{camera.id}': {what}{shown}")
            if feed.finished and feed.stats.state == "finished":
                raise SourceError(f"camera '{camera.id}': no frame from {feed.source}: the source has no "
                                  "video frames")
            if time.monotonic() > deadline:
                why = f" (last error: {feed.stats.last_error})" if feed.stats.last_error else ""
                raise SourceError(f"camera '{camera.id}': no frame from {feed.source} within {limit:g} s{why}; "
                                  "check that the camera streams and the URL and credentials")
    finally:
        stop.set()
        feed.join(time.monotonic() + 2.0)


def render_preview(camera: CameraConfig, frame: Frame) -> Preview:
    h, w = frame.shape
    typed = camera
    camera = to_pixels(camera, w, h)  # relative or reference_size coordinates, in this frame's pixels
    units = ("" if typed is camera else " (points as written: relative)" if typed.coordinates == "relative"
             else f" (points as written: of {typed.reference_size[0]}x{typed.reference_size[1]})"
             if typed.reference_size else "")
    image = Overlay(camera, traces=False, typed=typed).draw(frame.image, caption=f"{camera.id}: {w}x{h} px{units}")
    return Preview(camera, image, w, h, outside_frame(camera, w, h))


def output_paths(out: Path, camera_ids: list[str]) -> dict[str, Path]:
    """Where each camera's PNG goes: `out` itself for one camera; for several, DIR/<camera>.png when
    `out` is a folder (existing, or written with a trailing slash), else <stem>-<camera><suffix>."""
    as_dir = out.is_dir() or str(out).endswith(("/", "\\")) or not out.suffix
    if as_dir:
        return {c: out / f"{c}.png" for c in camera_ids}
    if len(camera_ids) == 1:
        return {camera_ids[0]: out}
    return {c: out.with_name(f"{out.stem}-{c}{out.suffix}") for c in camera_ids}


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise SourceError(f"cannot encode '{path}'; use a .png or .jpg name")
    path.write_bytes(buf.tobytes())

"""RGB + thermal pairing: one camera's two streams become one stream of `Frame`s.

Frames are matched by absolute time (nearest thermal frame within `max_time_delta`; a thermal
frame may serve several RGB frames when the thermal camera runs slower), the thermal frame is
warped into the RGB view with the camera's homography (estimated on the first pairs when the
config has none), and the detector gets, per `mode`:

- ``rgb``: the RGB frame (the thermal source is never opened);
- ``thermal``: the warped thermal frame (in RGB geometry, so lines and zones still apply);
- ``fused``: the fusion of both;
- ``auto``: fused, but thermal while the RGB frame is dark (mean brightness below
  ``dark_threshold``), and the plain RGB frame when no thermal frame is close enough in time.

In ``fused``/``thermal`` modes an RGB frame without a thermal partner is dropped. Every
unmatched frame is counted in `PairedSource.stats`.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from vigil.config.fusion import ThermalConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError, SourceError
from vigil.fusion.fuse import fuse, resolve_method
from vigil.fusion.images import to_gray
from vigil.fusion.pairs import IMAGE_SUFFIXES, natural_key, read_pair_image
from vigil.types import Frame

log = logging.getLogger(__name__)

# (visible BGR, thermal gray) -> 3x3 thermal->visible homography, or raise SourceError.
Estimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
ESTIMATE_ATTEMPTS = 5  # pairs tried before automatic registration gives up
_DARK_HYSTERESIS = 5.0  # brightness levels: stops auto mode flickering at the threshold


@dataclass
class PairingStats:
    rgb_frames: int = 0
    thermal_frames: int = 0
    matched: int = 0
    unmatched_rgb: int = 0  # RGB frames with no thermal frame within max_time_delta
    unmatched_thermal: int = 0  # thermal frames never paired with an RGB frame
    dropped: int = 0  # RGB frames not passed on (fused/thermal mode without a partner)
    shown_thermal: int = 0  # auto mode: dark RGB frames replaced by thermal
    shown_rgb: int = 0  # auto mode: RGB frames passed on without a partner


def _seconds(frame: Frame) -> float:
    return frame.time.timestamp()


def match_by_time(rgb: Iterable[Frame], thermal: Iterable[Frame], tolerance: float,
                  stats: PairingStats) -> Iterator[tuple[Frame, Frame | None]]:
    """Each RGB frame with the nearest thermal frame no more than `tolerance` seconds away
    (None when there is none). Both streams must be in time order. Reads the thermal stream
    only as far as the RGB stream needs."""
    it = iter(thermal)
    window: deque[list] = deque()  # [frame, seconds, used]
    exhausted = False
    for frame in rgb:
        stats.rgb_frames += 1
        t = _seconds(frame)
        while not exhausted and (not window or window[-1][1] <= t + tolerance):
            nxt = next(it, None)
            if nxt is None:
                exhausted = True
            else:
                stats.thermal_frames += 1
                window.append([nxt, _seconds(nxt), False])
        while window and window[0][1] < t - tolerance:
            stats.unmatched_thermal += not window.popleft()[2]
        best = min((w for w in window if abs(w[1] - t) <= tolerance), key=lambda w: abs(w[1] - t), default=None)
        if best is None:
            stats.unmatched_rgb += 1
            yield frame, None
        else:
            best[2] = True
            stats.matched += 1
            yield frame, best[0]
    stats.unmatched_thermal += sum(not w[2] for w in window)


def brightness(img: np.ndarray) -> float:
    """Mean luma (0-255), on a quarter-size copy: it only has to tell night from day."""
    small = img[::4, ::4]
    if small.ndim == 2:
        return float(small.mean())
    b, g, r = cv2.mean(small)[:3]
    return 0.114 * b + 0.587 * g + 0.299 * r


class ThermalWarp:
    """Thermal frame -> RGB view with a fixed homography; where the thermal camera does not
    see, the RGB luminance fills in, so fusion there leaves the RGB picture as it is."""

    def __init__(self, thermal_to_visible: np.ndarray) -> None:
        self.H = np.asarray(thermal_to_visible, np.float64)
        self._coverage: dict[tuple, np.ndarray | None] = {}

    def _mask(self, thermal_shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray | None:
        key = (thermal_shape, size)
        if key not in self._coverage:
            ones = np.full(thermal_shape, 255, np.uint8)
            m = cv2.warpPerspective(ones, self.H, size, flags=cv2.INTER_NEAREST, borderValue=0)
            self._coverage[key] = None if m.min() == 255 else m == 0
        return self._coverage[key]

    def __call__(self, thermal_gray: np.ndarray, visible: np.ndarray) -> np.ndarray:
        h, w = visible.shape[:2]
        if thermal_gray.shape == (h, w) and np.allclose(self.H, np.eye(3)):
            return thermal_gray
        warped = cv2.warpPerspective(thermal_gray, self.H, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        uncovered = self._mask(thermal_gray.shape, (w, h))
        if uncovered is not None:
            warped[uncovered] = to_gray(visible)[uncovered]
        return warped


def registration_estimator(visible: np.ndarray, thermal_gray: np.ndarray) -> np.ndarray:
    """Thermal -> visible homography from the registration stage (vigil.fusion.register)."""
    from vigil.fusion.register import register_images

    reg = register_images(visible, thermal_gray)
    if not reg.ok or reg.thermal_to_visible is None:
        raise SourceError(f"automatic registration refused: {reg.reason}")
    return np.asarray(reg.thermal_to_visible, np.float64)


class PairedSource:
    """Iterable of `Frame`: the RGB stream's timing and ids, the image chosen by `cfg.mode`."""

    def __init__(self, rgb: Iterable[Frame], thermal: Iterable[Frame] | None, cfg: ThermalConfig,
                 camera_id: str = "", estimator: Estimator | None = registration_estimator) -> None:
        if cfg.mode != "rgb" and thermal is None:
            raise ConfigError(f"camera '{camera_id}': thermal mode '{cfg.mode}' needs a thermal source")
        self.rgb, self.thermal, self.cfg = rgb, thermal, cfg
        self.camera_id = camera_id
        self.method = resolve_method(cfg.method)
        self.estimator = estimator
        self.warp: ThermalWarp | None = None
        if cfg.homography is not None:
            from vigil.fusion.register import as_homography

            self.warp = ThermalWarp(as_homography(cfg.homography, f"camera '{camera_id}' thermal.homography"))
        self.stats = PairingStats()
        self._estimate_failures: list[str] = []
        self._dark = False

    def _warp_for(self, visible: np.ndarray, thermal_gray: np.ndarray) -> ThermalWarp | None:
        if self.warp is not None:
            return self.warp
        if self.estimator is None:
            raise ConfigError(f"camera '{self.camera_id}': thermal.homography is not set; "
                              "add it (vigil register VIS IR prints one)")
        try:
            self.warp = ThermalWarp(self.estimator(visible, thermal_gray))
            log.info("camera %s: thermal registered automatically", self.camera_id)
            return self.warp
        except SourceError as exc:
            self._estimate_failures.append(str(exc))
            if len(self._estimate_failures) >= ESTIMATE_ATTEMPTS:
                raise SourceError(
                    f"camera '{self.camera_id}': could not register the thermal stream to the RGB one "
                    f"on {ESTIMATE_ATTEMPTS} frame pairs ({self._estimate_failures[-1]}); set thermal.homography "
                    "in the site config (vigil register VIS IR prints one)") from None
            return None

    def _is_dark(self, visible: np.ndarray) -> bool:
        level = brightness(visible)
        limit = self.cfg.dark_threshold + (_DARK_HYSTERESIS if self._dark else 0.0)
        self._dark = level < limit
        return self._dark

    def compose(self, visible: np.ndarray, thermal: np.ndarray | None) -> np.ndarray | None:
        """What the detector sees for one RGB image and its thermal partner (or None)."""
        mode = self.cfg.mode
        if mode == "rgb":
            return visible
        ir = None if thermal is None else to_gray(thermal)
        warp = None if ir is None else self._warp_for(visible, ir)
        if warp is None:  # no partner in time, or registration not there yet
            if mode == "auto":
                self.stats.shown_rgb += 1
                return visible
            self.stats.dropped += 1
            return None
        ir = warp(ir, visible)
        if mode == "thermal" or (mode == "auto" and self._is_dark(visible)):
            self.stats.shown_thermal += mode == "auto"
            return cv2.cvtColor(ir, cv2.COLOR_GRAY2BGR) if visible.ndim == 3 else ir
        return fuse(visible, ir, self.method)

    def __iter__(self) -> Iterator[Frame]:
        if self.cfg.mode == "rgb":
            for frame in self.rgb:
                self.stats.rgb_frames += 1
                yield frame
            return
        assert self.thermal is not None
        for frame, partner in match_by_time(self.rgb, self.thermal, self.cfg.max_time_delta, self.stats):
            image = self.compose(frame.image, None if partner is None else partner.image)
            if image is not None:
                yield Frame(image=image, index=frame.index, pts=frame.pts, time=frame.time,
                            camera_id=frame.camera_id)
        if self.stats.unmatched_rgb or self.stats.unmatched_thermal:
            log.info("camera %s: %d RGB and %d thermal frames had no partner within %.3f s",
                     self.camera_id, self.stats.unmatched_rgb, self.stats.unmatched_thermal,
                     self.cfg.max_time_delta)


class ImageFolderSource:
    """A folder of images (natural order of names) as a stream at a fixed frame rate."""

    def __init__(self, folder: str | Path, camera_id: str = "", fps: float = 25.0,
                 start_time: datetime | None = None) -> None:
        self.folder = Path(folder)
        self.files = sorted((p for p in self.folder.iterdir()
                             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: natural_key(p.stem))
        if not self.files:
            raise SourceError(f"image folder '{self.folder}' holds no images")
        self.camera_id, self.fps = camera_id, float(fps)
        start = start_time or datetime.fromtimestamp(self.files[0].stat().st_mtime, tz=timezone.utc)
        self.start_time = start if start.tzinfo else start.replace(tzinfo=timezone.utc)

    def __iter__(self) -> Iterator[Frame]:
        for i, path in enumerate(self.files):
            img = read_pair_image(path)
            pts = i / self.fps
            yield Frame(image=img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), index=i,
                        pts=pts, time=self.start_time + timedelta(seconds=pts), camera_id=self.camera_id)


def open_camera_source(camera: CameraConfig, rgb_path: str | Path, stride: int = 1,
                       base_dir: str | Path | None = None, estimator: Estimator | None = registration_estimator,
                       threads: int = 0):
    """The frame source of a recorded camera: its RGB file, paired with its thermal source
    when the camera has a `thermal:` section (thermal paths relative to `base_dir`, the site
    config's folder)."""
    from vigil.sources.file import FileSource

    rgb = FileSource(rgb_path, camera.id, camera.start_time, stride, threads)
    cfg = camera.thermal
    if cfg is None:
        return rgb
    if cfg.mode == "rgb":
        return PairedSource(rgb, None, cfg, camera.id, estimator)
    if "://" in cfg.source:
        raise ConfigError(f"camera '{camera.id}': thermal source '{cfg.source}' is a URL; recorded RGB "
                          "video pairs with a recorded thermal file or image folder")
    path = Path(cfg.source).expanduser()
    if not path.is_absolute():
        path = (Path(base_dir) if base_dir is not None else Path.cwd()) / path
    start = cfg.start_time or rgb.start_time
    if path.is_dir():
        thermal = ImageFolderSource(path, camera.id, cfg.fps or rgb.fps, start)
    elif path.is_file():
        thermal = FileSource(path, camera.id, start, 1, threads)  # every frame: pairing needs them all
    else:
        raise SourceError(f"camera '{camera.id}': thermal source '{path}' does not exist; check thermal.source")
    return PairedSource(rgb, thermal, cfg, camera.id, estimator)

"""RGB + thermal pairing by time: one camera's two streams become one stream of `Frame`s.

Recorded pairs (replay, and file cameras in the daemon): `PairedSource` matches each RGB frame
with the nearest thermal frame within `max_time_delta` (a thermal frame may serve several RGB
frames when the thermal camera runs slower). Live pairs (two RTSP streams): `ThermalBuffer`
keeps the thermal reader's recent frames and `LivePairing` finds the partner of the RGB frame
the daemon takes. Either way the image work (warp, fusion, the mode) is `vigil.fusion.compose`'s,
so rgb/thermal/fused/auto behave the same in replay and live. Unmatched frames are counted.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from vigil.config.fusion import ThermalConfig
from vigil.errors import ConfigError, SourceError
from vigil.fusion.compose import Estimator, ThermalComposer, probes_text, registration_estimator
from vigil.fusion.pairs import IMAGE_SUFFIXES, natural_key, read_pair_image
from vigil.types import Frame, Probe

log = logging.getLogger(__name__)


@dataclass
class PairingStats:
    rgb_frames: int = 0
    thermal_frames: int = 0
    matched: int = 0
    unmatched_rgb: int = 0  # RGB frames with no thermal frame within max_time_delta
    unmatched_thermal: int = 0  # thermal frames never paired with an RGB frame


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


class PairedSource:
    """Iterable of `Frame`: the RGB stream's timing and ids, the image chosen by `cfg.mode`."""

    def __init__(self, rgb: Iterable[Frame], thermal: Iterable[Frame] | None, cfg: ThermalConfig,
                 camera_id: str = "", estimator: Estimator | None = registration_estimator) -> None:
        if cfg.mode != "rgb" and thermal is None:
            raise ConfigError(f"camera '{camera_id}': thermal mode '{cfg.mode}' needs a thermal source")
        self.rgb, self.thermal, self.cfg = rgb, thermal, cfg
        self.camera_id = camera_id
        self.composer = ThermalComposer(cfg, camera_id, estimator)
        self.stats = PairingStats()

    def __iter__(self) -> Iterator[Frame]:
        if self.cfg.mode == "rgb":
            for frame in self.rgb:
                self.stats.rgb_frames += 1
                yield frame
            return
        assert self.thermal is not None
        for frame, partner in match_by_time(self.rgb, self.thermal, self.cfg.max_time_delta, self.stats):
            image, probe = self.composer.compose(frame.image, None if partner is None else partner.image)
            composed = with_image(frame, image, probe)
            if composed is not None:
                yield composed
        log.info("camera %s: %s", self.camera_id, self.summary())
        if self.stats.unmatched_rgb or self.stats.unmatched_thermal:
            log.info("camera %s: %d RGB and %d thermal frames had no partner within %.3f s",
                     self.camera_id, self.stats.unmatched_rgb, self.stats.unmatched_thermal,
                     self.cfg.max_time_delta)


    def summary(self) -> str | None:
        """One line on what the detector was given, for a replay's report (None in mode rgb)."""
        if self.cfg.mode == "rgb":
            return None
        c, p = self.composer.stats, self.stats
        line = f"thermal mode {self.cfg.mode}: {p.matched} of {p.rgb_frames} RGB frames had a thermal partner"
        if self.cfg.mode == "auto":
            return line + (f"; the detector saw rgb {c.shown_rgb}, fused {c.shown_fused}, thermal {c.shown_thermal} "
                           f"frames ({probes_text(c.probes, c.switches)}; ended on {self.composer.input})")
        return line + (f"; {c.dropped} RGB frames were not analysed (no partner, or registration not there yet)"
                       if c.dropped else "")


def with_image(frame: Frame, image: np.ndarray | None, probe: Probe | None = None) -> Frame | None:
    """`frame` with the composed image and the composer's probe (None when the composer dropped it)."""
    if image is None:
        return None
    if image is frame.image and probe is None:
        return frame
    return Frame(image=image, index=frame.index, pts=frame.pts, time=frame.time, camera_id=frame.camera_id,
                 probe=probe)


class ThermalBuffer:
    """The thermal reader's hand-off slot in live mode: the last few seconds of frames, so the
    RGB frame the daemon takes can find its partner by time. Old frames fall off the end."""

    keeps_all = False  # a StreamReader behind the camera skips ahead, as for RGB

    def __init__(self, seconds: float = 2.0, maxlen: int = 256) -> None:
        self.seconds = seconds
        self._frames: deque[Frame] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def put(self, frame: Frame, stop: threading.Event | None = None) -> None:
        with self._lock:
            self._frames.append(frame)
            newest = _seconds(frame)
            while self._frames and newest - _seconds(self._frames[0]) > self.seconds:
                self._frames.popleft()

    def nearest(self, t: float, tolerance: float) -> Frame | None:
        with self._lock:
            best = min(self._frames, key=lambda f: abs(_seconds(f) - t), default=None)
        return best if best is not None and abs(_seconds(best) - t) <= tolerance else None

    def __len__(self) -> int:
        return len(self._frames)


class LivePairing:
    """Frame -> Frame for the daemon: the RGB frame it took, composed with the nearest
    buffered thermal frame (or dropped, per the mode). Counts like `PairingStats`."""

    def __init__(self, buffer: ThermalBuffer, cfg: ThermalConfig, camera_id: str = "",
                 estimator: Estimator | None = registration_estimator) -> None:
        self.buffer, self.cfg = buffer, cfg
        self.composer = ThermalComposer(cfg, camera_id, estimator)
        self.stats = PairingStats()

    def __call__(self, frame: Frame) -> Frame | None:
        self.stats.rgb_frames += 1
        partner = None
        if self.cfg.mode != "rgb":
            partner = self.buffer.nearest(_seconds(frame), self.cfg.max_time_delta)
            if partner is None:
                self.stats.unmatched_rgb += 1
            else:
                self.stats.matched += 1
        return with_image(frame, *self.composer.compose(frame.image, None if partner is None else partner.image))


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

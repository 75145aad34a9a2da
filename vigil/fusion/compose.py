"""What the detector sees for one RGB frame and its thermal partner, per the camera's mode:

- ``rgb``: the RGB frame (the thermal source is never opened);
- ``thermal``: the thermal frame warped into the RGB view (so lines and zones still apply);
- ``fused``: the fusion of both;
- ``auto``: per frame, with hysteresis: the plain RGB frame while it is bright (mean luma at or
  above ``bright_threshold``), the thermal frame while it is dark (below ``dark_threshold``),
  the fusion in between; the RGB frame when no thermal frame is close enough in time. Every
  ``probe_every`` paired frames the frame also carries the two other inputs (a ``Probe``); the
  analysis round has the detector look at them too and reports what it kept on each, and auto
  moves to an input that found clearly more over the last few probes. Brightness is only the
  first guess, and the guess again after the light changes: which input serves the detector
  depends on the cameras and the scene (street lights, glare, a thermal camera's contrast), and
  41 public pairs cannot fix thresholds for every site (docs/fusion.md).

The registration is estimated once (or taken from the config); with ``refine_every`` it is
refined every that many paired frames, slowly and refusing jumps (vigil.fusion.register_track).

In ``fused``/``thermal`` modes an RGB frame without a thermal partner (or before registration
succeeded) is dropped. The same composer serves replay (recorded pairs) and live (two RTSP
streams), so a mode behaves the same in both.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from vigil.config.fusion import ThermalConfig
from vigil.errors import ConfigError, SourceError, VigilError
from vigil.fusion.fuse import fuse, resolve_method
from vigil.fusion.images import to_gray
from vigil.fusion.register_track import Refiner, RegistrationTrack, auto_refiner
from vigil.types import Probe

log = logging.getLogger(__name__)

# (visible BGR, thermal gray) -> 3x3 thermal->visible homography, or raise SourceError.
Estimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
ESTIMATE_ATTEMPTS = 5  # pairs tried before automatic registration gives up
_HYSTERESIS = 5.0  # brightness levels: stops auto mode flickering at a threshold
INPUTS = ("rgb", "fused", "thermal")
PROBE_WINDOW = 5  # probes weighed together: one frame holds a few objects, its scores are noisy
# Another input must find this many times what the current one finds over the window. Chosen on
# the development half of the shared pairs (docs/fusion.md); it also stops flicker between inputs.
PROBE_MARGIN = 1.5
LIGHT_CHANGE = 25.0  # brightness levels since the evidence began after which it is stale
# The least an input must have found over the window (summed confidence, about two detections)
# to be moved to: one weak false positive against an input that found nothing must not decide.
MIN_FOUND = 0.5


@dataclass
class CompositionStats:
    matched: int = 0  # RGB frames that had a thermal partner
    dropped: int = 0  # RGB frames not passed on (fused/thermal mode without a partner)
    shown_rgb: int = 0  # auto mode: RGB frames passed on (bright, or no partner)
    shown_thermal: int = 0  # auto mode: dark RGB frames replaced by thermal
    shown_fused: int = 0  # fused frames passed on (fused mode, or auto in between)
    probes: int = 0  # auto mode: frames on which the detector also saw the other inputs
    switches: int = 0  # auto mode: input changes the probes decided


def probes_text(probes: int, switches: int) -> str:
    """'5 probes, 1 switch': mode auto's probing in words (replay's summary, status, dashboard)."""
    return f"{probes} probe{'s' * (probes != 1)}, {switches} switch{'es' * (switches != 1)}"


def brightness(img: np.ndarray) -> float:
    """Mean luma (0-255), on a quarter-size copy: it only has to tell night from day."""
    small = img[::4, ::4]
    if small.ndim == 2:
        return float(small.mean())
    b, g, r = cv2.mean(small)[:3]
    return 0.114 * b + 0.587 * g + 0.299 * r


def auto_band(level: float, dark: float, bright: float) -> str:
    """Mode auto's input for one RGB brightness, without hysteresis: rgb at or above `bright`,
    thermal below `dark`, fused between."""
    return "rgb" if level >= max(bright, dark) else ("thermal" if level < dark else "fused")


def probe_choice(current: str, found: dict[str, float]) -> str:
    """The input auto moves to, given what the detector found on each input (summed confidence
    over recent probes): one that found PROBE_MARGIN times what the current input found, or else
    the current one (nothing found anywhere says nothing)."""
    top = max(INPUTS, key=lambda m: (found.get(m, 0.0), m == current))
    best = found.get(top, 0.0)
    return top if best >= MIN_FOUND and best > PROBE_MARGIN * found.get(current, 0.0) else current


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


class ThermalComposer:
    """One camera's RGB + thermal -> detector image, holding its registration and auto state."""

    def __init__(self, cfg: ThermalConfig, camera_id: str = "",
                 estimator: Estimator | None = registration_estimator, refiner: Refiner = auto_refiner) -> None:
        self.cfg, self.camera_id, self.estimator, self.refiner = cfg, camera_id, estimator, refiner
        self.track: RegistrationTrack | None = None
        self._since_refine = 0
        self.method = resolve_method(cfg.method)
        self.warp: ThermalWarp | None = None
        if cfg.homography is not None:
            from vigil.fusion.register import as_homography

            self.warp = ThermalWarp(as_homography(cfg.homography, f"camera '{camera_id}' thermal.homography"))
        self.stats = CompositionStats()
        self._estimate_failures: list[str] = []
        self._band = "rgb"  # auto mode's current choice: rgb, fused or thermal
        self._level = 0.0  # the latest RGB frame's brightness
        # probe scores that found something, newest last; they began at brightness _window_level
        self._evidence: deque[dict[str, float]] = deque(maxlen=PROBE_WINDOW)
        self._window_level = 0.0
        self._epoch = 0  # bumped when the evidence is dropped: a probe taken before is not weighed
        self._since_probe: int | None = None  # paired frames since the last probe (None: probe next)
        self._probe_refusals = 0  # registrations only a probe wanted that were refused
        # in replay (and file cameras) frames are composed on the reader thread, probes weighed on the analysis one
        self._lock = threading.Lock()

    def _refine(self, visible: np.ndarray, thermal_gray: np.ndarray) -> None:
        """Every `refine_every` paired frames: refine the registration from where it is."""
        from vigil.fusion.register import invert_homography

        assert self.warp is not None
        self._since_refine += 1
        if self._since_refine < self.cfg.refine_every:
            return
        self._since_refine = 0
        if self.track is None:
            self.track = RegistrationTrack(invert_homography(self.warp.H), self.refiner)
        if self.track.update(visible, thermal_gray):
            self.warp = ThermalWarp(invert_homography(self.track.H))
        elif self.track.stats.last_reason:
            log.info("camera %s: thermal registration kept (%s)", self.camera_id, self.track.stats.last_reason)

    def _warp_for(self, visible: np.ndarray, thermal_gray: np.ndarray, needed: bool = True) -> ThermalWarp | None:
        """The registration (estimated on this pair if there is none yet; None when that failed).
        Only estimates the chosen input `needed` count towards giving up: a probe's do not."""
        if self.warp is not None:
            if self.cfg.refine_every:
                self._refine(visible, thermal_gray)
            return self.warp
        if self.estimator is None:
            if not needed:
                return None
            raise ConfigError(f"camera '{self.camera_id}': thermal.homography is not set; "
                              "add it (vigil register VIS IR prints one)")
        try:
            self.warp = ThermalWarp(self.estimator(visible, thermal_gray))
            log.info("camera %s: thermal registered automatically", self.camera_id)
            return self.warp
        except VigilError as exc:  # refused (SourceError), or images too small to register
            if not needed:
                # probes wait longer after each refusal (an estimate costs ~0.3 s): up to 64x probe_every
                self._probe_refusals += 1
                self._since_probe = -self.cfg.probe_every * (min(2 ** self._probe_refusals, 64) - 1)
                (log.warning if self._probe_refusals == 1 else log.debug)(
                    "camera %s: auto's probes wait for the thermal registration (%s); set thermal.homography "
                    "to probe at once", self.camera_id, exc)
                return None
            if not isinstance(exc, SourceError):
                raise
            self._estimate_failures.append(str(exc))
            if len(self._estimate_failures) >= ESTIMATE_ATTEMPTS:
                raise SourceError(
                    f"camera '{self.camera_id}': could not register the thermal stream to the RGB one "
                    f"on {ESTIMATE_ATTEMPTS} frame pairs ({self._estimate_failures[-1]}); set thermal.homography "
                    "in the site config (vigil register VIS IR prints one)") from None
            return None

    def auto_choice(self, visible: np.ndarray) -> str:
        """rgb / fused / thermal for one RGB frame. While probes have found something and the light
        holds, their choice; otherwise by brightness, where a band is left only HYSTERESIS levels
        past its threshold, so a scene at the threshold does not flicker between inputs."""
        level, cfg = brightness(visible), self.cfg
        with self._lock:
            self._level = level
            if self._evidence:
                if abs(level - self._window_level) < LIGHT_CHANGE:
                    return self._band
                log.info("camera %s: the light changed (brightness %.0f -> %.0f); auto probes again",
                         self.camera_id, self._window_level, level)
                self._evidence.clear()
                self._epoch += 1
                self._since_probe = None
            dark, bright = cfg.dark_threshold, max(cfg.bright_threshold, cfg.dark_threshold)
            if self._band == "rgb":
                band = "rgb" if level >= bright - _HYSTERESIS else ("thermal" if level < dark else "fused")
            elif self._band == "thermal":
                band = "thermal" if level < dark + _HYSTERESIS else ("rgb" if level >= bright else "fused")
            else:
                band = auto_band(level, dark, bright)
            self._band = band
            return band

    @property
    def input(self) -> str:
        """What the detector is given now: the mode, or in mode auto its current choice."""
        return self._band if self.cfg.mode == "auto" else self.cfg.mode

    def weigh(self, scores: dict[str, float], level: float, epoch: int | None = None) -> None:
        """A probe's result (input -> summed confidence of the camera's kept detections), taken at
        RGB brightness `level`: auto moves to the input that found PROBE_MARGIN times what the
        current one found over the last PROBE_WINDOW probes that found anything. A probe taken
        before the light changed (an older `epoch`) is not weighed."""
        with self._lock:
            self.stats.probes += 1
            stale = (epoch is not None and epoch != self._epoch) or abs(level - self._level) >= LIGHT_CHANGE
            if stale or not any(v > 0 for v in scores.values()):
                return  # taken under other light, or nothing found anywhere: it says nothing about the inputs
            if not self._evidence:
                self._window_level = level
            self._evidence.append(scores)
            total = {m: sum(e.get(m, 0.0) for e in self._evidence) for m in INPUTS}
            current = self._band
            top = probe_choice(current, total)
            if top == current:
                return
            self._band = top
            self.stats.switches += 1
            log.info("camera %s: auto now gives the detector %s instead of %s (it found %.1f against %.1f "
                     "over the last %d probes)", self.camera_id, top, current, total[top], total[current],
                     len(self._evidence))

    def _probe_due(self) -> bool:
        """Auto mode, a frame with a thermal partner: is it time the detector saw every input?
        (`_since_probe` lives on the composing thread alone: no lock.)"""
        if not self.cfg.probe_every:
            return False
        if self._since_probe is None or self._since_probe >= self.cfg.probe_every:
            self._since_probe = 0
            return True
        self._since_probe += 1
        return False

    def __call__(self, visible: np.ndarray, thermal: np.ndarray | None) -> np.ndarray | None:
        """The detector's image for one RGB image and its thermal partner (None: no partner);
        None when the frame is to be dropped."""
        return self.compose(visible, thermal)[0]

    def compose(self, visible: np.ndarray, thermal: np.ndarray | None) -> tuple[np.ndarray | None, Probe | None]:
        """`__call__`'s image, and in mode auto now and then a Probe carrying the other inputs."""
        mode = self.cfg.mode
        if mode == "rgb":
            return visible, None
        choice = mode if mode != "auto" else self.auto_choice(visible)
        if thermal is not None:
            self.stats.matched += 1
        probing = mode == "auto" and thermal is not None and self._probe_due()
        if choice == "rgb" and not probing:
            self.stats.shown_rgb += 1
            return visible, None
        ir = None if thermal is None else to_gray(thermal)
        # a warp only the probe wants never stops the camera: a failed estimate waits for the next probe
        warp = None if ir is None else self._warp_for(visible, ir, needed=choice != "rgb")
        if ir is None or warp is None:  # no partner in time, or registration not there yet
            if mode == "auto":
                self.stats.shown_rgb += 1
                return visible, None
            self.stats.dropped += 1
            return None, None
        warped = warp(ir, visible)
        inputs: dict[str, Callable[[], np.ndarray]] = {
            "rgb": lambda: visible,
            "thermal": lambda: cv2.cvtColor(warped, cv2.COLOR_GRAY2BGR) if visible.ndim == 3 else warped,
            "fused": lambda: fuse(visible, warped, self.method)}
        setattr(self.stats, f"shown_{choice}", getattr(self.stats, f"shown_{choice}") + 1)
        image = inputs[choice]()
        if not probing:
            return image, None
        level, epoch = self._level, self._epoch
        return image, Probe(choice, {m: make() for m, make in inputs.items() if m != choice},
                            lambda scores: self.weigh(scores, level, epoch))

"""Registration over time for one camera pair: estimated once, refined slowly, jumps refused.

Two rigidly mounted cameras keep one homography; it drifts only slowly (a mount settling, heat,
a motorised zoom), while a single frame can mislead an estimate (a lorry filling the view, rain
on one lens). So after the first estimate every refinement starts from the current homography
(`register_auto.refine_auto`, no global search), and its result is

- refused, with a reason, when the refinement itself refuses (too few agreeing patches, no
  consensus), or when it moves the visible image's corners by more than `max_jump_px` from the
  current warp in one step: a jump is far more often a wrong estimate than a moved camera;
- otherwise blended in: the corners move `alpha` of the way to the new estimate, so one noisy
  estimate moves the warp a little and a steady drift is followed within a few refinements.

A camera really re-pointed keeps producing the same jump: after `confirm` consecutive refused
jumps that agree with each other (within `max_jump_px / 4`), the new registration is taken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

log = logging.getLogger(__name__)

# (visible, thermal gray, current visible -> thermal H) -> (new H or None, reason)
Refiner = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray | None, str]]


def auto_refiner(visible: np.ndarray, thermal: np.ndarray, H: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The default refiner: automatic registration started from H."""
    from vigil.fusion.register_auto import refine_auto

    res = refine_auto(visible, thermal, H)
    return (res.homography if res.ok else None), res.reason


def _corners(shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64).reshape(-1, 1, 2)


def corner_shift(H_a: np.ndarray, H_b: np.ndarray, visible_shape: tuple[int, ...]) -> float:
    """Mean distance (thermal px) between the visible corners mapped by two homographies."""
    c = _corners(visible_shape)
    return float(np.linalg.norm(cv2.perspectiveTransform(c, H_a) - cv2.perspectiveTransform(c, H_b), axis=2).mean())


def blend(H_a: np.ndarray, H_b: np.ndarray, alpha: float, visible_shape: tuple[int, ...]) -> np.ndarray:
    """The homography whose visible corners lie `alpha` of the way from H_a's to H_b's (blending
    the matrices themselves would not move the image linearly)."""
    c = _corners(visible_shape).reshape(-1, 2).astype(np.float32)
    a = cv2.perspectiveTransform(c.reshape(-1, 1, 2), H_a).reshape(-1, 2)
    b = cv2.perspectiveTransform(c.reshape(-1, 1, 2), H_b).reshape(-1, 2)
    H = cv2.getPerspectiveTransform(c, ((1 - alpha) * a + alpha * b).astype(np.float32)).astype(np.float64)
    return H / H[2, 2]


@dataclass
class TrackStats:
    refinements: int = 0  # refinements run
    followed: int = 0  # blended in
    refused: int = 0  # refused by the refinement itself
    jumps_refused: int = 0  # refused as a jump
    reseated: int = 0  # jumps taken after `confirm` agreeing refinements
    last_reason: str = ""
    reasons: list[str] = field(default_factory=list)  # the last few refusal reasons


class RegistrationTrack:
    """One camera pair's visible -> thermal homography, kept up to date (see module docstring)."""

    def __init__(self, H: np.ndarray, refiner: Refiner = auto_refiner, alpha: float = 0.5,
                 max_jump_px: float = 12.0, confirm: int = 3) -> None:
        self.H = np.asarray(H, np.float64) / H[2, 2]
        self.refiner, self.alpha, self.max_jump_px, self.confirm = refiner, alpha, max_jump_px, confirm
        self.stats = TrackStats()
        self._pending: list[np.ndarray] = []  # consecutive refused jumps, to tell a re-pointed camera

    def _refuse(self, reason: str) -> None:
        self.stats.last_reason = reason
        self.stats.reasons = (self.stats.reasons + [reason])[-5:]

    def update(self, visible: np.ndarray, thermal: np.ndarray) -> bool:
        """Refine on one frame pair; True when the warp moved (followed or re-seated)."""
        self.stats.refinements += 1
        H_new, reason = self.refiner(visible, thermal, self.H)
        if H_new is None:
            self.stats.refused += 1
            self._refuse(f"refinement refused: {reason}")
            return False
        H_new = H_new / H_new[2, 2]
        shift = corner_shift(self.H, H_new, visible.shape)
        if shift <= self.max_jump_px:
            self._pending.clear()
            self.H = blend(self.H, H_new, self.alpha, visible.shape)
            self.stats.followed += 1
            return True
        # a jump: keep the current warp unless the same jump has come `confirm` times running
        if self._pending and corner_shift(self._pending[-1], H_new, visible.shape) > self.max_jump_px / 4:
            self._pending.clear()
        self._pending.append(H_new)
        if len(self._pending) >= self.confirm:
            log.warning("thermal registration moved by %.1f px on %d refinements running: taken", shift,
                        self.confirm)
            self.H = H_new
            self._pending.clear()
            self.stats.reseated += 1
            return True
        self.stats.jumps_refused += 1
        self._refuse(f"jump of {shift:.1f} px refused (more than {self.max_jump_px:g} px in one step; "
                     f"taken if it repeats {self.confirm} times)")
        return False

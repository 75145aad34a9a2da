"""Batched constant-velocity Kalman filter over box centre and size, in continuous time.

State per track: cx, cy, w, h and their velocities in pixels per second. Width and height
are filtered separately (BoT-SORT's XYWH state) rather than as aspect ratio and height
(SORT/ByteTrack), so vehicles turning or pedestrians bending do not distort the box.
Noise is proportional to the box size (near objects move more pixels) and process noise
grows with the time step, so skipped frames and variable frame rates are handled by `dt`.

The motion model, the noise and the measurement are all per coordinate, so the 8x8
covariance is four independent 2x2 blocks (position, position-velocity, velocity of each of
cx, cy, w, h). We store just those: `cov` is (N, 3, 4) = [P_pp, P_pv, P_vv] for the four
coordinates, and every step is elementwise over all tracks at once: exactly the full
filter's result, without batched 8x8 products or 4x4 solves.
"""

from __future__ import annotations

import numpy as np

# Standard deviations relative to box size, per reference step of 1/30 s (ByteTrack/BoT-SORT values).
REF_DT = 1.0 / 30.0
CHI2_95_4DOF = 9.4877  # gate for 4-d (cx, cy, w, h) Mahalanobis distance
CHI2_95_2DOF = 5.9915  # gate for the 2-d box centre
CHI2_999_2DOF = 13.816  # wide 2-d gate (re-identification of lost tracks)
PP, PV, VV = 0, 1, 2  # rows of the stored covariance


class BoxKalman:
    def __init__(self, std_position: float = 1 / 20, std_velocity: float = 1 / 160,
                 std_measurement: float = 1 / 20, confidence_scaled_noise: bool = False):
        self.std_position = std_position
        self.std_velocity = std_velocity
        self.std_measurement = std_measurement
        self.confidence_scaled_noise = confidence_scaled_noise  # NSA Kalman (GIAOTracker)

    @staticmethod
    def _size(boxes: np.ndarray) -> np.ndarray:
        """(N, 4) scale of each state dimension: w for x/w, h for y/h."""
        return boxes[:, [2, 3, 2, 3]]

    def initiate(self, xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from centre-size boxes (N, 4): zero velocity, wide velocity uncertainty."""
        n = len(xywh)
        mean = np.zeros((n, 8))
        mean[:, :4] = xywh
        size = self._size(mean)
        cov = np.zeros((n, 3, 4))
        cov[:, PP] = (2 * self.std_position * size) ** 2
        cov[:, VV] = (10 * self.std_velocity / REF_DT * size) ** 2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance all tracks by dt seconds (a scalar, or one per track)."""
        if len(mean) == 0:
            return mean, cov
        dt = np.reshape(np.asarray(dt, np.float64), (-1, 1))
        size = self._size(mean)  # noise from the size before the step (as ByteTrack / BoT-SORT)
        mean = mean.copy()
        mean[:, :4] += dt * mean[:, 4:]
        pp, pv, vv = cov[:, PP], cov[:, PV], cov[:, VV]
        steps = dt / REF_DT  # process noise grows linearly with elapsed time (random walk)
        new = np.empty_like(cov)
        new[:, PP] = pp + dt * (2 * pv + dt * vv) + (self.std_position * size) ** 2 * steps
        new[:, PV] = pv + dt * vv
        new[:, VV] = vv + (self.std_velocity / REF_DT * size) ** 2 * steps
        return mean, new

    def _measurement_var(self, mean: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
        r = (self.std_measurement * self._size(mean)) ** 2
        if self.confidence_scaled_noise and confidence is not None:
            r = r * (1.0 - np.clip(confidence, 0.0, 0.95))[:, None]  # confident boxes are trusted more
        return r

    def innovation_var(self, mean: np.ndarray, cov: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
        """(N, 4) variance of (measurement - predicted measurement) per coordinate."""
        return cov[:, PP] + self._measurement_var(mean, confidence)

    def update(self, mean: np.ndarray, cov: np.ndarray, xywh: np.ndarray,
               confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Correct tracks (N) with their matched measurements (N, 4)."""
        if len(mean) == 0:
            return mean, cov
        s = self.innovation_var(mean, cov, confidence)
        pp, pv, vv = cov[:, PP], cov[:, PV], cov[:, VV]
        k_pos, k_vel = pp / s, pv / s
        innov = xywh - mean[:, :4]
        mean = mean.copy()
        mean[:, :4] += k_pos * innov
        mean[:, 4:] += k_vel * innov
        new = np.empty_like(cov)
        new[:, PP] = (1 - k_pos) * pp
        new[:, PV] = (1 - k_pos) * pv
        new[:, VV] = vv - k_vel * pv
        return mean, new

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, xywh: np.ndarray,
                        dims: int = 4) -> np.ndarray:
        """Squared Mahalanobis distance (tracks N, measurements M) -> (N, M), over the first `dims`
        of cx, cy, w, h (2: centre only)."""
        if len(mean) == 0 or len(xywh) == 0:
            return np.zeros((len(mean), len(xywh)))
        s = self.innovation_var(mean, cov)[:, :dims]
        diff = xywh[None, :, :dims] - mean[:, None, :dims]
        return np.sum(diff * diff / s[:, None, :], axis=2)

    @staticmethod
    def full_covariance(cov: np.ndarray) -> np.ndarray:
        """The (N, 8, 8) covariance the compact (N, 3, 4) form stands for."""
        full = np.zeros((len(cov), 8, 8))
        i = np.arange(4)
        full[:, i, i] = cov[:, PP]
        full[:, i, i + 4] = full[:, i + 4, i] = cov[:, PV]
        full[:, i + 4, i + 4] = cov[:, VV]
        return full


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    """Corners (N, 4) -> centre x, centre y, width, height (float64)."""
    xyxy = np.asarray(xyxy, dtype=np.float64)
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    return np.concatenate([xywh[:, :2] - xywh[:, 2:4] / 2, xywh[:, :2] + xywh[:, 2:4] / 2], axis=1)

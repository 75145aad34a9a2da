"""Batched constant-velocity Kalman filter over box centre and size, in continuous time.

State per track: cx, cy, w, h and their velocities in pixels per second. Width and height
are filtered separately (BoT-SORT's XYWH state) rather than as aspect ratio and height
(SORT/ByteTrack), so vehicles turning or pedestrians bending do not distort the box.
Noise is proportional to the box size (near objects move more pixels) and process noise
grows with the time step, so skipped frames and variable frame rates are handled by `dt`.
Every operation works on all tracks at once: means (N, 8), covariances (N, 8, 8).
"""

from __future__ import annotations

import numpy as np

# Standard deviations relative to box size, per reference step of 1/30 s (ByteTrack/BoT-SORT values).
REF_DT = 1.0 / 30.0
CHI2_95_4DOF = 9.4877  # gate for 4-d (cx, cy, w, h) Mahalanobis distance
CHI2_95_2DOF = 5.9915  # gate for the 2-d box centre
_POS, _VEL = np.arange(4), np.arange(4, 8)
_DIAG8, _DIAG4 = np.arange(8), np.arange(4)


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
        size = self._size(xywh)
        std = np.concatenate([2 * self.std_position * size,
                              10 * self.std_velocity * size / REF_DT], axis=1)
        cov = np.zeros((n, 8, 8))
        cov[:, _DIAG8, _DIAG8] = std ** 2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance all tracks by dt seconds (a scalar, or one per track)."""
        if len(mean) == 0:
            return mean, cov
        if np.ndim(dt) == 0:
            f = np.eye(8)
            f[_POS, _VEL] = dt
        else:
            f = np.broadcast_to(np.eye(8), (len(mean), 8, 8)).copy()
            f[:, _POS, _VEL] = np.asarray(dt, np.float64)[:, None]
        steps = np.reshape(np.asarray(dt, np.float64) / REF_DT, (-1, 1))
        mean = mean @ f.T if f.ndim == 2 else np.einsum("nij,nj->ni", f, mean)
        cov = f @ cov @ (f.T if f.ndim == 2 else f.transpose(0, 2, 1))
        # Process noise grows linearly with elapsed time (a random walk over reference steps).
        size = self._size(mean)
        q = np.concatenate([(self.std_position * size) ** 2, (self.std_velocity / REF_DT * size) ** 2], axis=1)
        cov[:, _DIAG8, _DIAG8] += q * steps
        return mean, cov

    def _measurement_cov(self, mean: np.ndarray, confidence: np.ndarray | None) -> np.ndarray:
        r = (self.std_measurement * self._size(mean[:, :4])) ** 2
        if self.confidence_scaled_noise and confidence is not None:
            r = r * (1.0 - np.clip(confidence, 0.0, 0.95))[:, None]  # confident boxes are trusted more
        return r

    def project(self, mean: np.ndarray, cov: np.ndarray,
                confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Measurement-space mean (N, 4) and covariance (N, 4, 4)."""
        s = cov[:, :4, :4].copy()
        s[:, _DIAG4, _DIAG4] += self._measurement_cov(mean, confidence)
        return mean[:, :4], s

    def update(self, mean: np.ndarray, cov: np.ndarray, xywh: np.ndarray,
               confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Correct tracks (N) with their matched measurements (N, 4)."""
        if len(mean) == 0:
            return mean, cov
        z_mean, s = self.project(mean, cov, confidence)
        pht = cov[:, :, :4]  # P H^T with H = [I 0]
        gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)  # (N, 8, 4)
        innov = xywh - z_mean
        mean = mean + np.einsum("nij,nj->ni", gain, innov)
        cov = cov - gain @ pht.transpose(0, 2, 1)
        return mean, cov

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, xywh: np.ndarray,
                        dims: int = 4) -> np.ndarray:
        """Squared Mahalanobis distance (tracks N, measurements M) -> (N, M), over the first `dims`
        of cx, cy, w, h (2: centre only)."""
        if len(mean) == 0 or len(xywh) == 0:
            return np.zeros((len(mean), len(xywh)))
        z_mean, s = self.project(mean, cov)
        z_mean, s, xywh = z_mean[:, :dims], s[:, :dims, :dims], xywh[:, :dims]
        chol = np.linalg.cholesky(s)  # (N, d, d)
        diff = xywh[None, :, :] - z_mean[:, None, :]  # (N, M, d)
        # Solve L y = diff for every track: triangular solve batched over tracks.
        y = np.linalg.solve(chol, diff.transpose(0, 2, 1))  # (N, d, M)
        return np.sum(y * y, axis=1)


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    """Corners (N, 4) -> centre x, centre y, width, height (float64)."""
    xyxy = np.asarray(xyxy, dtype=np.float64)
    return np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    return np.concatenate([xywh[:, :2] - xywh[:, 2:4] / 2, xywh[:, :2] + xywh[:, 2:4] / 2], axis=1)

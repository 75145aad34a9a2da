"""Camera-motion compensation: the frame-to-frame affine warp of the image, applied to tracks.

For PTZ and shaking cameras the whole scene moves between frames; without compensation the
Kalman prediction lands where the object *was* on screen. Sparse optical flow (corners +
pyramidal Lucas-Kanade, as BoT-SORT's GMC) or ECC, on a downscaled grey frame.
"""

from __future__ import annotations

import cv2
import numpy as np

DOWNSCALE_TO = 480  # long side of the image the motion is estimated on (speed)


class CameraMotion:
    def __init__(self, method: str = "sparse_flow"):
        if method not in ("sparse_flow", "ecc"):
            raise ValueError(f"unknown camera_motion {method!r}; use none, sparse_flow or ecc")
        self.method = method
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None
        self._prev_pts: np.ndarray | None = None

    def estimate(self, image: np.ndarray) -> np.ndarray | None:
        """2x3 affine mapping the previous frame's pixels to this frame's (None on the first frame or failure)."""
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        scale = min(1.0, DOWNSCALE_TO / max(grey.shape[:2]))
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        prev, self._prev = self._prev, grey
        if prev is None or prev.shape != grey.shape:
            return None
        warp = self._ecc(prev, grey) if self.method == "ecc" else self._flow(prev, grey)
        if warp is None:
            return None
        warp[:, 2] /= scale  # translation back to full-resolution pixels
        return warp

    @staticmethod
    def _flow(prev: np.ndarray, cur: np.ndarray) -> np.ndarray | None:
        pts = cv2.goodFeaturesToTrack(prev, maxCorners=500, qualityLevel=0.01, minDistance=5, blockSize=3)
        if pts is None or len(pts) < 8:
            return None
        # cv2's stubs require nextPts; None (let OpenCV allocate it) is the documented default
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None)  # type: ignore[call-overload]
        ok = status.ravel() == 1
        if ok.sum() < 8:
            return None
        warp, _ = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC)
        return None if warp is None else warp.astype(np.float64)

    @staticmethod
    def _ecc(prev: np.ndarray, cur: np.ndarray) -> np.ndarray | None:
        warp = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
        try:
            # cv2's stubs type inputMask as required; None (no mask) is the documented default
            _, warp = cv2.findTransformECC(prev, cur, warp, cv2.MOTION_EUCLIDEAN, criteria,  # type: ignore[call-overload]
                                           None, 1)
        except cv2.error:
            return None
        return warp.astype(np.float64)

    @staticmethod
    def apply(warp: np.ndarray, mean: np.ndarray, cov: np.ndarray,
              last_box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move Kalman states (N, 8), compact covariances (N, 3, 4) and last observed boxes
        (N, 4 xyxy) by the warp. Positions and velocities go through the affine map, sizes scale;
        variances scale with the map's area change (the small rotation of a camera's frame-to-
        frame motion is not carried into the covariance)."""
        lin, shift = warp[:, :2], warp[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(lin))))
        mean = mean.copy()
        mean[:, :2] = mean[:, :2] @ lin.T + shift
        mean[:, 4:6] = mean[:, 4:6] @ lin.T
        mean[:, [2, 3, 6, 7]] *= scale
        corners = last_box.reshape(-1, 2) @ lin.T + shift
        return mean, cov * scale ** 2, corners.reshape(-1, 4)

"""Small image helpers shared by registration and the RGB-thermal source."""

from __future__ import annotations

import cv2
import numpy as np


def to_gray(img: np.ndarray) -> np.ndarray:
    """One channel: OpenCV's BGR luma for uint8 images, the channel mean for any other bit depth
    (16-bit radiometric thermal); alpha is dropped, a gray image is returned as it is."""
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.dtype == np.uint8 else img.mean(axis=2)

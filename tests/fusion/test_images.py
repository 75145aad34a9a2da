"""The one to_gray, shared by automatic registration and the RGB-thermal source."""

import cv2
import numpy as np

from vigil.fusion.images import to_gray


def test_to_gray_keeps_bit_depth_drops_alpha_and_leaves_gray_alone():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_gray(bgr), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    bgra = np.concatenate([bgr, np.full((6, 5, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_gray(bgra), to_gray(bgr))
    radiometric = rng.integers(0, 65536, (6, 5, 3), dtype=np.uint16)  # 16-bit thermal: no 8-bit luma
    np.testing.assert_allclose(to_gray(radiometric), radiometric.mean(axis=2))
    gray = bgr[:, :, 0]
    assert to_gray(gray) is gray

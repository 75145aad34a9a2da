"""The optimised GFF (shared guide statistics, one channel at a time, 0..255 units, in-place
arithmetic) against the textbook formulation it replaced, on real VIFB and TNO pairs."""

import cv2
import numpy as np
import pytest

from tests.fusion.data import TNO, VIFB_INPUT, need
from vigil.fusion.fuse import fuse, fuse_gff


def _box(x, r):
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT).reshape(x.shape)


def _guided_filter(guide, src, r, eps):
    """He, Sun, Tang (ECCV 2010), Algorithm 1, as written."""
    mean_i, mean_p = _box(guide, r), _box(src, r)
    var_i = _box(guide * guide, r) - mean_i * mean_i
    cov_ip = _box(guide * src, r) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, r) * guide + _box(b, r)


def _reference_gff(v, t):
    """Li, Kang, Hu (IEEE TIP 2013) on 0..1 images, every channel at once: Vigil's gff before
    it was optimised."""
    v1, t1 = v * (1 / 255.0), t * (1 / 255.0)
    base_v, base_t = _box(v1, 15), _box(t1, 15)
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)

    def saliency(x):
        return cv2.GaussianBlur(np.abs(cv2.filter2D(x, -1, lap)), (11, 11), 5).reshape(x.shape)

    p_v = (saliency(v1) >= saliency(t1)).astype(np.float32)
    p_t = 1.0 - p_v
    t1b = np.broadcast_to(t1, v1.shape).copy()
    wb_v = np.clip(_guided_filter(v1, p_v, 45, 0.3), 0, 1)
    wb_t = np.clip(_guided_filter(t1b, p_t, 45, 0.3), 0, 1)
    wd_v = np.clip(_guided_filter(v1, p_v, 7, 1e-6), 0, 1)
    wd_t = np.clip(_guided_filter(t1b, p_t, 7, 1e-6), 0, 1)
    base = (wb_v * base_v + wb_t * base_t) / (wb_v + wb_t + 1e-6)
    detail = (wd_v * (v1 - base_v) + wd_t * (t1 - base_t)) / (wd_v + wd_t + 1e-6)
    return (base + detail) * 255.0


@pytest.mark.parametrize("vis_path, ir_path", [
    (VIFB_INPUT / "VI" / "manCall.jpg", VIFB_INPUT / "IR" / "manCall.jpg"),  # colour + thermal
    (TNO / "vis" / "3.bmp", TNO / "ir" / "3.bmp"),  # gray + gray
])
def test_optimised_gff_equals_the_reference_formulation(vis_path, ir_path):
    vis = cv2.imread(str(need(vis_path)), cv2.IMREAD_UNCHANGED)
    ir = cv2.imread(str(need(ir_path)), cv2.IMREAD_GRAYSCALE)
    if vis.ndim == 3 and np.array_equal(vis[..., 0], vis[..., 1]):
        vis = vis[..., 0]  # a gray image stored as BGR
    v = vis.astype(np.float32)
    t = ir.astype(np.float32)
    t = t[..., None] if v.ndim == 3 else t
    ref = _reference_gff(v, t)
    got = fuse_gff(v, t)
    assert got.shape == ref.shape and got.dtype == np.float32
    # float32 rounding only (measured: at most 0.001 grey levels); eps2 = 1e-6 left unscaled
    # to 0..255 units would give 0.02-0.1
    diff = np.abs(got - ref)
    assert diff.max() < 0.01 and diff.mean() < 5e-5, (diff.max(), diff.mean())
    # and the shipped uint8 output differs by rounding at most
    out = fuse(vis, ir, "gff").astype(int)
    ref8 = np.clip(np.rint(ref), 0, 255).astype(int).reshape(out.shape)
    assert np.abs(out - ref8).max() <= 1 and (out != ref8).mean() < 1e-3

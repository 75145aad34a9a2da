"""Fusion metrics as CDDFuse's evaluator computes them (Zhao et al., CVPR 2023, `utils/Evaluator.py`
of github.com/Zhaozixiang1228/MMIF-CDDFuse), so Vigil's TNO figures sit beside the published ones.

Its conventions differ from VIFB's (`vigil.fusion.metrics`), and the published numbers depend on them:
- Everything on gray images: sources and fused image are read with OpenCV's BGR->GRAY and rounded,
  values 0..255 (no JPEG round trip: CDDFuse saves its outputs as PNG).
- SF = sqrt(mean(dx^2) + mean(dy^2)) (means, not VIFB's sums over the colour seams).
- AG = mean over all pixels of sqrt((gx^2 + gy^2) / 2), numpy-style central differences.
- MI = MI(F, A) + MI(F, B) from the raw 256-level joint histogram (sklearn's mutual_info_score),
  in **nats** (natural log; CDDFuse's table does not name the unit, the issue's "bits" is not
  what the code computes), with no min-max normalisation.
- VIF = VIF(A, F) + VIF(B, F), each Sheikh & Bovik's pixel-domain VIF (4 scales, Gaussian windows
  of 17/9/5/3 px with sigma = size/5, sigma_n^2 = 2), sum of numerators over sum of denominators.
  This is *not* Han et al.'s VIFF (`vigil.fusion.metrics.vif`).
- Qabf: the Xydeas-Petrovic edge preservation on the 0..255 scale (VIFB multiplies by 255 first,
  which only changes the g_A == g_F branch).
"""

from __future__ import annotations

import cv2
import numpy as np

from vigil.fusion.metrics import _edge_preservation, _entropy, _sd, _sobel_strength_angle, _viff_maps

# CDDFuse, Table 1 (TNO test set, 25 pairs): Zhao, Bai, Zhang, Zhang, Xu, Lin, Timofte, Van Gool,
# "CDDFuse: Correlation-Driven Dual-Branch Feature Decomposition for Multi-Modality Image
# Fusion", CVPR 2023. AG is not in their table.
CDDFUSE_TNO: dict[str, float] = {"EN": 7.12, "SD": 46.00, "SF": 13.15, "MI": 2.19, "VIF": 0.77, "Qabf": 0.54}
CDDFUSE_CITATION = "Zhao et al., CDDFuse, CVPR 2023, Table 1 (TNO)"
CDDFUSE_TNO_PAIRS = 25
METRIC_NAMES = ("EN", "SD", "SF", "AG", "MI", "VIF", "Qabf")


def to_gray(img: np.ndarray) -> np.ndarray:
    """CDDFuse's image_read_cv2(path, 'GRAY'): OpenCV BGR->GRAY on float32, rounded, as float64."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3:
        img = np.round(cv2.cvtColor(img.astype(np.float32), cv2.COLOR_BGR2GRAY))
    return img.astype(np.float64)


def spatial_frequency(f: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(f, axis=1) ** 2) + np.mean(np.diff(f, axis=0) ** 2)))


def average_gradient(f: np.ndarray) -> float:
    gy, gx = np.gradient(f)
    return float(np.mean(np.sqrt((gx * gx + gy * gy) / 2)))


def _mi_one(f: np.ndarray, s: np.ndarray) -> float:
    a = np.clip(np.round(f), 0, 255).astype(np.int64).ravel()
    b = np.clip(np.round(s), 0, 255).astype(np.int64).ravel()
    joint = np.bincount(a * 256 + b, minlength=256 * 256).reshape(256, 256) / a.size
    pa, pb = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])).sum())


def mutual_information(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    return _mi_one(f, a) + _mi_one(f, b)


def vif_pixel(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float = 2.0) -> float:
    """Sheikh & Bovik's pixel-domain VIF of `dist` against `ref` (1 = identical)."""
    maps = _viff_maps(ref, dist, sigma_nsq)
    den = sum(float(m.sum()) for _, m, _ in maps)
    return float(sum(float(z.sum()) for z, _, _ in maps) / den) if den > 0 else 1.0


def vif(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    return vif_pixel(a, f) + vif_pixel(b, f)


def qabf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    ga, aa = _sobel_strength_angle(a)
    gb, ab = _sobel_strength_angle(b)
    gf, af = _sobel_strength_angle(f)
    q = _edge_preservation(ga, aa, gf, af) * ga + _edge_preservation(gb, ab, gf, af) * gb
    return float(q.sum() / (ga + gb).sum())


def evaluate(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> dict[str, float]:
    """CDDFuse's metrics of one fused image (any of the three may be colour: all go to gray)."""
    a, b, f = to_gray(vis), to_gray(ir), to_gray(fused)
    return {"EN": _entropy(f), "SD": _sd(f), "SF": spatial_frequency(f), "AG": average_gradient(f),
            "MI": mutual_information(a, b, f), "VIF": vif(a, b, f), "Qabf": qabf(a, b, f)}

"""Fusion quality metrics, computed exactly as the VIFB benchmark's MATLAB code computes them.

VIFB (Zhang, Ye, Xiao, CVPRW 2020) scores a fused image F against its visible source A and
infrared source B. Its conventions, reproduced here because published numbers depend on them:

- Colour: when F has 3 channels every metric except SF is computed per channel k on
  (A[..., k], B[..., k] or B when B is single-channel, F[..., k]) and the channel values are
  averaged. A 3-channel source beside a single-channel F is converted with MATLAB's rgb2gray.
- Pixel values are 0..255 (uint8 images as read from disk), never rescaled to 0..1.
- RMSE and PSNR use VIFB's "mse", which is sqrt(sum((a - f)^2)) / (H * W) (not a mean square),
  averaged over the two sources; PSNR = 20 log10(255 / sqrt(that)).
- MI = MI(A, F) + MI(B, F) in nats, each image min-max normalised to 0..255 and rounded first.
- CE = (KL(hist A || hist F) + KL(hist B || hist F)) / 2 in bits.
- SSIM = SSIM(A, F) + SSIM(B, F) (so a perfect score is 2): Wang et al.'s SSIM with an 11x11
  Gaussian window (sigma 1.5), C1 = (0.01*255)^2, C2 = (0.03*255)^2, 'valid' filtering, mean of
  the map.
- SF: VIFB reads the fused image as an H x (W*C) matrix, i.e. the colour channels laid side by
  side, and takes row/column first differences over that whole matrix (including the step across
  each channel seam), each sum divided by H*W*C: SF = sqrt(RF + CF). Colour input is BGR (OpenCV's order); the
  seam terms need VIFB's R | G | B layout.
- SD is the population standard deviation (VIFB calls it "Variance"); AG uses MATLAB's gradient
  (central differences inside, one-sided at the border) and divides by (H-1)(W-1).
- Qabf (Xydeas & Petrovic) uses MATLAB's conv2(..., 'same') Sobel responses with zero padding,
  orientation atan(gy/gx) (pi/2 where gx == 0), and VIFB's quirk that the strength ratio is
  g_F itself (not 1) where g_A == g_F, on a 0..255*255 scale.

`vif` is Han et al.'s VIFF (Information Fusion 2013), which VIFB does not report.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

# MATLAB rgb2gray weights (the first row of inv(YIQ matrix)), in R, G, B order.
_RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def rgb2gray(img: np.ndarray, *, order: str = "rgb", round_uint8: bool | None = None) -> np.ndarray:
    """MATLAB's rgb2gray. uint8 input gives rounded values (as MATLAB's uint8 result), float input
    is left unrounded. `order` names the channel order of `img` ('rgb' or 'bgr')."""
    if img.ndim == 2:
        return img.astype(np.float64)
    w = _RGB2GRAY if order == "rgb" else _RGB2GRAY[::-1]
    g = img.astype(np.float64) @ w
    if round_uint8 if round_uint8 is not None else img.dtype == np.uint8:
        g = np.floor(g + 0.5)
    return g


def _per_channel(func: Callable[[np.ndarray, np.ndarray, np.ndarray], float],
                 a: np.ndarray, b: np.ndarray, f: np.ndarray, gray_round: bool = True) -> float:
    """VIFB's colour dispatch: per channel when F is colour, else sources to gray."""
    if f.ndim == 3 and f.shape[2] == 1:
        f = f[..., 0]
    if f.ndim == 2:
        return func(_gray(a, gray_round), _gray(b, gray_round), f.astype(np.float64))
    vals = []
    for k in range(f.shape[2]):
        ak = a[..., k] if a.ndim == 3 else a
        bk = b[..., k] if b.ndim == 3 else b
        vals.append(func(ak.astype(np.float64), bk.astype(np.float64), f[..., k].astype(np.float64)))
    return float(np.mean(vals))


def _gray(img: np.ndarray, round_uint8: bool) -> np.ndarray:
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return img.astype(np.float64)
    # VIFB reads images with imread (RGB); callers here pass what they read, so channel order
    # is whatever they hold. Fused/source colour order only matters for gray conversion.
    return rgb2gray(img, order="bgr", round_uint8=round_uint8 and img.dtype == np.uint8)


def _hist256(x: np.ndarray) -> np.ndarray:
    idx = np.clip(np.floor(x), 0, 255).astype(np.int64).ravel()
    return np.bincount(idx, minlength=256).astype(np.float64)


# ---------------------------------------------------------------- single-channel kernels

def _entropy(f: np.ndarray) -> float:
    p = _hist256(f) / f.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _sd(f: np.ndarray) -> float:
    return float(np.sqrt(((f - f.mean()) ** 2).sum() / f.size))


def _ag(f: np.ndarray) -> float:
    gy, gx = np.gradient(f)
    r, c = f.shape
    return float(np.sqrt((gx * gx + gy * gy) / 2).sum() / ((r - 1) * (c - 1)))


def _cross_entropy_one(src: np.ndarray, f: np.ndarray) -> float:
    p1 = _hist256(src) / src.size
    p2 = _hist256(f) / src.size
    m = (p1 > 0) & (p2 > 0)
    return float((p1[m] * np.log2(p1[m] / p2[m])).sum())


def _ce(a, b, f) -> float:
    return (_cross_entropy_one(a, f) + _cross_entropy_one(b, f)) / 2.0


def _normalise_255(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    if hi == lo:
        return np.zeros(x.shape, np.int64)
    return np.floor((x - lo) / (hi - lo) * 255 + 0.5).astype(np.int64)  # MATLAB int16() rounding


def _mutual_info_one(a: np.ndarray, b: np.ndarray) -> float:
    ia, ib = _normalise_255(a).ravel(), _normalise_255(b).ravel()
    joint = np.bincount(ia * 256 + ib, minlength=256 * 256).astype(np.float64)
    n = joint.sum()

    def h(counts: np.ndarray) -> float:
        p = counts[counts > 0] / n
        return float(-(p * np.log(p)).sum())

    return h(np.bincount(ia, minlength=256)) + h(np.bincount(ib, minlength=256)) - h(joint)


def _mi(a, b, f) -> float:
    return _mutual_info_one(a, f) + _mutual_info_one(b, f)


def _vifb_mse(a: np.ndarray, f: np.ndarray) -> float:
    return float(np.sqrt(((a - f) ** 2).sum()) / a.size)


def _rmse(a, b, f) -> float:
    return (_vifb_mse(a, f) + _vifb_mse(b, f)) / 2.0


def _psnr(a, b, f) -> float:
    return float(20 * np.log10(255.0 / np.sqrt((_vifb_mse(a, f) + _vifb_mse(b, f)) / 2.0)))


def _gaussian_1d(n: int, sigma: float) -> np.ndarray:
    """1-D factor of MATLAB fspecial('gaussian', n, sigma): outer(g, g) is that window."""
    ax = np.arange(n) - (n - 1) / 2.0
    g = np.exp(-(ax * ax) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """MATLAB filter2(outer(g, g), x, 'valid'), as two 1-D passes (the window is separable)."""
    r = g.size // 2
    out = cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_CONSTANT)
    return out[r:x.shape[0] - r, r:x.shape[1] - r]


_SSIM_WIN = _gaussian_1d(11, 1.5)


def _ssim_one(a: np.ndarray, f: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ua, uf = _filter_valid(a, _SSIM_WIN), _filter_valid(f, _SSIM_WIN)
    saa = _filter_valid(a * a, _SSIM_WIN) - ua * ua
    sff = _filter_valid(f * f, _SSIM_WIN) - uf * uf
    saf = _filter_valid(a * f, _SSIM_WIN) - ua * uf
    m = ((2 * ua * uf + c1) * (2 * saf + c2)) / ((ua * ua + uf * uf + c1) * (saa + sff + c2))
    return float(m.mean())


def _ssim(a, b, f) -> float:
    return _ssim_one(a, f) + _ssim_one(b, f)


# conv2 flips the kernel; cv2.filter2D correlates, so pass the flipped Sobel kernels.
_SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float64)[::-1, ::-1].copy()
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)[::-1, ::-1].copy()


def _sobel_strength_angle(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx = cv2.filter2D(x, cv2.CV_64F, _SOBEL_X, borderType=cv2.BORDER_CONSTANT)
    sy = cv2.filter2D(x, cv2.CV_64F, _SOBEL_Y, borderType=cv2.BORDER_CONSTANT)
    g = np.sqrt(sx * sx + sy * sy)
    with np.errstate(divide="ignore", invalid="ignore"):
        ang = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1, sx)))
    return g, ang


def _edge_preservation(gs, angs, gf, angf) -> np.ndarray:
    tg, kg, dg, ta, ka, da = 0.9994, -15.0, 0.5, 0.9879, -22.0, 0.8
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(gs > gf, gf / np.where(gs > gf, gs, 1),
                         np.where(gs == gf, gf, gs / np.where(gf > 0, gf, 1)))
    orient = 1 - np.abs(angs - angf) / (np.pi / 2)
    qg = tg / (1 + np.exp(kg * (ratio - dg)))
    qa = ta / (1 + np.exp(ka * (orient - da)))
    return qg * qa


def _qabf(a, b, f) -> float:
    # VIFB scales by 255 (255*im2double of an already-double image); only the g_A == g_F
    # branch sees the scale, but keep it so the numbers match.
    ga, aa = _sobel_strength_angle(255.0 * a)
    gb, ab = _sobel_strength_angle(255.0 * b)
    gf, af = _sobel_strength_angle(255.0 * f)
    qaf = _edge_preservation(ga, aa, gf, af)
    qbf = _edge_preservation(gb, ab, gf, af)
    return float((qaf * ga + qbf * gb).sum() / (ga + gb).sum())


# ---------------------------------------------------------------- public metrics

def entropy(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """EN: Shannon entropy (bits) of the fused image's 256-bin histogram; channel mean."""
    return _per_channel(lambda a, b, f: _entropy(f), vis, ir, fused)


def standard_deviation(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """SD (VIFB 'Variance'): population standard deviation of the fused image; channel mean."""
    return _per_channel(lambda a, b, f: _sd(f), vis, ir, fused)


def spatial_frequency(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """SF, VIFB convention: channels laid side by side as one H x (W*C) matrix (MATLAB's
    `[m, n] = size(F)` on a 3-D array), RF and CF = sums of squared horizontal / vertical first
    differences over that matrix, each divided by H*W*C; SF = sqrt(RF + CF)."""
    f = fused.astype(np.float64)
    if f.ndim == 3:  # BGR in, laid out R | G | B as MATLAB holds it (the seams count)
        f = np.concatenate([f[..., k] for k in reversed(range(f.shape[2]))], axis=1)
    rf = (np.diff(f, axis=1) ** 2).sum() / f.size
    cf = (np.diff(f, axis=0) ** 2).sum() / f.size
    return float(np.sqrt(rf + cf))


def average_gradient(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """AG: mean of sqrt((gx^2 + gy^2) / 2) with MATLAB's gradient, over (H-1)(W-1); channel mean."""
    f = fused.astype(np.float64)
    if f.ndim == 2:
        return _ag(f)
    return float(np.mean([_ag(f[..., k]) for k in range(f.shape[2])]))


def mutual_information(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """MI: MI(vis, F) + MI(ir, F) in nats, 256-bin joint histograms of min-max normalised images."""
    return _per_channel(_mi, vis, ir, fused)


def cross_entropy(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """CE: mean of the two sources' histogram KL divergences to the fused one (bits); lower is better."""
    return _per_channel(_ce, vis, ir, fused)


def rmse(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """RMSE, VIFB convention: mean over both sources of sqrt(sum (src - F)^2) / (H*W); lower is better."""
    return _per_channel(_rmse, vis, ir, fused, gray_round=False)


def psnr(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """PSNR, VIFB convention: 20 log10(255 / sqrt(mean of VIFB's 'mse' to both sources))."""
    return _per_channel(_psnr, vis, ir, fused, gray_round=False)


def ssim(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """SSIM, VIFB convention: SSIM(vis, F) + SSIM(ir, F), so 2 is perfect (Gaussian 11x11,
    sigma 1.5, 'valid' window, K = 0.01/0.03, L = 255); channel mean."""
    return _per_channel(_ssim, vis, ir, fused)


def qabf(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """Qabf (Xydeas-Petrovic edge preservation, 0..1); channel mean."""
    return _per_channel(_qabf, vis, ir, fused, gray_round=False)


def _viff_maps(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float):
    out = []
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = _gaussian_1d(n, n / 5.0)
        if scale > 1:
            ref = _filter_valid(ref, win)[::2, ::2]
            dist = _filter_valid(dist, win)[::2, ::2]
        mu1, mu2 = _filter_valid(ref, win), _filter_valid(dist, win)
        s1 = np.maximum(_filter_valid(ref * ref, win) - mu1 * mu1, 0)
        s2 = np.maximum(_filter_valid(dist * dist, win) - mu2 * mu2, 0)
        s12 = _filter_valid(ref * dist, win) - mu1 * mu2
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        flat1 = s1 < 1e-10
        g[flat1], sv[flat1], s1[flat1] = 0, s2[flat1], 0
        flat2 = s2 < 1e-10
        g[flat2], sv[flat2] = 0, 0
        neg = g < 0
        sv[neg], g[neg] = s2[neg], 0
        sv[sv <= 1e-10] = 1e-10
        vid = np.log10(1 + g * g * s1 / (sv + sigma_nsq))
        vind = np.log10(1 + s1 / sigma_nsq)
        out.append((vid, vind, g))
    return out


def vif(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> float:
    """VIFF (Han, Cai, Cao, Xu 2013): multi-scale visual information fidelity of the fused image,
    taking at each pixel and scale the source with the larger gain; 1 when F equals identical
    sources, lower for distorted fusion. Computed on gray images (MATLAB rgb2gray, BGR input)."""
    a, b, f = (_gray(x, round_uint8=False) for x in (vis, ir, fused))
    sq, c = 0.005 * 255 * 255, 1e-7
    weights = np.array([1.0, 0.0, 0.15, 1.0]) / 2.15
    ratios = []
    for (z1, m1, g1), (z2, m2, g2) in zip(_viff_maps(a, f, sq), _viff_maps(b, f, sq)):
        pick1 = g1 < g2
        z = np.where(pick1, z1, z2)
        m = np.where(pick1, m1, m2)
        ratios.append((z + c).sum() / (m + c).sum())
    return float((np.array(ratios) * weights).sum())


# Name -> (function, higher_is_better). Names are the short ones used across Vigil's output.
METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray, np.ndarray], float], bool]] = {
    "EN": (entropy, True),
    "SD": (standard_deviation, True),
    "SF": (spatial_frequency, True),
    "AG": (average_gradient, True),
    "MI": (mutual_information, True),
    "PSNR": (psnr, True),
    "RMSE": (rmse, False),
    "CE": (cross_entropy, False),
    "SSIM": (ssim, True),
    "Qabf": (qabf, True),
    "VIF": (vif, True),
}

# Vigil's short names -> the metric names in VIFB's own tables (metrics_long.csv).
VIFB_NAMES: dict[str, str] = {
    "EN": "Entropy", "SD": "Variance", "SF": "Spatial_frequency", "AG": "Avg_gradient",
    "MI": "Mutinf", "PSNR": "Psnr", "RMSE": "Rmse", "CE": "Cross_entropy", "SSIM": "Ssim",
    "Qabf": "Qabf",
}


def evaluate(vis: np.ndarray, ir: np.ndarray, fused: np.ndarray,
             names: list[str] | None = None) -> dict[str, float]:
    """Every metric (or those named) for one fused image; images as read from disk (uint8)."""
    names = list(METRICS) if names is None else names
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown fusion metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    return {n: METRICS[n][0](vis, ir, fused) for n in names}

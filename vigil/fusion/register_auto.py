"""Automatic visible -> thermal registration without known points.

Visible and thermal images share edges, not intensities (a warm car is bright in thermal and
may be dark in visible), so every similarity here is computed on gradient *orientation* in the
double-angle form w * exp(2i*theta): it ignores contrast polarity and, being weighted by a
saturating function of gradient magnitude, ignores how strong an edge is in either sensor
(Tzimiropoulos et al., "Robust FFT-based scale-invariant image registration with image
gradients", PAMI 2010, use the same cross-modal representation).

Three stages, coarse to fine:
1. Global search at low resolution (thermal ~160 px wide) over scale (log grid around the
   scale at which the two images would have the same field of view) and every translation at
   once: an FFT cross-correlation per scale, normalised on the overlap so that shifts with
   partial overlap compete fairly (masked normalised cross-correlation, Padfield 2012).
2. Local patch matching: the visible image is warped into the thermal view with the current
   estimate, cut into patches, each patch is matched within a small window of the thermal
   orientation field (OpenCV template matching on the two-channel field), and a homography is
   fitted robustly (MAGSAC++) to the patch correspondences. Repeated at half, then full thermal
   resolution with shrinking windows. When a finer step's patches stop agreeing after a coarser
   step's agreed (soft upsampled visible, grainy thermal), the coarser estimate is judged.
3. Judgement (a consensus test: refuse rather than return a wrong warp): the estimate is
   refused unless enough patches agree with the final homography, the global peak stands out
   from the best rival peak (or the patches agree overwhelmingly), two halves of the agreeing
   patches give the same corners, and the homography is a plausible camera-pair mapping (no
   fold, moderate perspective, scale inside the searched range). Every refusal says which
   test failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import fft as sfft

from vigil.fusion.images import to_gray


@dataclass(frozen=True)
class AutoParams:
    """Search ranges and thresholds. Ranges are generic camera-pair priors, not dataset values."""

    fov_ratio: tuple[float, float] = (0.5, 1.6)
    """Searched width of the visible view as a fraction of the thermal view's width."""
    scale_step: float = 0.04
    """Relative step of the coarse scale grid."""
    coarse_width: int = 160
    """Thermal width (px) of the coarse search."""
    min_overlap: float = 0.5
    """Fraction of the smaller image that must overlap the other at a candidate shift."""
    refine_levels: tuple[tuple[float, int, int], ...] = ((0.5, 32, 12), (1.0, 48, 8), (1.0, 48, 4))
    """(resolution as a fraction of the thermal size, patch size px, search radius px) per step."""
    patch_step: float = 0.5
    """Patch grid step as a fraction of the patch size."""
    inlier_px: float = 1.5
    """Patch correspondences further than this from the fitted homography (thermal px) are outliers."""
    min_peak_ratio: float = 1.1
    """Refuse when the coarse peak is not this much above the best rival peak."""
    chance_ratio: float = 0.1
    """Fraction of patch matches that agree with a homography fitted to a *wrong* alignment by
    chance (measured on mismatched pairs: <= 0.08 for a few hundred patches). A result needs
    clearly more agreeing patches than chance gives, see `required_inliers`."""
    max_perspective: float = 0.25
    """Refuse when the scale of the mapped visible image varies more than this across it."""
    max_corner_spread: float = 2.5
    """Refuse when homographies fitted to two random halves of the agreeing patches put the
    visible image's corners further apart than this (thermal px, see `corner_spread`): on the
    development pairs right answers stay under 1.6, a wrong one measured 3.4. This is the limit
    for full-resolution patches; a fit from half-resolution patches is allowed twice as much."""
    strong_inliers: float = 2.0
    """Agreeing patches, as a multiple of `required_inliers`, that stand in for a distinct global
    peak: a repetitive scene can have a rival peak as high as the right one, but no mismatched
    development pair came near even 1x (refinement is the second, independent vote)."""


@dataclass
class AutoResult:
    """Outcome of automatic registration; `homography` maps visible pixels to thermal pixels."""

    homography: np.ndarray | None
    ok: bool
    confidence: float
    reason: str
    stats: dict = field(default_factory=dict)


def orientation_field(gray: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Complex double-angle gradient field w * exp(2i*theta), |w| < 1 (see module docstring)."""
    g = cv2.GaussianBlur(gray, (0, 0), sigma) if sigma > 0 else gray
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    m2 = gx * gx + gy * gy
    m = np.sqrt(m2)
    k = float(np.percentile(m, 75)) + 1e-6  # edge strength is relative to the image's own texture
    w = m / (m + k)
    scale = w / (m2 + 1e-12)
    # (gx + i gy)^2 / |g|^2 = exp(2i theta)
    return ((gx * gx - gy * gy) * scale + 1j * (2 * gx * gy * scale)).astype(np.complex64)


def _two_channel(z: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.dstack([z.real, z.imag]), dtype=np.float32)


def _resize(gray: np.ndarray, factor: float) -> np.ndarray:
    w = max(8, int(round(gray.shape[1] * factor)))
    h = max(8, int(round(gray.shape[0] * factor)))
    return cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def _scale_matrix(sx: float, sy: float) -> np.ndarray:
    """Pixel-centre-correct resize: x' = (x + 0.5) * s - 0.5."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


# ---------------------------------------------------------------- stage 1: global search

@dataclass
class _Peak:
    score: float
    homography: np.ndarray  # visible -> full-resolution thermal (a scale and a shift)
    rival: float  # best score of a clearly different (scale, shift)
    scale: float  # thermal px per visible px


def coarse_search(vis: np.ndarray, ir: np.ndarray, p: AutoParams) -> _Peak:
    """Best scale + translation by overlap-normalised orientation correlation at low resolution."""
    f_ir = min(1.0, p.coarse_width / ir.shape[1])
    A = orientation_field(_resize(ir, f_ir))
    H0, W0 = A.shape
    fovs = np.exp(np.arange(np.log(p.fov_ratio[0]), np.log(p.fov_ratio[1]) + 1e-9, np.log1p(p.scale_step)))
    scales = fovs * ir.shape[1] / vis.shape[1]  # thermal px per visible px
    hmax = int(np.ceil(vis.shape[0] * scales[-1] * f_ir)) + 1
    wmax = int(np.ceil(vis.shape[1] * scales[-1] * f_ir)) + 1
    shape = (sfft.next_fast_len(H0 + hmax), sfft.next_fast_len(W0 + wmax))
    half = shape[1] // 2 + 1  # an rfft2 is the first half of the full fft2 of a real image
    FA = sfft.fft2(A, shape, workers=-1)
    FA2 = sfft.rfft2(np.abs(A) ** 2, shape, workers=-1)
    FMA = sfft.fft2(np.ones((H0, W0), np.float32), shape, workers=-1)

    # shrink the visible image once to twice the largest coarse size; each scale resizes from there
    pre = min(1.0, 2 * scales[-1] * f_ir)
    vis_small = _resize(vis, pre) if pre < 1 else vis
    maps = []
    for s in scales:
        vs = cv2.resize(vis_small, (max(8, round(vis.shape[1] * s * f_ir)), max(8, round(vis.shape[0] * s * f_ir))),
                        interpolation=cv2.INTER_AREA)
        B = orientation_field(vs)
        h, w = B.shape
        # correlations c(d) = sum_x a(x + d) b(x): product of the spectra, b's conjugated
        FB = np.conj(sfft.fft2(B, shape, workers=-1))
        FMB = np.conj(sfft.fft2(np.ones((h, w), np.float32), shape, workers=-1))
        FB2 = np.conj(sfft.rfft2(np.abs(B) ** 2, shape, workers=-1))
        num = sfft.ifft2(FA * FB, workers=-1)
        SA = sfft.ifft2(FA * FMB, workers=-1)  # sum of A over the overlap
        SB = sfft.ifft2(FMA * FB, workers=-1)
        EA = sfft.irfft2(FA2 * FMB[:, :half], shape, workers=-1)
        EB = sfft.irfft2(FMA[:, :half] * FB2, shape, workers=-1)
        N = sfft.irfft2(FMA[:, :half] * FMB[:, :half], shape, workers=-1)
        Nc = np.maximum(N, 1.0)
        cov = (num - SA * np.conj(SB) / Nc).real
        var = np.maximum((EA - np.abs(SA) ** 2 / Nc) * (EB - np.abs(SB) ** 2 / Nc), 1e-9)
        # correlation weighted by sqrt(overlap): a high correlation over a small overlap is
        # as likely to be chance as a lower one over the whole image (z-score-like ranking)
        score = cov / np.sqrt(var) * np.sqrt(np.clip(N / (H0 * W0), 0.0, 1.0))
        score[N < p.min_overlap * min(h * w, H0 * W0)] = -1.0
        # reorder so that index (i, j) is the shift (dy, dx) = (i - h, j - w), -h < dy < H0
        score = np.roll(score, (h, w), axis=(0, 1))[: H0 + h, : W0 + w]
        k = _scale_matrix(vs.shape[1] / vis.shape[1], vs.shape[0] / vis.shape[0])
        maps.append((s, h, w, k, score.astype(np.float32)))

    best = max(range(len(maps)), key=lambda i: float(maps[i][4].max()))
    s, h, w, k, sc = maps[best]
    iy, ix = (int(i) for i in np.unravel_index(int(np.argmax(sc)), sc.shape))
    fy, fx = _subpixel(sc, iy, ix)
    dy, dx = fy - h, fx - w
    # a rival peak must put the visible image's centre elsewhere (> 4 coarse px away) or use a
    # clearly different scale (> 12 %): neighbours of the peak are the same answer
    cx, cy = dx + w / 2, dy + h / 2
    rival = -1.0
    for s2, h2, w2, _, sc2 in maps:
        if abs(np.log(s2 / s)) > 0.12:
            rival = max(rival, float(sc2.max()))
            continue
        yy, xx = np.ogrid[: sc2.shape[0], : sc2.shape[1]]
        far = (xx - w2 / 2 - cx) ** 2 + (yy - h2 / 2 - cy) ** 2 > 4.0 ** 2
        rival = max(rival, float(sc2[far].max()))
    shift = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
    H = np.linalg.inv(_scale_matrix(f_ir, f_ir)) @ shift @ k
    return _Peak(float(sc[iy, ix]), H, rival, s)


def _subpixel(sc: np.ndarray, iy: int, ix: int) -> tuple[float, float]:
    """Parabolic peak interpolation along each axis."""
    y, x = float(iy), float(ix)
    if 0 < ix < sc.shape[1] - 1:
        a, b, c = sc[iy, ix - 1], sc[iy, ix], sc[iy, ix + 1]
        d = a - 2 * b + c
        if d < 0:
            x += 0.5 * (a - c) / d
    if 0 < iy < sc.shape[0] - 1:
        a, b, c = sc[iy - 1, ix], sc[iy, ix], sc[iy + 1, ix]
        d = a - 2 * b + c
        if d < 0:
            y += 0.5 * (a - c) / d
    return y, x
# ---------------------------------------------------------------- stage 2: patch refinement

@dataclass
class _Fit:
    homography: np.ndarray | None  # None when too few patches matched to fit one
    matches: int   # textured patches inside the overlap (each one is matched)
    inliers: int   # of those, how many agree with the fitted homography
    residual: float  # median inlier distance (thermal px)
    vis_pts: np.ndarray | None = None  # inlier correspondences (visible px -> thermal px)
    ir_pts: np.ndarray | None = None


def _warp_visible(vis: np.ndarray, H: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The visible image seen through H (visible -> this thermal resolution), with its valid mask.

    The visible image is first shrunk to about the target scale so the warp does not alias.
    """
    k = float(np.sqrt(abs(np.linalg.det(H[:2, :2]) / H[2, 2] ** 2)))
    small = _resize(vis, min(1.0, k)) if k < 1 else vis
    K = _scale_matrix(small.shape[1] / vis.shape[1], small.shape[0] / vis.shape[0])
    Hs = H @ np.linalg.inv(K)
    warped = cv2.warpPerspective(small, Hs, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full(small.shape, 255, np.uint8), Hs, size, flags=cv2.INTER_NEAREST)
    return warped, mask


def refine_patches(vis: np.ndarray, ir: np.ndarray, H: np.ndarray, res: float, patch: int, radius: int,
                   p: AutoParams, ir_pyramid: dict | None = None) -> _Fit:
    """Match patches of the warped visible image in the thermal one and refit the homography."""
    S = _scale_matrix(res, res) if res != 1 else np.eye(3)
    key = (res, radius)
    if ir_pyramid is not None and key in ir_pyramid:
        (Hd, Wd), Fi = ir_pyramid[key]
    else:
        irs = _resize(ir, res) if res != 1 else ir
        Hd, Wd = irs.shape
        # zero padding: patches near the thermal border can still be searched (on what is there)
        Fi = cv2.copyMakeBorder(_two_channel(orientation_field(irs)), radius, radius, radius, radius,
                                cv2.BORDER_CONSTANT, value=0)
        if ir_pyramid is not None:
            ir_pyramid[key] = ((Hd, Wd), Fi)
    Hr = S @ H
    warped, mask = _warp_visible(vis, Hr, (Wd, Hd))
    valid = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0  # the warp's edge is a false edge
    Fv = _two_channel(orientation_field(warped)) * valid[:, :, None]
    box = (patch, patch)
    coverage = cv2.boxFilter(valid.astype(np.float32), -1, box, normalize=True, borderType=cv2.BORDER_CONSTANT)
    energy = cv2.boxFilter((Fv ** 2).sum(axis=2), -1, box, normalize=True, borderType=cv2.BORDER_CONSTANT)
    src, dst = [], []
    textured = 0
    step = max(4, int(patch * p.patch_step))
    half = patch // 2
    for y in range(0, Hd - patch + 1, step):
        for x in range(0, Wd - patch + 1, step):
            cov = coverage[y + half, x + half]
            # patches mostly inside the visible view, with structure (not sky or bare road)
            if cov < 0.6 or energy[y + half, x + half] < 0.05 * cov:
                continue
            textured += 1
            r = cv2.matchTemplate(Fi[y:y + patch + 2 * radius, x:x + patch + 2 * radius],
                                  Fv[y:y + patch, x:x + patch], cv2.TM_CCOEFF_NORMED)
            _, best, _, (px, py) = cv2.minMaxLoc(r)
            if best < 0.2:
                continue
            fy, fx = _subpixel(r, py, px)
            c = patch / 2 - 0.5
            src.append((x + c, y + c))
            dst.append((x + c + fx - radius, y + c + fy - radius))
    if len(src) < 8:
        return _Fit(None, textured, 0, np.inf)
    # correspondences: visible pixel (through the current estimate) -> full-resolution thermal
    vis_pts = cv2.perspectiveTransform(np.array(src, np.float64).reshape(-1, 1, 2), np.linalg.inv(Hr))
    ir_pts = cv2.perspectiveTransform(np.array(dst, np.float64).reshape(-1, 1, 2), np.linalg.inv(S))
    Hn, inl = cv2.findHomography(vis_pts, ir_pts, cv2.USAC_MAGSAC, p.inlier_px / res,
                                 maxIters=2000, confidence=0.999)
    if Hn is None or inl is None:
        return _Fit(None, textured, 0, np.inf)
    inl = inl.ravel().astype(bool)
    res_px = np.linalg.norm(cv2.perspectiveTransform(vis_pts[inl], Hn) - ir_pts[inl], axis=2)
    return _Fit(Hn / Hn[2, 2], textured, int(inl.sum()), float(np.median(res_px)) if inl.any() else np.inf,
                vis_pts[inl].reshape(-1, 2), ir_pts[inl].reshape(-1, 2))


def corner_spread(fit: _Fit, vis_shape: tuple[int, ...], rounds: int = 7, seed: int = 0) -> float:
    """How far apart (thermal px, mean over the visible image's corners) two homographies fitted
    to disjoint random halves of the agreeing patches put the corners; median over `rounds` splits.

    Noise in the patch matches moves the corners most (they are extrapolated), which the inlier
    count cannot see; half of this spread estimates the full fit's corner error."""
    if fit.vis_pts is None or fit.ir_pts is None or len(fit.vis_pts) < 16:
        return float("inf")
    h, w = vis_shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64).reshape(-1, 1, 2)
    rng = np.random.default_rng(seed)
    spreads = []
    for _ in range(rounds):
        order = rng.permutation(len(fit.vis_pts))
        a, b = order[: len(order) // 2], order[len(order) // 2:]
        Ha, _ = cv2.findHomography(fit.vis_pts[a], fit.ir_pts[a], 0)
        Hb, _ = cv2.findHomography(fit.vis_pts[b], fit.ir_pts[b], 0)
        if Ha is None or Hb is None:
            return float("inf")
        spreads.append(float(np.linalg.norm(cv2.perspectiveTransform(corners, Ha)
                                            - cv2.perspectiveTransform(corners, Hb), axis=2).mean()))
    return float(np.median(spreads))


# ---------------------------------------------------------------- stage 3: judgement

def required_inliers(matches: int, p: AutoParams) -> float:
    """Agreeing patches needed before a fit counts as a registration.

    Under a wrong alignment a fitted homography still explains its 4-point minimal sample plus
    about `chance_ratio` of the rest; demand 3 binomial standard deviations above that, so the
    bar is relatively higher for few patches, where chance agreement is noisier.
    """
    expected = p.chance_ratio * matches
    return 4 + expected + 3 * np.sqrt(expected * (1 - p.chance_ratio))

def perspective_spread(H: np.ndarray, vis_shape: tuple[int, int]) -> float:
    """How much the local scale of H varies over the visible image: max/min - 1 of sqrt|J|.

    A homography whose local area scale changes a lot across the picture is a fold or a
    near-degenerate fit, not two cameras side by side; inf when H folds the image.
    """
    h, w = vis_shape[:2]
    xs, ys = np.meshgrid(np.linspace(0, w - 1, 5), np.linspace(0, h - 1, 5))
    x, y = xs.ravel(), ys.ravel()
    den = H[2, 0] * x + H[2, 1] * y + H[2, 2]
    if np.any(den <= 0) and not np.all(den < 0):
        return float("inf")
    det = np.linalg.det(H)
    jac = det / den ** 3  # Jacobian determinant of a homography
    if np.any(jac * np.sign(det) <= 0):
        return float("inf")
    local = np.sqrt(np.abs(jac))
    return float(local.max() / local.min() - 1.0)


def register_auto(visible: np.ndarray, thermal: np.ndarray, params: AutoParams | None = None) -> AutoResult:
    """Estimate the visible -> thermal homography of one frame pair, or refuse with a reason."""
    p = params or AutoParams()
    vis, ir = to_gray(visible).astype(np.float32), to_gray(thermal).astype(np.float32)
    peak = coarse_search(vis, ir, p)
    stats: dict = {"coarse_score": peak.score, "rival_score": peak.rival,
                   "peak_ratio": peak.score / max(peak.rival, 1e-3), "coarse_scale": peak.scale}
    return _refine_and_judge(vis, ir, peak, p.refine_levels, p, stats)


def refine_auto(visible: np.ndarray, thermal: np.ndarray, H: np.ndarray,
                params: AutoParams | None = None) -> AutoResult:
    """Re-estimate from a known visible -> thermal homography `H` (patch stages only, no global
    search): cheap enough to run on a live camera now and then, and it follows small drifts.
    Judged like `register_auto` except for the global-peak test, which it skips."""
    p = params or AutoParams()
    vis, ir = to_gray(visible).astype(np.float32), to_gray(thermal).astype(np.float32)
    H = np.asarray(H, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(H[:2, :2]))))
    # a sure "peak": the starting point is the camera's accepted registration
    peak = _Peak(1.0, H, 0.0, scale)
    stats: dict = {"coarse_score": None, "rival_score": None, "peak_ratio": float("inf"), "coarse_scale": scale}
    # the half-resolution step is there to catch a coarse start; this start is not coarse
    return _refine_and_judge(vis, ir, peak, p.refine_levels[1:], p, stats)


def _refine_and_judge(vis: np.ndarray, ir: np.ndarray, peak: _Peak, levels: tuple, p: AutoParams,
                      stats: dict) -> AutoResult:
    H = peak.homography
    pyramid: dict = {}
    fit = None
    passed: _Fit | None = None  # the last step whose patches agreed
    for level, (res, patch, radius) in enumerate(levels):
        fit = refine_patches(vis, ir, H, res, patch, radius, p, pyramid)
        stats[f"step{level + 1}"] = f"{fit.inliers}/{fit.matches}"
        if fit.homography is None or fit.inliers < required_inliers(fit.matches, p):
            if passed is not None:
                # a finer step can lose agreement on a soft or noisy pair (upsampled visible,
                # grainy thermal) where the coarser one had it: keep the coarser estimate and
                # judge it on its own patches (all tests still apply to them)
                stats["fell_back_from"] = f"step{level + 1}"
                return _judge(passed, peak, H, vis.shape, ir.shape, p, stats, levels[level - 1][0])
            # a wrong start shows here already (patches disagree): judge the last estimate
            return _judge(fit, peak, H, vis.shape, ir.shape, p, stats)
        H = fit.homography
        passed = fit
    assert fit is not None
    return _judge(fit, peak, H, vis.shape, ir.shape, p, stats)


def _judge(fit: _Fit, peak: _Peak, H: np.ndarray, vis_shape: tuple, ir_shape: tuple, p: AutoParams,
           stats: dict, res: float = 1.0) -> AutoResult:
    """Accept or refuse estimate H given the patch fit that checked it (made at `res` of the
    thermal resolution); confidence is the smallest margin over the tests."""
    # patch matches are as noisy in pixels of their own resolution: the corner spread allowed
    # grows as the resolution shrinks
    max_spread = p.max_corner_spread / res
    spread = perspective_spread(H, vis_shape)
    corners = corner_spread(fit, vis_shape) if fit.homography is not None else float("inf")
    need = required_inliers(fit.matches, p)
    ratio = fit.inliers / max(fit.matches, 1)
    scale = float(np.sqrt(abs(np.linalg.det(H[:2, :2]))))
    fov = scale * vis_shape[1] / ir_shape[1]
    stats.update(matches=fit.matches, inliers=fit.inliers, inlier_ratio=ratio, residual_px=fit.residual,
                 perspective_spread=spread, scale=scale, corner_spread_px=corners)
    strong = fit.inliers >= p.strong_inliers * need
    # each margin is 0.5 at its threshold and 1 at twice the threshold's distance from failing
    margins = {
        "peak_ratio": max((stats["peak_ratio"] - 1.0) / (p.min_peak_ratio - 1.0) / 2,
                          0.5 * fit.inliers / (p.strong_inliers * need) if strong else 0.0),
        "inliers": fit.inliers / need / 2,
        "perspective": 1 - spread / p.max_perspective / 2 if np.isfinite(spread) else 0.0,
        "consensus": 1 - corners / max_spread / 2 if np.isfinite(corners) else 0.0,
    }
    confidence = float(np.clip(min(margins.values()), 0.0, 1.0))
    stats["margins"] = {k: round(float(v), 3) for k, v in margins.items()}
    reasons = []
    if stats["peak_ratio"] < p.min_peak_ratio and not strong:
        reasons.append(f"no distinct global match (best {peak.score:.3f} vs rival {peak.rival:.3f})")
    if fit.inliers < need:
        reasons.append(f"only {fit.inliers} of {fit.matches} textured patches agree with one homography")
    elif not corners <= max_spread:
        reasons.append("no consensus: two halves of the agreeing patches put the image corners "
                       + (f"{corners:.1f} px apart" if np.isfinite(corners) else "nowhere (too few patches)"))
    if not spread <= p.max_perspective:
        reasons.append(f"implausible perspective (local scale varies {spread:.0%})")
    if not p.fov_ratio[0] / 1.15 <= fov <= p.fov_ratio[1] * 1.15:
        reasons.append(f"scale {scale:.3f} outside the searched range")
    if reasons:
        return AutoResult(H, False, min(confidence, 0.49), "; ".join(reasons), stats)
    return AutoResult(H, True, max(confidence, 0.5), "ok", stats)

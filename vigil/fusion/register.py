"""Visible <-> thermal registration: from listed point pairs, or automatically from the images.

Conventions: pixel coordinates with (0, 0) at the centre of the top-left pixel. A
`Registration` holds the homography mapping *visible* pixels to *thermal* pixels (the direction
a calibration target is usually clicked in); the site config stores the other direction
(`ThermalConfig.homography`: thermal -> RGB), which `Registration.thermal_to_visible` and
`Registration.config_homography()` give. The per-frame warp is vigil.sources.paired.ThermalWarp.

Points file (YAML), at least 4 pairs for a homography, 3 for an affine map:

    model: homography          # or affine
    points:
      - {visible: [412.0, 220.5], thermal: [180.2, 101.0]}
      - ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vigil.errors import VigilError
from vigil.fusion.register_auto import AutoParams, register_auto

MODELS = ("homography", "affine")


class RegistrationError(VigilError):
    """Unusable registration input (points file, point pairs, homography)."""


@dataclass
class Registration:
    """A visible -> thermal mapping and how much to trust it.

    `ok` is False when automatic registration refused (then `reason` says why, and
    `visible_to_thermal` is only the rejected best guess, or None).
    """

    visible_to_thermal: np.ndarray | None
    ok: bool
    confidence: float
    method: str  # "points" or "auto"
    reason: str = "ok"
    reprojection_px: np.ndarray | None = None  # per point pair, thermal px (points only)
    stats: dict = field(default_factory=dict)

    @property
    def thermal_to_visible(self) -> np.ndarray | None:
        """The inverse mapping (thermal pixels -> visible pixels), as the site config stores it."""
        return None if self.visible_to_thermal is None else invert_homography(self.visible_to_thermal)

    @property
    def reprojection_rms_px(self) -> float | None:
        r = self.reprojection_px
        return None if r is None else float(np.sqrt(np.mean(r ** 2)))

    def config_homography(self) -> list[list[float]]:
        """Value for `ThermalConfig.homography` (thermal -> RGB); refuses to store a refusal."""
        if not self.ok or self.visible_to_thermal is None:
            raise RegistrationError(f"registration refused ({self.reason}); nothing to store: "
                                    "give point pairs (vigil register VIS IR --points FILE)")
        return [[float(v) for v in row] for row in invert_homography(self.visible_to_thermal)]

    def to_dict(self) -> dict:
        def mat(m):
            return None if m is None else [[round(float(v), 9) for v in row] for row in m]

        out = {"ok": self.ok, "confidence": round(self.confidence, 4), "method": self.method,
               "reason": self.reason, "visible_to_thermal": mat(self.visible_to_thermal),
               "thermal_to_visible": mat(self.thermal_to_visible)}
        rms = self.reprojection_rms_px
        if self.reprojection_px is not None and rms is not None:
            out["reprojection_rms_px"] = round(rms, 4)
            out["reprojection_max_px"] = round(float(self.reprojection_px.max()), 4)
            out["reprojection_px"] = [round(float(v), 4) for v in self.reprojection_px]
        if self.stats:
            # JSON has no inf/nan: a non-finite statistic (e.g. a folding homography) becomes null
            out["stats"] = {k: (None if not np.isfinite(v) else round(v, 4)) if isinstance(v, float) else v
                            for k, v in self.stats.items()}
        return out


def invert_homography(H: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 homography, scaled so that its [2, 2] entry is 1."""
    inv = np.linalg.inv(np.asarray(H, dtype=np.float64))
    return inv / inv[2, 2] if abs(inv[2, 2]) > 1e-12 else inv


def as_homography(value, what: str = "homography") -> np.ndarray:
    """A 3x3 float matrix from a nested list (e.g. `ThermalConfig.homography`), checked."""
    try:
        H = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RegistrationError(f"{what} must be a 3x3 list of numbers") from None
    if H.shape != (3, 3) or not np.all(np.isfinite(H)):
        raise RegistrationError(f"{what} must be a 3x3 list of finite numbers, got shape {H.shape}")
    if abs(np.linalg.det(H)) < 1e-12:
        raise RegistrationError(f"{what} is singular (it maps the image onto a line); re-register the cameras")
    return H


def view_overlap(thermal_to_visible: np.ndarray, visible_size: tuple[int, int],
                 thermal_size: tuple[int, int]) -> tuple[float, float]:
    """How a homography lays the two views over each other: (share of the thermal frame the
    visible frame covers, share of the visible frame the thermal frame covers), each 0..1; sizes
    are (width, height). RegistrationError when the visible frame's corners do not map to a
    convex quadrilateral in front of the thermal camera (no real registration does that)."""
    (vw, vh), (tw, th) = visible_size, thermal_size
    corners = np.array([[0, 0, 1], [vw, 0, 1], [vw, vh, 1], [0, vh, 1]], np.float64)
    mapped = corners @ invert_homography(thermal_to_visible).T
    if np.any(mapped[:, 2] <= 1e-12):
        raise RegistrationError("maps part of the visible frame behind the thermal camera (beyond the horizon)")
    quad = (mapped[:, :2] / mapped[:, 2:]).astype(np.float32)
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        raise RegistrationError("folds the visible frame over itself (its corners map to a crossed shape)")
    frame = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    shared, _ = cv2.intersectConvexConvex(quad, frame)
    return float(shared) / (tw * th), float(shared) / max(float(cv2.contourArea(quad)), 1e-9)


def warp_thermal_to_visible(thermal: np.ndarray, thermal_to_visible: np.ndarray,
                            visible_size: tuple[int, int], border: int = 0) -> np.ndarray:
    """The thermal image resampled into the visible view; `visible_size` is (width, height)."""
    return cv2.warpPerspective(thermal, np.asarray(thermal_to_visible, np.float64), tuple(visible_size),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


# ---------------------------------------------------------------- calibration from points

def calibrate(visible_pts, thermal_pts, model: str = "homography") -> Registration:
    """Least-squares visible -> thermal map from point pairs, with per-pair reprojection error.

    Every pair is trusted (no outlier rejection: clicked points are few and deliberate), so a
    large reprojection error points at a mis-clicked pair; the errors are reported per pair.
    """
    if model not in MODELS:
        raise RegistrationError(f"unknown model {model!r}; use one of: {', '.join(MODELS)}")
    v = np.asarray(visible_pts, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(thermal_pts, dtype=np.float64).reshape(-1, 2)
    need = 4 if model == "homography" else 3
    if len(v) != len(t):
        raise RegistrationError(f"{len(v)} visible points but {len(t)} thermal points; list them in pairs")
    if len(v) < need:
        raise RegistrationError(f"a {model} needs at least {need} point pairs, got {len(v)}; add more pairs")
    for name, pts in (("visible", v), ("thermal", t)):
        if not np.all(np.isfinite(pts)):
            raise RegistrationError(f"{name} points must be finite numbers")
        centred = pts - pts.mean(axis=0)
        sv = np.linalg.svd(centred, compute_uv=False)
        if sv[1] < 1e-6 * max(sv[0], 1.0):
            raise RegistrationError(f"the {name} points lie on one line; spread them over the image")
    if model == "homography":
        H, _ = cv2.findHomography(v, t, 0)  # plain least squares (DLT + refinement) on all pairs
    else:
        H = np.vstack([_affine_lstsq(v, t), [0.0, 0.0, 1.0]])
    if H is None or abs(np.linalg.det(H)) < 1e-12:
        raise RegistrationError("the point pairs do not determine a map (degenerate layout); "
                                "use pairs spread over the image, no three on a line")
    H = H / H[2, 2]
    proj = cv2.perspectiveTransform(v.reshape(-1, 1, 2), H).reshape(-1, 2)
    err = np.linalg.norm(proj - t, axis=1)
    # with exactly the minimum number of pairs the fit is exact and the error says nothing
    conf = 1.0 if len(v) > need else 0.5
    return Registration(H, True, conf, "points", reprojection_px=err,
                        stats={"model": model, "pairs": len(v)})


def _affine_lstsq(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    X = np.hstack([v, np.ones((len(v), 1))])
    sol, *_ = np.linalg.lstsq(X, t, rcond=None)
    return sol.T


def load_points(path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(visible points, thermal points, model) from a points YAML file (see module docstring)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RegistrationError(f"points file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistrationError(f"cannot read points file '{path}': {exc}") from None
    except yaml.YAMLError as exc:
        raise RegistrationError(f"points file '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise RegistrationError(f"points file '{path}' needs a 'points:' list of "
                                "{visible: [x, y], thermal: [x, y]} entries")
    unknown = set(data) - {"points", "model"}
    if unknown:
        raise RegistrationError(f"points file '{path}': unknown key {sorted(unknown)[0]!r}; "
                                "allowed: points, model")
    model = data.get("model", "homography")
    vis, ir = [], []
    for i, item in enumerate(data["points"]):
        try:
            if set(item) != {"visible", "thermal"}:
                raise ValueError
            vx, vy = (float(c) for c in item["visible"])
            tx, ty = (float(c) for c in item["thermal"])
        except (TypeError, ValueError, AttributeError):
            raise RegistrationError(f"points file '{path}': entry {i + 1} must be "
                                    "{visible: [x, y], thermal: [x, y]}") from None
        vis.append((vx, vy))
        ir.append((tx, ty))
    return np.array(vis, np.float64).reshape(-1, 2), np.array(ir, np.float64).reshape(-1, 2), model


def calibrate_file(path: str | Path) -> Registration:
    vis, ir, model = load_points(path)
    return calibrate(vis, ir, model)


# ---------------------------------------------------------------- automatic

def register_images(visible: np.ndarray, thermal: np.ndarray, params: AutoParams | None = None) -> Registration:
    """Automatic registration of one visible frame with one thermal frame (no known points).

    Never raises for images that cannot be registered: the result then has ok=False and a reason.
    """
    for name, img in (("visible", visible), ("thermal", thermal)):
        if img is None or img.ndim not in (2, 3) or min(img.shape[:2]) < 32:
            raise RegistrationError(f"the {name} image is empty or smaller than 32x32 pixels")
    res = register_auto(visible, thermal, params)
    return Registration(res.homography, res.ok, res.confidence, "auto", res.reason, stats=res.stats)


def corner_error_px(H: np.ndarray, H_ref: np.ndarray, visible_shape: tuple[int, ...]) -> float:
    """Mean distance (thermal px) between the visible image's 4 corners mapped by H and by H_ref."""
    h, w = visible_shape[:2]
    c = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64).reshape(-1, 1, 2)
    return float(np.linalg.norm(cv2.perspectiveTransform(c, H) - cv2.perspectiveTransform(c, H_ref),
                                axis=2).mean())


__all__ = ["AutoParams", "MODELS", "Registration", "RegistrationError", "as_homography", "calibrate",
           "calibrate_file", "corner_error_px", "invert_homography", "load_points", "register_images",
           "warp_thermal_to_visible"]

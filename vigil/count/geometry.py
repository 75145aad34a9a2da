"""Vectorised plane geometry for counting (image pixels, x right, y down)."""

from __future__ import annotations

import numpy as np

from vigil.config.site import CameraConfig


def signed_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) distance of each point from the infinite line A->B; positive on the right of A->B
    as seen on screen (cross(B-A, P-A) > 0 with y pointing down)."""
    ab = b - a
    ap = points - a
    return (ab[0] * ap[:, 1] - ab[1] * ap[:, 0]) / np.hypot(ab[0], ab[1])


def crossing_within_segment(p0: np.ndarray, d0: np.ndarray, p1: np.ndarray, d1: np.ndarray,
                            a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) whether the move p0 -> p1, whose ends lie on opposite sides of the line through A and B
    (signed distances d0, d1 of opposite signs), passes through the segment AB itself."""
    t = d0 / (d0 - d1)
    x = p0 + (p1 - p0) * t[:, None]
    ab = b - a
    u = ((x - a) @ ab) / float(ab @ ab)
    return (u >= 0.0) & (u <= 1.0)


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) even-odd ray casting for N points against one (M, 2) polygon, as (N, M) arrays."""
    if len(points) == 0:
        return np.zeros(0, bool)
    x, y = points[:, :1], points[:, 1:]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return ((straddles & (x < x_cross)).sum(axis=1) % 2) == 1


def _inside_length(a: tuple[float, float], b: tuple[float, float], w: float, h: float) -> float:
    """Length of segment AB inside [0, w] x [0, h] (Liang-Barsky clipping)."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0), (dx, w - x0), (-dy, y0), (dy, h - y0)):
        if p == 0:
            if q < 0:
                return 0.0
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    return max(0.0, t1 - t0) * float(np.hypot(dx, dy))


def _area(poly: list[tuple[float, float]]) -> float:
    """Shoelace area (absolute)."""
    if len(poly) < 3:
        return 0.0
    x, y = np.asarray(poly, np.float64).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_to_frame(poly: list[tuple[float, float]], w: float, h: float) -> list[tuple[float, float]]:
    """The polygon cut to [0, w] x [0, h] (Sutherland-Hodgman, one frame edge at a time)."""
    edges = ((0, 0.0, True), (0, w, False), (1, 0.0, True), (1, h, False))  # axis, bound, keep >=
    for axis, bound, keep_ge in edges:
        out: list[tuple[float, float]] = []
        for k, cur in enumerate(poly):
            prev = poly[k - 1]
            cur_in = cur[axis] >= bound if keep_ge else cur[axis] <= bound
            prev_in = prev[axis] >= bound if keep_ge else prev[axis] <= bound
            if cur_in != prev_in:  # the edge crosses the bound: keep the crossing point
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
        poly = out
        if not poly:
            break
    return poly


def outside_frame(camera: CameraConfig, width: int, height: int) -> list[str]:
    """One message per line or zone of `camera` that lies wholly, or mostly (less than half of its
    length or area inside), outside a `width` x `height` frame: e.g. drawn for 640x360 but run on
    320x180 video, which counts nothing without any error. A line that reaches a little past the
    edge (to catch objects cut off by it) is fine. Call it with the camera's first decoded frame.
    Plain arithmetic, no geometry library: it runs on the first frame of every run."""
    out = []
    shapes: list[tuple[str, str, list[tuple[float, float]]]] = [
        ("line", ln.name, [(float(x), float(y)) for x, y in ln.points]) for ln in camera.lines]
    shapes += [("zone", z.name, [(float(x), float(y)) for x, y in z.polygon]) for z in camera.zones]
    for kind, name, pts in shapes:
        if kind == "line":
            size = float(np.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]))
            inside = _inside_length(pts[0], pts[1], width, height)
        else:
            size, inside = _area(pts), _area(_clip_to_frame(pts, width, height))
        if size > 0 and inside >= 0.5 * size:
            continue
        where = "wholly" if inside == 0 else f"mostly ({100 * (1 - inside / size):.0f}%)"
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        minx, miny, maxx, maxy = (round(float(c), 1) for c in (min(xs), min(ys), max(xs), max(ys)))
        out.append(f"camera {camera.id!r}: {kind} {name!r} lies {where} outside the {width}x{height} frame "
                   f"(it spans x {minx}-{maxx}, y {miny}-{maxy}); redraw it in pixels of the {width}x{height} "
                   "video")
    return out

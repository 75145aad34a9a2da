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


def outside_frame(camera: CameraConfig, width: int, height: int) -> list[str]:
    """One message per line or zone of `camera` that lies wholly, or mostly (less than half of its
    length or area inside), outside a `width` x `height` frame: e.g. drawn for 640x360 but run on
    320x180 video, which counts nothing without any error. A line that reaches a little past the
    edge (to catch objects cut off by it) is fine. Call it with the camera's first decoded frame."""
    from shapely import make_valid  # loaded here: loading a config needs no shapely
    from shapely.geometry import LineString, Polygon, box

    frame = box(0, 0, width, height)
    out = []
    shapes = [("line", ln.name, LineString(ln.points)) for ln in camera.lines]
    shapes += [("zone", z.name, make_valid(Polygon(z.polygon))) for z in camera.zones]
    for kind, name, shape in shapes:
        size = shape.length if kind == "line" else shape.area
        inside = frame.intersection(shape)
        inside = inside.length if kind == "line" else inside.area
        if size > 0 and inside >= 0.5 * size:
            continue
        where = "wholly" if inside == 0 else f"mostly ({100 * (1 - inside / size):.0f}%)"
        minx, miny, maxx, maxy = (round(c, 1) for c in shape.bounds)
        out.append(f"camera {camera.id!r}: {kind} {name!r} lies {where} outside the {width}x{height} frame "
                   f"(it spans x {minx}-{maxx}, y {miny}-{maxy}); redraw it in pixels of the {width}x{height} "
                   "video")
    return out

"""Camera coordinates -> pixels of the decoded video, on its first frame.

Lines, zones, masks and ground points may be drawn in pixels of the video (the default), in
pixels of a `reference_size` (scaled to whatever resolution arrives: the main stream or the
sub-stream), or relative (0-1). A stream whose aspect ratio differs from reference_size would
put every line in the wrong place, so that is one clear error instead of silently wrong counts."""

from __future__ import annotations

import math

from vigil.config.site import CameraConfig
from vigil.errors import ConfigError

ASPECT_TOLERANCE = 0.01  # 1280x720 vs 640x360 is exact; 1920x1080 vs 704x396 (sub-streams) is 0.0%


def scale_of(camera: CameraConfig, width: int, height: int) -> tuple[float, float] | None:
    """(sx, sy) from the camera's coordinates to pixels of a width x height frame; None when they
    are pixels already. ConfigError when the frame's aspect ratio is not reference_size's."""
    if camera.coordinates == "relative":
        return float(width), float(height)
    if camera.reference_size is None:
        return None
    rw, rh = camera.reference_size
    if abs((width / height) / (rw / rh) - 1) > ASPECT_TOLERANCE:
        raise ConfigError(f"camera {camera.id!r}: the video is {width}x{height} (aspect {width / height:.3f}) but "
                          f"reference_size is {rw}x{rh} (aspect {rw / rh:.3f}); its lines and zones would land in "
                          "the wrong place. Use the stream the points were drawn on, or redraw them and set "
                          "reference_size to this stream's size")
    if (rw, rh) == (width, height):
        return None
    return width / rw, height / rh


def to_pixels(camera: CameraConfig, width: int, height: int) -> CameraConfig:
    """The camera with every point, distance and area in pixels of a width x height frame."""
    s = scale_of(camera, width, height)
    if s is None:
        return camera
    sx, sy = s
    lin, area = math.sqrt(sx * sy), sx * sy

    def pts(points):
        return [(x * sx, y * sy) for x, y in points]

    def filt(shape):
        return {k: (None if getattr(shape, k) is None else getattr(shape, k) * area) for k in ("min_area", "max_area")}

    lines = [ln.model_copy(update={"points": tuple(pts(ln.points)), "min_distance": ln.min_distance * lin,
                                   **filt(ln)}) for ln in camera.lines]
    zones = [z.model_copy(update={"polygon": pts(z.polygon), **filt(z)}) for z in camera.zones]
    ground = None if camera.ground is None else camera.ground.model_copy(update={"image": pts(camera.ground.image)})
    return camera.model_copy(update={"lines": lines, "zones": zones, "masks": [pts(m) for m in camera.masks],
                                     "ground": ground, "coordinates": "pixels", "reference_size": (width, height)})

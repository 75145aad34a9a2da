"""The ground plane of a camera, for speeds: four image points and where they are in metres
(a rectangle of lane markings measured on site or on a map), as cv2.getPerspectiveTransform takes them."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from vigil.config.base import Strict
from vigil.config.geometry import Point

Metre = Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)]


def _quad(v: list, what: str) -> list:
    """Four points of which no three are on one line (else the transform is undefined)."""
    if len(v) != 4:
        raise ValueError(f"ground.{what} needs exactly 4 points, got {len(v)}")
    for i in range(4):
        (x0, y0), (x1, y1), (x2, y2) = (v[j] for j in range(4) if j != i)
        if abs((x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)) < 1e-9:
            raise ValueError(f"ground.{what}: three of the four points lie on one line; give the corners of "
                             "a quadrilateral")
    return v


class GroundConfig(Strict):
    """`image`: 4 points in the camera's coordinates (pixels, relative or reference_size, like the
    lines); `world`: the same 4 points on the ground in metres (any origin, x/y at right angles).
    Speeds come from the track's ground point (bottom centre of its box) mapped through them."""

    image: Annotated[list[Point], AfterValidator(lambda v: _quad(v, "image"))] = Field(
        description="[[x, y], x4] in the camera's coordinates, points on the road surface")
    world: Annotated[list[tuple[Metre, Metre]], AfterValidator(lambda v: _quad(v, "world"))] = Field(
        description="[[x, y], x4] the same points on the ground, in metres")
    speed_window_s: float = Field(default=1.0, gt=0.0, le=10.0,
                                  description="seconds of the track's motion, ending at the crossing, that "
                                              "its speed is measured over (frame times, not frame counts)")
    max_speed_kmh: float = Field(default=300.0, gt=0.0, description="faster is a tracking error; no speed "
                                                                    "is given then")

    @model_validator(mode="after")
    def _in_order(self):
        # Points listed across the shape (a bow tie) give a transform that folds the road over.
        for what, pts in (("image", self.image), ("world", self.world)):
            turns = [(pts[(i + 1) % 4][0] - pts[i][0]) * (pts[(i + 2) % 4][1] - pts[(i + 1) % 4][1])
                     - (pts[(i + 1) % 4][1] - pts[i][1]) * (pts[(i + 2) % 4][0] - pts[(i + 1) % 4][0])
                     for i in range(4)]
            if not (all(t > 0 for t in turns) or all(t < 0 for t in turns)):
                raise ValueError(f"ground.{what}: the 4 points are not the corners of a convex quadrilateral "
                                 "in order; list them around it, in the same order in image and world")
        return self

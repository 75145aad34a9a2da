"""Counting geometry in camera pixels: lines and polygon zones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vigil.config.base import Strict

Point = tuple[float, float]
Anchor = Literal["bottom_center", "center", "top_center", "top_left", "top_right", "bottom_left", "bottom_right"]


def _check_point(p: Point) -> Point:
    x, y = p
    if x < 0 or y < 0:
        raise ValueError(f"point {list(p)} has a negative coordinate; use pixel coordinates >= 0")
    return p


class LineConfig(Strict):
    """A counting line from A to B. `in_side` names the side of the A->B vector
    (as seen on screen, y pointing down) that a track enters when it counts as "in"."""

    name: str = Field(min_length=1, description="line name, unique within the camera")
    points: tuple[Point, Point] = Field(description="[[x1, y1], [x2, y2]] in pixels")
    in_side: Literal["left", "right"] = Field(
        default="right", description="crossing onto this side of A->B is 'in', the other way is 'out'")
    anchor: Anchor = "bottom_center"
    min_distance: float = Field(default=0.0, ge=0, description="pixels past the line before a crossing counts")
    min_frames: int = Field(default=1, ge=1, description="frames on the new side before a crossing counts")
    policy: Literal["once", "every"] = Field(
        default="once", description="'once': each track counts once per direction; 'every': every crossing")

    @field_validator("points")
    @classmethod
    def _points(cls, v):
        a, b = (_check_point(p) for p in v)
        if a == b:
            raise ValueError(f"line points {list(a)} and {list(b)} are the same; give two distinct points")
        return (a, b)


class ZoneConfig(Strict):
    name: str = Field(min_length=1)
    polygon: list[Point] = Field(description="[[x, y], ...] at least 3 points, in pixels")
    anchor: Anchor = "bottom_center"

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v):
        if len(v) < 3:
            raise ValueError(f"a zone polygon needs at least 3 points, got {len(v)}")
        for p in v:
            _check_point(p)
        xs, ys = [p[0] for p in v], [p[1] for p in v]
        area = 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(v))))
        if area <= 0:
            raise ValueError("zone polygon has zero area; its points are collinear")
        return v

"""Counting config: lines and polygon zones (camera pixels), and the counter's track-keeping knobs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from vigil.config.base import Strict
from vigil.config.filters import ObjectFilter

# No camera is 100k pixels wide: a bigger coordinate is a typo (or 1e308), and would count nothing.
MAX_COORD = 100_000.0


def _pixel(v: float) -> float:
    if v < 0:
        raise ValueError(f"negative coordinate {v:g}; use pixel coordinates >= 0 (x right, y down)")
    if v > MAX_COORD:
        raise ValueError(f"coordinate {v:g} is beyond {MAX_COORD:g} pixels; use pixels of the camera's video")
    return v


Coord = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_pixel)]
Point = tuple[Coord, Coord]
Anchor = Literal["bottom_center", "center", "top_center", "top_left", "top_right", "bottom_left", "bottom_right"]

ANCHOR_HELP = ("point of the box that is tested: bottom_center (where feet/wheels touch the ground), "
               "center, top_center or a corner (top_left, top_right, bottom_left, bottom_right)")


def check_polygon(v: list, what: str = "a zone polygon") -> list:
    if len(v) < 3:
        raise ValueError(f"{what} needs at least 3 points, got {len(v)}")
    xs, ys = [p[0] for p in v], [p[1] for p in v]
    area = 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(v))))
    if area <= 0:
        raise ValueError(f"{what} has zero area; its points are collinear")
    return v


Polygon = Annotated[list[Point], AfterValidator(lambda v: check_polygon(v, "a polygon"))]

# Screen directions (x right, y down) a track may move in to count "in".
DIRECTION_VECTORS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


def side_for_direction(a, b, direction: str) -> Literal["left", "right"]:
    """The in_side of line A->B that a track moving `direction` on screen crosses onto; ValueError
    when the line runs along that direction rather than across it (more than 45 degrees off)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    mx, my = DIRECTION_VECTORS[direction]
    cross = dx * my - dy * mx  # > 0: the motion goes onto the right of A->B (y down)
    if abs(cross) < 0.7071 * (dx * dx + dy * dy) ** 0.5:
        across = "left-right" if direction in ("up", "down") else "up-down"
        raise ValueError(f"in_direction {direction!r} needs a line that runs mostly {across}, across the "
                         "motion; this line runs along it. Use the other axis or in_side")
    return "right" if cross > 0 else "left"


class LineConfig(ObjectFilter):
    """A counting line: the segment from A to B in image pixels (x right, y down).

    Which crossing is "in": `in_side` names the side of the A->B direction, as seen on screen,
    that a track moves *onto* when it counts as "in". Stand on A looking at B: "right" is your
    right hand on the screen. Example: A=[0, 300], B=[640, 300] (a horizontal line drawn left to
    right); in_side "right" is below the line, so a car driving down the image counts "in".
    Swap A and B, or flip in_side, to reverse the directions.

    `in_direction` (up, down, left, right: the on-screen motion that counts "in") is the plain
    alternative for a line that runs mostly across that motion; it sets in_side.

    A crossing counts when the anchor's path between two consecutive positions of a track passes
    through the segment (so fast objects that jump over the line still count, and crossings beyond
    A or B do not), and then the anchor is at least `min_distance` pixels past the line on
    `min_frames` consecutive frames (hysteresis against jitter on the line). With `min_distance` > 0
    a track's starting side is only known once it has been that far from the line on one side.
    """

    name: str = Field(min_length=1, description="line name, unique within the camera")
    points: tuple[Point, Point] = Field(description="[[xA, yA], [xB, yB]] in pixels")
    in_side: Literal["left", "right"] = Field(
        default="right", description="side of A->B (on screen, y down) that a track crosses onto for 'in'; "
                                     "the opposite crossing is 'out'")
    in_direction: Literal["up", "down", "left", "right"] | None = Field(
        default=None, description="instead of in_side: the on-screen direction of travel that counts 'in' "
                                  "(for a line running across it)")
    anchor: Anchor = Field(default="bottom_center", description=ANCHOR_HELP)
    min_distance: float = Field(default=0.0, ge=0, description="pixels past the line (on both sides) "
                                                               "before a side counts; 0 = any distance")
    min_frames: int = Field(default=1, ge=1, description="consecutive analysed frames (after frame_stride) "
                                                         "on the new side before a crossing counts")
    policy: Literal["once", "every"] = Field(
        default="once", description="'once': each track counts at most once per direction; 'every': every crossing")

    @field_validator("points")
    @classmethod
    def _points(cls, v):
        a, b = v
        if a == b:
            raise ValueError(f"line points {list(a)} and {list(b)} are the same; give two distinct points")
        return (a, b)

    @model_validator(mode="after")
    def _direction(self):
        if self.in_direction is not None:
            side = side_for_direction(self.points[0], self.points[1], self.in_direction)
            # Both may come back from the editor (it shows in_side); only a disagreement is a mistake.
            if "in_side" in self.model_fields_set and self.in_side != side:
                raise ValueError(f"line {self.name!r} has both in_side and in_direction, and they disagree "
                                 f"(in_direction {self.in_direction} means in_side {side}); give one of them")
            self.in_side = side
            self.model_fields_set.discard("in_side")  # derived, not given: a re-validation must not see it as given
        return self


class ZoneConfig(ObjectFilter):
    """A polygon zone in image pixels. A track is inside when its anchor is inside the polygon
    (on `min_frames` consecutive frames, to ignore jitter along the edge). Each visit emits an
    entry ('in') and an exit ('out', with the dwell time in seconds); a track lost while inside
    exits when the counter forgets it (see CountingConfig.lost_after_s), dwell up to its last sighting."""

    name: str = Field(min_length=1, description="zone name, unique within the camera")
    polygon: list[Point] = Field(description="[[x, y], ...] at least 3 points, in pixels")
    anchor: Anchor = Field(default="bottom_center", description=ANCHOR_HELP)
    min_frames: int = Field(default=1, ge=1, description="consecutive analysed frames inside (or outside) "
                                                         "before an entry (or exit) counts")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v):
        return check_polygon(v)


class CountingConfig(Strict):
    """How the counter keeps track state (a `counting:` section of a pipeline)."""

    lost_after_s: float = Field(
        default=5.0, gt=0, description="a track not reported for this many seconds is forgotten: its zone "
                                       "visits end (exit with dwell) and its state is freed. Keep it above "
                                       "the tracker's max_lost_seconds, or a recovered track counts again")
    reid_dedup: bool = Field(default=True, description="let a new track inherit a recently lost track's "
                                                       "crossing and zone state when their re-ID embeddings "
                                                       "match (needs re-ID in the pipeline)")
    reid_max_gap_s: float = Field(default=3.0, gt=0, description="longest time between the old track's last "
                                                                 "sighting and the new track's first")
    reid_max_distance: float = Field(default=2.0, gt=0, description="how far (in heights of the old box) "
                                                                    "the new track may start from where the "
                                                                    "old one was, or was heading")
    # OSNet x0.25 (MSMT17) on the shared people clip: one person across frames 0.87-0.99, different
    # people 0.48-0.71, but 0.89 for two men in black seen from behind: the time and place gates matter.
    reid_min_similarity: float = Field(default=0.75, ge=-1, le=1, description="minimum cosine similarity "
                                                                             "of the two tracks' embeddings")

    @model_validator(mode="after")
    def _gap_within_memory(self):
        if self.reid_max_gap_s > self.lost_after_s:
            raise ValueError(f"reid_max_gap_s ({self.reid_max_gap_s}) is longer than lost_after_s "
                             f"({self.lost_after_s}); a lost track is forgotten before re-ID could bridge it, "
                             "so raise lost_after_s or lower reid_max_gap_s")
        return self

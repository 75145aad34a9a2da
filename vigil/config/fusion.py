"""RGB-thermal section of a camera (owned by the fusion stage)."""

from typing import Literal

from pydantic import Field, field_validator

from vigil.config.base import StartTime, Strict

# The names vigil.fusion.fuse.METHODS implements, plus "default" (a test keeps the two in step):
# config checks names without importing the fusion code.
FUSION_METHODS = ("default", "average", "laplacian", "gff", "gffs", "msd", "hmsd", "hybrid_msd")


class ThermalConfig(Strict):
    """A thermal source paired with the camera's RGB source."""

    source: str = Field(description="thermal file, URL or image folder (relative to the site config)")
    mode: Literal["rgb", "thermal", "fused", "auto"] = Field(
        default="fused", description="what the detector sees; 'auto' = RGB when the RGB frame is bright, "
                                      "thermal when it is dark, fused in between, corrected by what the "
                                      "detector finds on each (probe_every)")
    method: str = Field(default="default", description="fusion method name (vigil fuse --help lists them)")
    homography: list[list[float]] | None = Field(
        default=None, description="3x3 matrix mapping thermal pixels to RGB pixels; estimated when absent "
                                  "(`vigil register VIS IR` prints one)")
    refine_every: int = Field(default=0, ge=0,
                              description="thermal frames between refinements of the registration (0: estimate "
                                          "once); a refinement follows slow drift and refuses jumps, ~0.3 s CPU")
    max_time_delta: float = Field(default=0.05, gt=0, description="seconds; RGB/thermal frames further apart "
                                                                  "are not paired (and are counted)")
    start_time: StartTime | None = Field(
        default=None, description="absolute time of the thermal file's first frame (ISO 8601); "
                                  "default: the RGB source's start time (both recordings start together)")
    fps: float | None = Field(default=None, gt=0, description="frame rate of an image-folder thermal source; "
                                                              "default: the RGB stream's")
    # Defaults measured with `vigil eval fusion --detections` (docs/fusion.md): the thresholds
    # under which the detector found most on 21 development pairs (41 pairs, 3 light levels).
    dark_threshold: float = Field(default=55.0, ge=0, le=255,
                                  description="mode auto: mean RGB brightness (0-255) below which the "
                                              "detector sees the thermal frame instead of the fused one")
    bright_threshold: float = Field(default=60.0, ge=0, le=255,
                                    description="mode auto: mean RGB brightness (0-255) at or above which the "
                                                "detector sees the plain RGB frame (daylight)")

    probe_every: int = Field(
        default=50, ge=0,
        description="mode auto: paired frames between probes, when the detector also sees the two inputs "
                    "auto did not choose and auto moves to one that finds clearly more (0: brightness "
                    "thresholds only); a change of light probes at once. Each probe costs two extra "
                    "detector images")

    @field_validator("homography")
    @classmethod
    def _three_by_three(cls, v):
        if v is not None and (len(v) != 3 or any(len(row) != 3 for row in v)):
            raise ValueError("homography must be a 3x3 list of numbers, e.g. [[1,0,0],[0,1,0],[0,0,1]]")
        return v

    @field_validator("method")
    @classmethod
    def _known_method(cls, v):
        if v.lower() not in FUSION_METHODS and v != "":
            raise ValueError(f"unknown fusion method {v!r}; use one of: {', '.join(FUSION_METHODS)}")
        return v

"""RGB-thermal section of a camera (owned by the fusion stage)."""

from typing import Literal

from pydantic import Field

from vigil.config.base import Strict


class ThermalConfig(Strict):
    """A thermal source paired with the camera's RGB source."""

    source: str = Field(description="thermal file, URL or image folder (relative to the site config)")
    mode: Literal["rgb", "thermal", "fused", "auto"] = Field(
        default="fused", description="what the detector sees; 'auto' = fused, thermal when the RGB frame is dark")
    method: str = Field(default="default", description="fusion method name")
    homography: list[list[float]] | None = Field(
        default=None, description="3x3 matrix mapping thermal pixels to RGB pixels; estimated when absent")
    max_time_delta: float = Field(default=0.05, gt=0, description="seconds; RGB/thermal frames further apart "
                                                                  "are not paired (and are counted)")

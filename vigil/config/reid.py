"""Re-ID section of a pipeline (owned by the re-ID stage)."""

from pydantic import Field

from vigil.config.base import Strict


class ReidConfig(Strict):
    weights: str = Field(description="torchreid-format OSNet checkpoint (path or name in $VIGIL_MODELS)")
    model: str = Field(default="osnet_x0_25", description="architecture: osnet_x1_0, osnet_x0_75, osnet_x0_5, osnet_x0_25")

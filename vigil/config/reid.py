"""Re-ID section of a pipeline (owned by the re-ID stage)."""

from typing import Annotated, Literal

from pydantic import Field

from vigil.config.base import Strict

# Names as torchreid spells them; vigil.reid.osnet.ARCHITECTURES builds each (a test keeps the two in step).
OsnetName = Literal["osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
                    "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25"]

_Side = Annotated[int, Field(ge=32, le=1024)]


class ReidConfig(Strict):
    weights: str = Field(description="torchreid-format OSNet checkpoint (path or name in $VIGIL_MODELS)")
    model: OsnetName | Literal["auto"] = Field(
        default="osnet_x0_25",
        description="architecture: osnet_x1_0, osnet_x0_75, osnet_x0_5, osnet_x0_25 (also osnet_ibn_x1_0, "
                    "osnet_ain_x*); 'auto' reads it from the checkpoint's shapes")
    device: str = Field(default="auto", description="'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1'")
    engine: Literal["auto", "openvino", "torch"] = Field(
        default="auto", description="'auto': OpenVINO on a CPU when installed (converted once, cached with the "
                                    "detector's exports), else PyTorch; 'openvino' or 'torch' to insist")
    half: Literal["auto", True, False] = Field(
        default="auto", description="fp16 on CUDA ('auto' = on CUDA only); on OpenVINO true means bf16 (faster, "
                                    "embeddings move by up to 0.01 in cosine), else f32")
    batch_size: int = Field(default=64, ge=1, le=1024, description="crops per forward pass")
    input_size: tuple[_Side, _Side] = Field(default=(256, 128),
                                            description="crop size fed to the network: height, width")
    min_crop_size: int = Field(default=2, ge=1, le=64,
                               description="boxes narrower or shorter than this (pixels, after clipping to the "
                                           "frame) get a zero embedding instead of a crop")
    refresh_seconds: float | None = Field(
        default=1.0, ge=0,
        description="embed only the detections that need it: births, lost tracks found again, crowds, and "
                    "each plainly tracked object once per this many seconds; null or 0 embeds every "
                    "detection on every frame")

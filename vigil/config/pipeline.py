"""Pipeline config (`pipelines/*.yaml`): how to analyse, independent of the site."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vigil.config.base import Strict
from vigil.config.geometry import CountingConfig
from vigil.config.reid import ReidConfig
from vigil.config.tracker import TrackerConfig
from vigil.types import CLASS_NAMES


class DetectorConfig(Strict):
    weights: str = Field(description="weights file: path (relative to the pipeline file), or a name "
                                     "found in $VIGIL_MODELS or ~/.cache/vigil")
    imgsz: int = Field(default=640, ge=32, le=4096, description="inference size in pixels")
    confidence: float = Field(default=0.25, ge=0.0, le=1.0, description="minimum detection confidence")
    iou: float = Field(default=0.7, gt=0.0, le=1.0, description="NMS IoU threshold")
    classes: list[str] | dict[str | int, str] = Field(
        default_factory=lambda: list(CLASS_NAMES),
        description="Vigil classes kept (" + ", ".join(CLASS_NAMES) + "), or a mapping of the model's own "
                    "labels (or class indices) to Vigil classes, for a model trained on other labels "
                    "(e.g. {lorry: truck, van: car}); labels not mapped are dropped")
    device: str = Field(default="auto", description="'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1'")
    engine: Literal["auto", "openvino", "onnxruntime", "tensorrt", "torch"] = Field(
        default="auto", description="inference engine; 'auto' = the fastest this machine has for the weights: "
                                    "TensorRT (else PyTorch fp16) on an NVIDIA GPU, OpenVINO (else onnxruntime) on a "
                                    "CPU; a .pt is exported once for the engine and cached")
    half: Literal["auto", True, False] = Field(default="auto", description="reduced precision: fp16 on CUDA, bf16 "
                                               "on OpenVINO where the CPU has it; 'auto' = wherever it is fast")
    batch: int = Field(default=8, ge=1, le=256, description="frames per detector call")
    workers: int = Field(default=0, ge=0, le=64,
                         description="ONNX on CPU: frames inferred in parallel, one single-threaded session each; "
                                     "OpenVINO: inference threads; 0 = one per core")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        if isinstance(v, dict):
            if not v:
                raise ValueError("classes is an empty mapping; map at least one model label to one of "
                                 + ", ".join(CLASS_NAMES))
            v = {str(k).strip(): c for k, c in v.items()}
            if "" in v:
                raise ValueError("classes maps an empty label; give the model's label (or class index)")
            bad = [c for c in v.values() if c not in CLASS_NAMES]
            if bad:
                raise ValueError(f"classes maps a label to {bad[0]!r}, not a Vigil class; choose from "
                                 + ", ".join(CLASS_NAMES))
            return v
        bad = [c for c in v if c not in CLASS_NAMES]
        if bad:
            raise ValueError(f"unknown class {bad[0]!r}; choose from {', '.join(CLASS_NAMES)}")
        if not v:
            raise ValueError("classes is empty; keep at least one of " + ", ".join(CLASS_NAMES))
        return v


    @property
    def kept_classes(self) -> list[str]:
        """The Vigil classes this detector reports."""
        if isinstance(self.classes, dict):
            return [c for c in CLASS_NAMES if c in self.classes.values()]
        return list(self.classes)

    @property
    def label_map(self) -> dict[str, str] | None:
        """Model label (or class index) -> Vigil class, when the config gives a mapping."""
        return {str(k): c for k, c in self.classes.items()} if isinstance(self.classes, dict) else None


class PipelineConfig(Strict):
    name: str = ""
    detector: DetectorConfig
    frame_stride: int = Field(default=1, ge=1, description="analyse every Nth decoded frame")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    reid: ReidConfig | None = Field(default=None, description="appearance embeddings for tracking; off when absent")
    counting: CountingConfig = Field(default_factory=CountingConfig,
                                     description="how the counter forgets lost tracks and bridges id switches")

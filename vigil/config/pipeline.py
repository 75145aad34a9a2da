"""Pipeline config (`pipelines/*.yaml`): how to analyse, independent of the site."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from vigil.classes import DEFAULT_VOCAB, STOCK_FILTER_GROUPS, ClassVocab, bad_name, canonical
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
                    "labels (or class indices) to class names, for a model trained on other labels: onto "
                    "Vigil's classes ({lorry: truck}) or new ones ({forklift: forklift, person: pedestrian}); "
                    "labels not mapped are dropped")
    groups: dict[str, str] = Field(
        default_factory=dict,
        description="group of a class (e.g. {forklift: vehicle}): id switches are only stitched within a "
                    "group, and a line/zone filter may name the group; default: vehicle for Vigil's "
                    "vehicles, a new class is its own group")
    device: str = Field(default="auto", description="'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1'")
    engine: Literal["auto", "openvino", "onnxruntime", "tensorrt", "torch"] = Field(
        default="auto", description="inference engine; 'auto' = the fastest this machine has for the weights: "
                                    "TensorRT (else PyTorch fp16) on an NVIDIA GPU, OpenVINO (else onnxruntime) on a "
                                    "CPU; a .pt is exported once for the engine and cached")
    half: Literal["auto", True, False] = Field(default="auto", description="reduced precision: fp16 on CUDA, bf16 "
                                               "on OpenVINO where the CPU has it; 'auto' = wherever it is fast")
    batch: int = Field(default=8, ge=1, le=256, description="frames per detector call")
    int8_calibrate: str | None = Field(
        default=None, description="OpenVINO, .pt weights: a video of the site (relative to the pipeline file); the "
                                  "model is quantised to int8 (NNCF) on its frames once, cached, and run in int8: "
                                  "about 1.4x faster than bf16 on a CPU with VNNI. Off when absent")
    int8_frames: int = Field(default=300, ge=10, le=1000, description="frames of int8_calibrate to calibrate on")
    workers: int = Field(default=0, ge=0, le=64,
                         description="ONNX on CPU: frames inferred in parallel, one single-threaded session each; "
                                     "OpenVINO: inference threads; 0 = one per core")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        if isinstance(v, dict):
            if not v:
                raise ValueError("classes is an empty mapping; map at least one model label to a class, e.g. "
                                 "{forklift: forklift} or {person: pedestrian}")
            v = _folded(v, "classes maps label")
            if "" in v:
                raise ValueError("classes maps an empty label; give the model's label (or class index)")
            for c in v.values():
                why = bad_name(c) or _group_name(c)
                if why:
                    raise ValueError(f"classes maps a label to {why}")
            return v
        v = [canonical(c) for c in v]
        bad = [c for c in v if c not in CLASS_NAMES]
        if bad:
            raise ValueError(f"unknown class {bad[0]!r}; choose from {', '.join(CLASS_NAMES)}, or map the "
                             f"model's label to a new class: classes: {{<label>: {bad[0]}}}")
        if not v:
            raise ValueError("classes is empty; keep at least one of " + ", ".join(CLASS_NAMES))
        return v

    @field_validator("groups")
    @classmethod
    def _fold_groups(cls, v):
        return _folded(v, "groups names class")

    @model_validator(mode="after")
    def _groups(self):
        kept = self.kept_classes
        for c, g in self.groups.items():
            if c not in kept:
                raise ValueError(f"groups names class {c!r}, which detector.classes does not produce "
                                 f"({', '.join(kept)}); remove it or map a label to it")
            if c in CLASS_NAMES:  # regrouping car would silently empty every `vehicle` filter of it
                raise ValueError(f"groups names {c!r}, one of Vigil's own classes, whose group is fixed; "
                                 "groups is for new classes only")
            why = bad_name(g)
            if why:
                raise ValueError(f"groups: {c}: {why}")
            if g in STOCK_FILTER_GROUPS:  # those filter groups are fixed sets of stock classes
                raise ValueError(f"groups puts {c!r} in {g!r}, a fixed filter group of "
                                 f"{', '.join(STOCK_FILTER_GROUPS[g])}; use vehicle or a new group name")
            if g != c and g in self.vocabulary.names:
                raise ValueError(f"groups puts {c!r} in {g!r}, which is a class, not a group; use vehicle or "
                                 "a new group name")
        return self

    @property
    def kept_classes(self) -> list[str]:
        """The classes this detector reports, in vocabulary order."""
        if isinstance(self.classes, dict):
            mapped = set(self.classes.values())
            return [c for c in self.vocabulary.names if c in mapped]
        return list(self.classes)

    @property
    def vocabulary(self) -> ClassVocab:
        """The pipeline's class vocabulary: Vigil's six, then new classes named by the mapping."""
        new = self.classes.values() if isinstance(self.classes, dict) else ()
        return ClassVocab.build(new, self.groups)

    @property
    def label_map(self) -> dict[str, str] | None:
        """Model label (or class index) -> class name, when the config gives a mapping."""
        return {str(k): c for k, c in self.classes.items()} if isinstance(self.classes, dict) else None


def _folded(mapping: dict, what: str) -> dict[str, str]:
    """A name -> name mapping with both sides in canonical (lower) case; two keys that differ only
    by case would silently collapse into one, so they are refused naming both."""
    out: dict[str, str] = {}
    written: dict[str, str] = {}
    for k, c in mapping.items():
        key = canonical(k)
        if key in out:
            raise ValueError(f"{what} {written[key]!r} and {str(k).strip()!r}, which differ only by case; "
                             "class names and model labels are case-insensitive, so keep one of them")
        out[key], written[key] = canonical(c), str(k).strip()
    return out


def _group_name(name: str) -> str | None:
    """Why a class may not take this name: it already names a filter group."""
    if name in DEFAULT_VOCAB.filter_groups:
        return (f"{name!r}, which is a group of classes; name the new class otherwise "
                f"(e.g. {name}_x) or map the label to one of " + ", ".join(CLASS_NAMES))
    return None


class PipelineConfig(Strict):
    name: str = ""
    detector: DetectorConfig
    frame_stride: int = Field(default=1, ge=1, description="analyse every Nth decoded frame")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    reid: ReidConfig | None = Field(default=None, description="appearance embeddings for tracking; off when absent")
    counting: CountingConfig = Field(default_factory=CountingConfig,
                                     description="how the counter forgets lost tracks and bridges id switches")

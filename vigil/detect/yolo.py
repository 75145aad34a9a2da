"""The detector: any ultralytics-loadable YOLO (.pt, .onnx, .tflite, .engine, ...) run on
batches of frames, with COCO classes mapped to Vigil's classes.

Preprocessing (letterbox) is done once per batch in numpy, the float conversion on the
inference device, and the model is called through ultralytics' AutoBackend directly:
the generic predictor re-checks arguments and copies frames on every call.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vigil.config.pipeline import DetectorConfig
from vigil.detect.device import pick_device, use_half
from vigil.detect.letterbox import letterbox_batch
from vigil.errors import ConfigError, VigilError
from vigil.types import CLASS_IDS, COCO_TO_VIGIL, Detections
from vigil.weights import resolve_weights

# Model class names that mean a Vigil class (COCO's names plus Vigil's own).
NAME_TO_VIGIL = {"person": "pedestrian", "pedestrian": "pedestrian", "people": "pedestrian",
                 "bicycle": "bicycle", "car": "car", "motorcycle": "motorcycle", "motorbike": "motorcycle",
                 "bus": "bus", "truck": "truck"}


def class_lookup(names: dict[int, str]) -> np.ndarray:
    """Array mapping model class index -> Vigil class id (-1 = not a Vigil class).

    By name when the model carries real names, by COCO index when it carries none."""
    n = max(names) + 1 if names else 80
    lut = np.full(max(n, 80), -1, dtype=np.int32)
    named = any(not str(v).startswith("class") for v in names.values())
    if named:
        for i, name in names.items():
            vigil = NAME_TO_VIGIL.get(str(name).lower())
            if vigil is not None:
                lut[i] = CLASS_IDS[vigil]
    else:
        for coco, vigil in COCO_TO_VIGIL.items():
            lut[coco] = vigil
    return lut


@dataclass
class StageTimes:
    """Accumulated seconds per detector step, for benchmarks."""

    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0
    frames: int = 0
    calls: int = 0

    def as_ms_per_frame(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {k: 1000 * getattr(self, k) / n for k in ("preprocess", "inference", "postprocess")}


@dataclass
class YoloDetector:
    weights: Path
    imgsz: int = 640
    confidence: float = 0.25
    iou: float = 0.7
    classes: list[str] = field(default_factory=lambda: list(CLASS_IDS))
    device: str = "auto"
    half: bool | str = "auto"
    batch: int = 8

    def __post_init__(self) -> None:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        from ultralytics.nn.autobackend import AutoBackend

        self.torch_device = pick_device(self.device)
        self.fp16 = use_half(self.half, self.torch_device)
        try:
            self.backend = AutoBackend(str(self.weights), device=self.torch_device, fp16=self.fp16, verbose=False)
        except Exception as exc:  # ultralytics raises many types for unreadable files
            raise VigilError(f"cannot load detector weights '{self.weights}': {str(exc).splitlines()[0]}; "
                             "give an ultralytics-loadable file (.pt, .onnx, .tflite, .engine, ...)") from None
        self.stride = int(max(getattr(self.backend, "stride", 32) or 32, 32))
        self.fixed = not bool(getattr(self.backend, "dynamic", False)) and self.backend.format not in ("pt", "torchscript")
        model_size = getattr(self.backend, "imgsz", None)
        if self.fixed and model_size and list(model_size) != [self.imgsz, self.imgsz]:
            raise ConfigError(f"detector weights '{self.weights.name}' take a fixed {model_size[0]}x{model_size[1]} "
                              f"input but detector.imgsz is {self.imgsz}; set imgsz: {model_size[0]} "
                              "or export the model with dynamic shapes")
        self.end2end = bool(getattr(self.backend, "end2end", False))
        self.lut = class_lookup(dict(self.backend.names))
        keep_vigil = {CLASS_IDS[c] for c in self.classes}
        self.model_classes = sorted(int(i) for i in np.flatnonzero(np.isin(self.lut, list(keep_vigil))))
        if not self.model_classes:
            raise ConfigError(f"detector weights '{self.weights.name}' detect none of the classes {self.classes}")
        self.times = StageTimes()

    @classmethod
    def from_config(cls, cfg: DetectorConfig, base_dir: Path | None = None) -> "YoloDetector":
        weights = resolve_weights(cfg.weights, base_dir, what="detector weights")
        return cls(weights=weights, imgsz=cfg.imgsz, confidence=cfg.confidence, iou=cfg.iou,
                   classes=list(cfg.classes), device=cfg.device, half=cfg.half, batch=cfg.batch)

    def _to_tensor(self, batch: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(batch)
        if self.torch_device.type == "cuda":
            t = t.pin_memory().to(self.torch_device, non_blocking=True)
        t = t.permute(0, 3, 1, 2)
        t = t.half() if self.fp16 else t.float()
        return t.div_(255.0).contiguous()

    @torch.inference_mode()
    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect in BGR frames (any sizes); one Detections per frame, in frame pixels."""
        out: list[Detections] = []
        for start in range(0, len(images), self.batch):
            out.extend(self._detect_chunk(images[start:start + self.batch]))
        return out

    def _detect_chunk(self, images: list[np.ndarray]) -> list[Detections]:
        from ultralytics.utils.nms import non_max_suppression

        if not images:
            return []
        t0 = time.perf_counter()
        batch, boxes = letterbox_batch(images, self.imgsz, self.stride, self.fixed)
        x = self._to_tensor(batch)
        t1 = time.perf_counter()
        preds = self.backend(x)
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize(self.torch_device)
        t2 = time.perf_counter()
        results = non_max_suppression(preds, self.confidence, self.iou, classes=self.model_classes,
                                      max_det=300, end2end=self.end2end)
        dets = []
        for im, lb, r in zip(images, boxes, results):
            r = r.float().cpu().numpy()
            cls = r[:, 5].astype(np.int64)
            keep = self.lut[cls] >= 0
            r, cls = r[keep], cls[keep]
            dets.append(Detections(xyxy=lb.to_frame(r[:, :4], im.shape[:2]), confidence=r[:, 4],
                                   class_id=self.lut[cls]))
        t3 = time.perf_counter()
        self.times.preprocess += t1 - t0
        self.times.inference += t2 - t1
        self.times.postprocess += t3 - t2
        self.times.frames += len(images)
        self.times.calls += 1
        return dets

"""The detector: any ultralytics-loadable YOLO (.pt, .onnx, .tflite, .engine, ...) run on
batches of frames, with COCO classes mapped to Vigil's classes.

Preprocessing (letterbox) is done once per batch in numpy, into a reusable (on CUDA,
page-locked) buffer, the float conversion on the inference device, and the model is called
through ultralytics' AutoBackend directly: the generic predictor re-checks arguments and
copies frames on every call.

The engine (`detector.engine`, vigil/detect/engines.py) decides the rest: OpenVINO runs its
own compiled model on float batches letterboxed straight into NCHW (vigil/detect/openvino_engine.py);
a .pt given to an engine that needs another format is exported once into a cache
(vigil/detect/export_cache.py).

ONNX models on CPU take another path (vigil/detect/onnx_workers.py): frames of a batch are
spread over single-threaded onnxruntime sessions in worker threads, each worker doing its
frame's letterbox, inference and NMS, so everything around inference runs in parallel too.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.config.pipeline import DetectorConfig
from vigil.detect.device import pick_device, use_half
from vigil.detect.engines import EXPORTS, choose_engine, weights_format
from vigil.detect.export_cache import cached_export
from vigil.detect.labels import class_lookup
from vigil.detect.letterbox import PlanarLetterbox, input_shape, letterbox_batch
from vigil.detect.nms import yolo_nms
from vigil.detect.onnx_workers import OnnxWorkers, default_workers
from vigil.detect.openvino_engine import OpenVinoRunner
from vigil.detect.staging import HostStaging
from vigil.errors import ConfigError, VigilError
from vigil.timing import StageClock
from vigil.types import CLASS_IDS, Detections
from vigil.weights import resolve_weights


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
    workers: int = 0  # CPU ONNX: parallel single-threaded sessions; OpenVINO: threads; 0 = one per core
    label_map: dict[str, str] | None = None  # model label -> class name (detector.classes as a mapping)
    vocab: ClassVocab = DEFAULT_VOCAB  # the pipeline's classes: what class_id means
    engine: str = "auto"  # auto, openvino, onnxruntime, tensorrt, torch (vigil/detect/engines.py)
    int8_calibrate: Path | None = None  # OpenVINO, .pt: quantise to int8 on this video's frames (cached)
    int8_frames: int = 300

    def __post_init__(self) -> None:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        self.torch_device = pick_device(self.device)
        self.engine = choose_engine(self.engine, self.weights, self.torch_device)
        self.fp16 = use_half(self.half, self.torch_device)
        runs = self._engine_weights()
        self.backend: Any
        if self.engine == "openvino":
            self.backend = OpenVinoRunner(runs, threads=self.workers or default_workers(),
                                          bf16=self.half if self.half == "auto" else bool(self.half))
        else:
            from ultralytics.nn.autobackend import AutoBackend

            try:
                self.backend = AutoBackend(str(runs), device=self.torch_device, fp16=self.fp16, verbose=False)
            except Exception as exc:  # ultralytics raises many types for unreadable files
                raise VigilError(f"cannot load detector weights '{self.weights}': {str(exc).splitlines()[0]}; "
                                 "give an ultralytics-loadable file (.pt, .onnx, .tflite, .engine, ...)") from None
        self.stride = int(max(getattr(self.backend, "stride", 32) or 32, 32))
        self.fixed = (not bool(getattr(self.backend, "dynamic", False))
                      and self.backend.format not in ("pt", "torchscript"))
        model_size = getattr(self.backend, "imgsz", None)
        if self.fixed and model_size and list(model_size) != [self.imgsz, self.imgsz]:
            raise ConfigError(f"detector weights '{self.weights.name}' take a fixed {model_size[0]}x{model_size[1]} "
                              f"input but detector.imgsz is {self.imgsz}; set imgsz: {model_size[0]} "
                              "or export the model with dynamic shapes")
        self.end2end = bool(getattr(self.backend, "end2end", False))
        self.raw_head = not self.end2end and getattr(self.backend, "task", "detect") in (None, "detect")
        self.n_model_classes = len(self.backend.names)
        self.lut = class_lookup(dict(self.backend.names), self.label_map, self.vocab)
        keep_vigil = {self.vocab.id(c) for c in self.classes}
        self.model_classes = sorted(int(i) for i in np.flatnonzero(np.isin(self.lut, list(keep_vigil))))
        if not self.model_classes:
            raise ConfigError(f"detector weights '{self.weights.name}' detect none of the classes {self.classes}")
        self.times = StageClock()  # preprocess / inference / postprocess, for benchmarks
        self.staging = HostStaging(self.torch_device, self.fp16)
        self.pool: OnnxWorkers | None = None
        if self.backend.format == "onnx" and self.torch_device.type == "cpu":
            pool = OnnxWorkers(runs, self.workers or default_workers())
            if pool.max_batch in (None, 1):
                self.pool = pool  # AutoBackend's own session stays loaded but idle (never run: no arena)
            else:
                pool.close()
        self.workers = self.pool.workers if self.pool is not None else getattr(self.backend, "threads", 1)
        self._per_thread = threading.local()  # each worker's reusable input buffer
        self.planar = PlanarLetterbox(np.float32)  # the OpenVINO path's reusable batch input

    def _engine_weights(self) -> Path:
        """The file the chosen engine runs: the weights themselves, or their export for that
        engine (made once, then taken from the cache) when they are a .pt."""
        if self.int8_calibrate is not None:
            if self.engine != "openvino" or weights_format(self.weights) != "pt":
                raise ConfigError(f"detector.int8_calibrate quantises .pt weights for OpenVINO, but this detector "
                                  f"runs '{self.weights.name}' on {self.engine}; remove int8_calibrate or use the "
                                  ".pt with engine: openvino (or auto on a CPU)")
            from vigil.detect.quantize import quantize_openvino

            return quantize_openvino(self.weights, self.int8_calibrate, frames=self.int8_frames, imgsz=self.imgsz,
                                     log=lambda msg: print(msg, file=sys.stderr))
        if weights_format(self.weights) != "pt" or self.engine not in EXPORTS:
            return self.weights
        fmt = EXPORTS[self.engine]
        # TensorRT plans have a fixed largest batch and fp16 baked in; the others stay dynamic and float.
        gpu = self.engine == "tensorrt"
        return cached_export(self.weights, fmt, imgsz=self.imgsz, dynamic=True, half=gpu,
                             batch=self.batch if gpu else 1, device=str(self.torch_device.index or 0) if gpu else None,
                             log=lambda msg: print(msg, file=sys.stderr))

    def describe(self) -> str:
        """The engine in words, for the replay summary and `vigil status`:
        'openvino bf16, aspect-fitted (dynamic) input, yolov8n_dequant.pt'."""
        parts = [self.engine]
        precision = getattr(self.backend, "label", None) or ("fp16" if self.fp16 else "fp32")
        parts.append(precision if self.torch_device.type == "cpu" else f"{precision} on {self.torch_device}")
        shape = "square " + str(self.imgsz) if self.fixed else "aspect-fitted (dynamic)"
        return f"{' '.join(parts)}, {shape} input, {self.weights.name}"

    @classmethod
    def from_config(cls, cfg: DetectorConfig, base_dir: Path | None = None) -> "YoloDetector":
        weights = resolve_weights(cfg.weights, base_dir, what="detector weights")
        calibrate = None
        if cfg.int8_calibrate:
            try:
                calibrate = Path(cfg.int8_calibrate).expanduser()
                if not calibrate.is_absolute() and base_dir is not None:
                    calibrate = base_dir / calibrate
                found = calibrate.is_file()
            except (OSError, RuntimeError):  # a name too long, ~nouser/...: not found either
                calibrate, found = Path(cfg.int8_calibrate), False
            if not found:
                raise ConfigError(f"detector.int8_calibrate: video '{calibrate}' not found; give a recording of the "
                                  "site (a path relative to the pipeline file)")
        return cls(weights=weights, imgsz=cfg.imgsz, confidence=cfg.confidence, iou=cfg.iou,
                   classes=cfg.kept_classes, device=cfg.device, half=cfg.half, batch=cfg.batch,
                   workers=cfg.workers, label_map=cfg.label_map, engine=cfg.engine, vocab=cfg.vocabulary,
                   int8_calibrate=calibrate, int8_frames=cfg.int8_frames)

    @torch.inference_mode()
    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect in BGR frames (any sizes); one Detections per frame, in frame pixels."""
        pool = self.pool
        if pool is not None:
            return pool.map(partial(self._detect_one_cpu, pool), images)
        if self.engine == "openvino":
            return self._detect_openvino(images)
        out: list[Detections] = []
        for start in range(0, len(images), self.batch):
            out.extend(self._detect_chunk(images[start:start + self.batch]))
        return out

    def _detect_openvino(self, images: list[np.ndarray]) -> list[Detections]:
        """Frames batched with those of the same input shape only: a camera's frame is then
        letterboxed the same whichever other cameras share its round, so batching never
        changes its detections (cameras of one size, the usual case, share one call)."""
        step = min(self.batch, self.backend.max_batch or self.batch)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(input_shape([im.shape[:2]], self.imgsz, self.stride, self.fixed), []).append(i)
        out: list[Detections | None] = [None] * len(images)
        for (H, W), idx in groups.items():
            for start in range(0, len(idx), step):
                part = idx[start:start + step]
                for i, det in zip(part, self._detect_chunk_openvino([images[i] for i in part], H, W)):
                    out[i] = det
        return out  # type: ignore[return-value]  # every slot filled above

    def _to_detections(self, preds, images: list[np.ndarray], boxes) -> list[Detections]:
        """NMS, then model classes -> Vigil classes and network pixels -> frame pixels."""
        from ultralytics.utils.nms import non_max_suppression

        results = non_max_suppression(preds, self.confidence, self.iou, classes=self.model_classes,
                                      max_det=300, end2end=self.end2end)
        return [self._rows_to_detections(r.float().cpu().numpy(), im, lb) for im, lb, r in zip(images, boxes, results)]

    def _rows_to_detections(self, r: np.ndarray, image: np.ndarray, lb) -> Detections:
        """(M, 6) NMS rows in network pixels -> Detections in frame pixels with Vigil classes."""
        cls = r[:, 5].astype(np.int64)
        keep = self.lut[cls] >= 0
        r, cls = r[keep], cls[keep]
        return Detections(xyxy=lb.to_frame(r[:, :4], image.shape[:2]), confidence=r[:, 4], class_id=self.lut[cls])

    @torch.inference_mode()
    def _detect_one_cpu(self, pool: OnnxWorkers, image: np.ndarray) -> Detections:
        """One frame, start to end, on a worker thread (CPU ONNX path)."""
        t0 = time.perf_counter()
        prep = getattr(self._per_thread, "letterbox", None)
        if prep is None:
            prep = self._per_thread.letterbox = PlanarLetterbox(pool.input_dtype)
        H, W = input_shape([image.shape[:2]], self.imgsz, self.stride, self.fixed)
        x, box = prep(image, H, W)
        t1 = time.perf_counter()
        preds = pool.run(x)  # synchronous: x may be reused by this thread's next frame
        t2 = time.perf_counter()
        if self.raw_head and preds[0].ndim == 3 and preds[0].shape[1] == 4 + self.n_model_classes:
            r = yolo_nms(preds[0][0], self.confidence, self.iou, self.model_classes)
            det = self._rows_to_detections(r, image, box)
        else:  # end-to-end heads and other layouts: ultralytics' NMS
            det = self._to_detections(torch.from_numpy(preds[0]), [image], [box])[0]
        self._time_steps(t0, t1, t2, 1)
        return det

    def _time_steps(self, t0: float, t1: float, t2: float, frames: int) -> None:
        """With parallel workers these are summed thread times (they overlap), not wall time."""
        self.times.add("preprocess", t1 - t0, frames)
        self.times.add("inference", t2 - t1, frames)
        self.times.add("postprocess", time.perf_counter() - t2, frames)

    def _detect_chunk_openvino(self, images: list[np.ndarray], H: int, W: int) -> list[Detections]:
        """Letterbox into one float batch, one infer call, numpy NMS per frame."""
        t0 = time.perf_counter()
        fill = (self.backend.max_batch or len(images)) - len(images)  # a static-batch export takes whole batches
        x, boxes = self.planar.batch(images + images[-1:] * fill, H, W)
        t1 = time.perf_counter()
        preds = self.backend(x)
        t2 = time.perf_counter()
        if self.raw_head and preds.ndim == 3 and preds.shape[1] == 4 + self.n_model_classes:
            dets = [self._rows_to_detections(yolo_nms(p, self.confidence, self.iou, self.model_classes), im, lb)
                    for p, im, lb in zip(preds, images, boxes)]
        else:  # end-to-end heads and other layouts: ultralytics' NMS
            dets = self._to_detections(torch.from_numpy(preds[:len(images)]), images, boxes)
        self._time_steps(t0, t1, t2, len(images))
        return dets

    def _detect_chunk(self, images: list[np.ndarray]) -> list[Detections]:
        if not images:
            return []
        t0 = time.perf_counter()
        batch, boxes = letterbox_batch(images, self.imgsz, self.stride, self.fixed, buffer=self.staging.buffer)
        x = self.staging.to_device(batch)
        t1 = time.perf_counter()
        preds = self.backend(x)
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize(self.torch_device)
        t2 = time.perf_counter()
        dets = self._to_detections(preds, images, boxes)
        self._time_steps(t0, t1, t2, len(images))
        return dets

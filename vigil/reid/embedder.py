"""The re-ID stage: crops of a frame's detections -> L2-normalised OSNet embeddings."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from vigil.config.reid import ReidConfig
from vigil.detect.device import pick_device, use_half
from vigil.detect.engines import installed
from vigil.errors import ConfigError
from vigil.reid.checkpoint import load_osnet
from vigil.reid.osnet import OSNet
from vigil.types import Detections
from vigil.weights import resolve_weights

# torchreid's training normalisation (ImageNet statistics, RGB order).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def choose_reid_engine(requested: str, device: torch.device) -> str:
    """'openvino' or 'torch' for the re-ID model; ConfigError for an engine that cannot run here."""
    if requested == "auto":
        return "openvino" if device.type == "cpu" and installed("openvino") else "torch"
    if requested == "openvino":
        if not installed("openvino"):
            raise ConfigError("re-ID engine 'openvino' is not installed (Python package 'openvino' is missing); "
                              "install it, or set reid.engine: auto")
        if device.type != "cpu":
            raise ConfigError(f"re-ID engine 'openvino' runs on the CPU here but reid.device asks for {device}; "
                              "set reid.device: cpu or reid.engine: auto")
    return requested


def clip_boxes(xyxy: np.ndarray, width: int, height: int, min_size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel boxes clipped to the frame, and a mask of those still at least `min_size` on both sides.

    The box is widened to whole pixels (floor of the top-left, ceil of the bottom-right) so a
    detection never loses the pixels it partly covers. Non-finite boxes are invalid.
    """
    finite = np.isfinite(xyxy).all(axis=1)
    safe = np.where(finite[:, None], xyxy, 0.0)
    lo = np.floor(safe[:, :2])
    hi = np.ceil(safe[:, 2:])
    limit = np.array([width, height], dtype=np.float64)
    lo = np.clip(lo, 0, limit).astype(np.int64)
    hi = np.clip(hi, 0, limit).astype(np.int64)
    boxes = np.concatenate([lo, hi], axis=1)
    valid = finite & ((hi - lo) >= min_size).all(axis=1)
    return boxes, valid


class Embedder:
    """OSNet appearance embeddings for detections, batched, on GPU (fp16) when there is one.

    `embed(image_bgr, dets)` returns the same rows with `embedding` set to float32 (N, D),
    D = 512, each row L2-normalised, and `embedded` set: False for rows whose box, clipped to
    the frame, is narrower or shorter than `min_crop_size` pixels (or not finite), and for
    rows not wanted; those have no appearance (their vectors are zeros). `embed_batch` does
    the same for several frames in shared forward passes; `embed_crops` embeds ready-cut crops.
    """

    def __init__(self, model: OSNet, device: str = "auto", half: bool | str = "auto", batch_size: int = 64,
                 input_size: tuple[int, int] = (256, 128), min_crop_size: int = 2, engine: str = "torch"):
        self.device = pick_device(device)
        self.engine = choose_reid_engine(engine, self.device)
        self.half = use_half(half, self.device)
        self.dtype = torch.float16 if self.half else torch.float32
        # channels_last: ~1.5x faster on CPU for OSNet's 1x1 / depthwise convs, and what cuDNN prefers in fp16.
        # torch's stubs lack the (device, dtype, memory_format) overload that nn.Module.to accepts
        self.model = model.eval().to(self.device, self.dtype, memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.batch_size = int(batch_size)
        self.input_size = (int(input_size[0]), int(input_size[1]))  # height, width
        self.min_crop_size = int(min_crop_size)
        self.rows_seen = self.rows_embedded = 0  # detections given / cropped and embedded, for benchmarks
        std = torch.tensor(IMAGENET_STD, dtype=torch.float32)
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)
        # x_norm = x_uint8 * scale + shift, per RGB channel, folded into one multiply-add.
        self._scale = (1.0 / (255.0 * std)).view(1, 3, 1, 1).to(self.device, self.dtype)
        self._shift = (-mean / std).view(1, 3, 1, 1).to(self.device, self.dtype)
        self._openvino = None
        if self.engine == "openvino":
            from vigil.reid.openvino_reid import OpenVinoReid, export_ir

            xml = export_ir(self.model, self.input_size, self._scale, self._shift)
            self._openvino = OpenVinoReid(xml, torch.get_num_threads(), bf16=half is True)

    @classmethod
    def from_config(cls, cfg: ReidConfig, base_dir: Path | None = None) -> "Embedder":
        path = resolve_weights(cfg.weights, base_dir, what="re-ID weights")
        model = load_osnet(path, cfg.model)
        return cls(model, device=cfg.device, half=cfg.half, batch_size=cfg.batch_size,
                   input_size=cfg.input_size, min_crop_size=cfg.min_crop_size, engine=cfg.engine)

    def describe(self) -> str:
        if self._openvino is not None:
            return f"openvino {self._openvino.precision}"
        return f"torch {self.device.type} {'fp16' if self.half else 'fp32'}"

    @property
    def dim(self) -> int:
        return self.model.feature_dim

    def embed(self, image_bgr: np.ndarray, dets: Detections, wanted: np.ndarray | None = None) -> Detections:
        """`dets` with `embedding` filled from crops of `image_bgr` (HxWx3 uint8 BGR); rows
        not in the `wanted` mask (when given) are not cropped and are marked not embedded."""
        return self.embed_batch([image_bgr], [dets], None if wanted is None else [wanted])[0]

    def embed_batch(self, images_bgr: Sequence[np.ndarray], dets: Sequence[Detections],
                    wanted: Sequence[np.ndarray | None] | None = None) -> list[Detections]:
        """`embed` for several frames (e.g. one per camera) with all their crops in shared forward passes."""
        if len(images_bgr) != len(dets):
            raise ValueError(f"embed_batch got {len(images_bgr)} images but {len(dets)} Detections")
        crops: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        self.rows_seen += sum(len(d) for d in dets)
        for i, (image, d) in enumerate(zip(images_bgr, dets)):
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"embed needs HxWx3 BGR images, got shape {image.shape}")
            boxes, valid = clip_boxes(d.xyxy, image.shape[1], image.shape[0], self.min_crop_size)
            if wanted is not None and wanted[i] is not None:
                valid &= wanted[i]
            crops.extend(image[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes[valid])
            masks.append(valid)
        self.rows_embedded += len(crops)
        features = self.embed_crops(crops)
        out, start = [], 0
        for d, valid in zip(dets, masks):
            emb = np.zeros((len(d), self.dim), dtype=np.float32)
            n = int(valid.sum())
            emb[valid] = features[start:start + n]
            start += n
            out.append(dataclasses.replace(d, embedding=emb, embedded=valid))
        return out

    def embed_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """float32 (N, D) L2-normalised embeddings of BGR uint8 crops of any size (each at least 1x1)."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.resize_crops(crops)
        out = [self._forward(batch[i:i + self.batch_size]) for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out)

    def resize_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, H, W, 3) uint8 BGR, each crop stretched to the input size (as torchreid trains)."""
        th, tw = self.input_size
        batch = np.empty((len(crops), th, tw, 3), dtype=np.uint8)
        for i, crop in enumerate(crops):
            # Area averaging when shrinking avoids aliasing (PIL's bilinear, which torchreid used, does too).
            shrink = crop.shape[0] > th or crop.shape[1] > tw
            batch[i] = cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return batch

    @torch.inference_mode()
    def _forward(self, batch_bgr: np.ndarray) -> np.ndarray:
        if self._openvino is not None:
            f = self._openvino(batch_bgr)
            return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)  # as F.normalize
        x = torch.from_numpy(batch_bgr).to(self.device, non_blocking=True)
        # BGR -> RGB in NHWC, then an NCHW view whose strides are channels_last (no copy).
        x = x.flip(-1).permute(0, 3, 1, 2).to(self.dtype)
        x = x * self._scale + self._shift
        features = self.model(x).float()
        return F.normalize(features, dim=1).cpu().numpy()

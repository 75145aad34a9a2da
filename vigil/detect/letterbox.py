"""Batched letterbox preprocessing: resize keeping aspect ratio, pad, stack once per batch."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114  # ultralytics' grey


@dataclass(frozen=True)
class Letterbox:
    """How one frame was placed into the network input: x_in = x * scale + pad."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, xyxy: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
        out = xyxy.copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        h, w = frame_shape
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out


def input_shape(frame_shapes: list[tuple[int, int]], imgsz: int, stride: int, fixed: bool) -> tuple[int, int]:
    """(H, W) of the batch input: imgsz x imgsz for fixed-shape models; otherwise the
    smallest stride multiple that holds every resized frame (less padding, less compute)."""
    if fixed:
        return imgsz, imgsz
    hs, ws = [], []
    for h, w in frame_shapes:
        r = min(imgsz / h, imgsz / w)
        hs.append(round(h * r))
        ws.append(round(w * r))
    up = lambda v: int(np.ceil(v / stride) * stride)  # noqa: E731
    return up(max(hs)), up(max(ws))


def letterbox_batch(images: list[np.ndarray], imgsz: int, stride: int = 32, fixed: bool = True,
                    buffer=None) -> tuple[np.ndarray, list[Letterbox]]:
    """Stack BGR frames into one (B, H, W, 3) uint8 RGB batch, centred with grey padding.

    Kept as uint8 so the float conversion happens once on the inference device.
    `buffer(shape)`, when given, returns the array to fill (a reusable, possibly pinned one).
    """
    H, W = input_shape([im.shape[:2] for im in images], imgsz, stride, fixed)
    shape = (len(images), H, W, 3)
    batch = buffer(shape) if buffer is not None else np.empty(shape, dtype=np.uint8)
    batch.fill(PAD_VALUE)
    boxes = []
    for i, im in enumerate(images):
        h, w = im.shape[:2]
        r = min(H / h, W / w)
        nh, nw = round(h * r), round(w * r)
        resized = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else im
        top, left = (H - nh) // 2, (W - nw) // 2
        batch[i, top:top + nh, left:left + nw] = resized[..., ::-1]  # BGR -> RGB while copying
        boxes.append(Letterbox(scale=r, pad_x=left, pad_y=top))
    return batch, boxes


class PlanarLetterbox:
    """Letterbox BGR frames straight into a reusable (B, 3, H, W) RGB float buffer in [0, 1]:
    the network input of CPU runtimes, without a uint8 batch, a transpose copy or a float64
    temporary (about 1 ms instead of 17 ms per 640x360 frame here). The grey padding of a
    slot is written only when its frame's placement changes. One instance per thread: the
    buffer is overwritten by the next call."""

    def __init__(self, dtype=np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self._buf = np.empty((0, 3, 0, 0), self.dtype)  # sized by the first call
        self._placements: list[tuple | None] = []

    def __call__(self, image: np.ndarray, H: int, W: int) -> tuple[np.ndarray, Letterbox]:
        x, boxes = self.batch([image], H, W)
        return x, boxes[0]

    def batch(self, images: list[np.ndarray], H: int, W: int) -> tuple[np.ndarray, list[Letterbox]]:
        n = len(images)
        if self._buf.shape[0] < n or self._buf.shape[2:] != (H, W):
            self._buf = np.empty((n, 3, H, W), self.dtype)
            self._placements = [None] * n
        scale = self.dtype.type(1 / 255.0)
        boxes = []
        for i, image in enumerate(images):
            h, w = image.shape[:2]
            r = min(H / h, W / w)
            nh, nw = round(h * r), round(w * r)
            top, left = (H - nh) // 2, (W - nw) // 2
            placement = (top, left, nh, nw)
            if self._placements[i] != placement:
                self._buf[i].fill(PAD_VALUE / 255.0)
                self._placements[i] = placement
            resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nh, nw) != (h, w) else image
            for c, plane in enumerate(reversed(cv2.split(resized))):  # BGR planes -> RGB channels
                np.multiply(plane, scale, out=self._buf[i, c, top:top + nh, left:left + nw])
            boxes.append(Letterbox(scale=r, pad_x=left, pad_y=top))
        return self._buf[:n], boxes

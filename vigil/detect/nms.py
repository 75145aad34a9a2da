"""Non-maximum suppression for raw YOLO outputs in numpy, for the CPU worker threads.

Same result as ultralytics' `non_max_suppression` with its defaults (best class per box,
class-aware, `> conf` thresholds, torchvision's NMS kernel), without its chain of small
torch ops: called from several worker threads on a busy CPU, those ops wait on torch's
thread pool (~60-100 ms per frame measured here against a few ms for this version)."""

from __future__ import annotations

import numpy as np
import torch
import torchvision

MAX_WH = 7680  # ultralytics' per-class box offset


def yolo_nms(out: np.ndarray, conf: float, iou: float, classes: list[int] | None = None,
             max_det: int = 300) -> np.ndarray:
    """out: (4 + nc, N) raw head output of one image (xywh, class scores).
    Returns (M, 6) float32 rows x1, y1, x2, y2, confidence, class, best first."""
    scores = out[4:]
    best = scores.max(axis=0)
    cand = np.flatnonzero(best > conf)
    if cand.size == 0:
        return np.zeros((0, 6), np.float32)
    cls = scores[:, cand].argmax(axis=0)
    score = best[cand]
    if classes is not None:
        keep = np.isin(cls, classes)
        cand, cls, score = cand[keep], cls[keep], score[keep]
        if cand.size == 0:
            return np.zeros((0, 6), np.float32)
    x, y, w, h = out[:4, cand]
    boxes = np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1).astype(np.float32)
    offset = boxes + (cls[:, None] * MAX_WH).astype(np.float32)
    keep = torchvision.ops.nms(torch.from_numpy(offset), torch.from_numpy(score.astype(np.float32)), iou)
    keep = keep[:max_det].numpy()
    return np.concatenate([boxes[keep], score[keep, None], cls[keep, None]], axis=1).astype(np.float32)

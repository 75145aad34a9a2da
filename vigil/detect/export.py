"""`vigil export`: ultralytics' exporter behind Vigil's error handling."""

from __future__ import annotations

import os
from pathlib import Path

from vigil.errors import ConfigError, VigilError

# ultralytics' export formats (its `format=` argument).
FORMATS = ("torchscript", "onnx", "openvino", "engine", "coreml", "saved_model", "pb", "tflite", "edgetpu",
           "tfjs", "paddle", "mnn", "ncnn", "imx", "rknn", "executorch")


def export_weights(weights: Path, fmt: str, imgsz: int = 640, half: bool = False, int8: bool = False,
                   dynamic: bool = False, batch: int = 1, device: str | None = None) -> Path:
    """Export `weights` to `fmt`; returns the exported file. Exports need a PyTorch (.pt) model:
    an already-exported file (.onnx, .engine, ...) cannot be converted again."""
    if fmt not in FORMATS:
        raise ConfigError(f"export format '{fmt}' is not known; use one of {', '.join(FORMATS)}")
    if weights.suffix not in (".pt", ".yaml"):
        raise ConfigError(f"'{weights.name}' is already an exported model; export from the PyTorch .pt weights")
    if fmt == "engine" and (device is None or device == "cpu"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("TensorRT export (--format engine) needs an NVIDIA GPU; run it on the GPU machine")
        device = device or "0"
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights), task="detect")
    except Exception as exc:  # ultralytics raises many types for unreadable files
        raise VigilError(f"cannot load '{weights}': {str(exc).splitlines()[0]}; give ultralytics .pt weights") from None
    kwargs = dict(format=fmt, imgsz=imgsz, half=half, int8=int8, dynamic=dynamic, batch=batch)
    if device is not None:
        kwargs["device"] = device
    try:
        out = model.export(**kwargs)
    except Exception as exc:
        raise VigilError(f"export of '{weights.name}' to {fmt} failed: {str(exc).splitlines()[0]}") from None
    return Path(out).resolve()

"""Which inference engine runs the detector.

`engine: auto` picks the fastest one this machine has for the weights given:
  - PyTorch .pt on an NVIDIA GPU: TensorRT (fp16 plan exported once, cached) when the
    `tensorrt` package is installed, else PyTorch CUDA in fp16;
  - PyTorch .pt on a CPU: OpenVINO (IR exported once, cached; bf16 where the CPU has it) when
    installed, else onnxruntime on a dynamic-shape ONNX export, else PyTorch;
  - an already exported file runs on the engine of its format (.onnx: onnxruntime, an
    OpenVINO folder or .xml: OpenVINO, .engine: TensorRT).
An engine asked for by name that is missing, or that cannot run the file given, is a
ConfigError (one line, exit 2), never a silent fallback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from vigil.errors import ConfigError

ENGINES = ("auto", "openvino", "onnxruntime", "tensorrt", "torch")
# The Python package each engine needs, and how to get it.
PACKAGES = {"openvino": "openvino", "onnxruntime": "onnxruntime", "tensorrt": "tensorrt", "torch": "torch"}


def installed(engine: str) -> bool:
    return importlib.util.find_spec(PACKAGES[engine]) is not None


def weights_format(weights: Path) -> str:
    """'pt', 'onnx', 'openvino', 'engine', or the file's suffix for other ultralytics formats."""
    if weights.is_dir():
        return "openvino" if weights.name.endswith("_openvino_model") else weights.name.rsplit("_", 2)[-2]
    suffix = weights.suffix.lower().lstrip(".")
    return {"xml": "openvino"}.get(suffix, suffix)


# Formats each engine can load directly (anything else needs a .pt to export from).
RUNS = {"openvino": {"openvino", "onnx"}, "onnxruntime": {"onnx"}, "tensorrt": {"engine"},
        "torch": {"pt", "torchscript"}}
# The export each engine needs when given a .pt (ultralytics' format names).
EXPORTS = {"openvino": "openvino", "onnxruntime": "onnx", "tensorrt": "engine"}


def auto_engine(fmt: str, device: torch.device) -> str:
    if fmt != "pt":
        return {"onnx": "onnxruntime", "openvino": "openvino", "engine": "tensorrt", "torchscript": "torch"}.get(fmt,
                                                                                                          fmt)
    if device.type == "cuda":
        return "tensorrt" if installed("tensorrt") else "torch"
    for engine in ("openvino", "onnxruntime"):
        if installed(engine):
            return engine
    return "torch"


def choose_engine(requested: str, weights: Path, device: torch.device) -> str:
    """The engine that will run `weights`; raises ConfigError for an engine that is missing
    or cannot run them."""
    if requested not in ENGINES:
        raise ConfigError(f"detector engine '{requested}' is not known; use one of {', '.join(ENGINES)}")
    fmt = weights_format(weights)
    if requested == "auto":
        return auto_engine(fmt, device)
    if requested == "tensorrt" and device.type != "cuda":
        raise ConfigError("detector engine 'tensorrt' needs an NVIDIA GPU and none is available here; "
                          "set detector.engine: auto")
    if not installed(requested):
        raise ConfigError(f"detector engine '{requested}' is not installed (Python package "
                          f"'{PACKAGES[requested]}' is missing); install it, or set detector.engine: auto")
    if requested == "openvino" and device.type == "cuda":
        raise ConfigError("detector engine 'openvino' runs on the CPU here but detector.device asks for CUDA; "
                          "set detector.device: cpu (or auto)")
    if fmt not in RUNS[requested] and not (fmt == "pt" and requested in EXPORTS):
        raise ConfigError(f"detector engine '{requested}' cannot run '{weights.name}' ({fmt}); give .pt weights "
                          f"(exported for {requested} once, then cached) or set detector.engine: auto")
    return requested

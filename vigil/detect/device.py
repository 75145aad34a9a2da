"""Device and precision choice, shared by the detector and the re-ID embedder."""

from __future__ import annotations

import torch

from vigil.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> first CUDA device when one is present, else CPU."""
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device '{name}' is not valid; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' asked for CUDA but no CUDA GPU is available; use device: auto or cpu")
    return dev


def use_half(half: bool | str, device: torch.device) -> bool:
    """fp16 only where it is fast and supported: on CUDA."""
    if half == "auto":
        return device.type == "cuda"
    return bool(half) and device.type == "cuda"

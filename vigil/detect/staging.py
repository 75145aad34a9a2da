"""Host-side staging of detector batches, device-agnostic.

Letterboxed frames are written straight into a reusable uint8 buffer (no per-batch
allocation); on CUDA that buffer is page-locked so the host-to-device copy is asynchronous,
and two buffers alternate so batch k+1 can be filled while batch k is still being copied.
The float conversion (and fp16 cast) happens on the target device, where it is cheap."""

from __future__ import annotations

import numpy as np
import torch


class HostStaging:
    def __init__(self, device: torch.device, half: bool = False, pin: bool | None = None, slots: int = 2) -> None:
        self.device = device
        self.half = half
        # Page-locked memory only helps (and only exists) when copying to a CUDA device.
        self.pin = (device.type == "cuda") if pin is None else pin
        self._slots: list[torch.Tensor | None] = [None] * max(1, slots)
        self._next = 0
        self.allocations = 0  # buffers created, for tests: steady batches must not allocate

    def buffer(self, shape: tuple[int, int, int, int]) -> np.ndarray:
        """A (B, H, W, 3) uint8 array to fill; the next slot, grown when too small."""
        i = self._next
        self._next = (i + 1) % len(self._slots)
        t = self._slots[i]
        need = int(np.prod(shape))
        if t is None or t.numel() < need:
            t = torch.empty(need, dtype=torch.uint8, pin_memory=self.pin)
            self._slots[i] = t
            self.allocations += 1
        return t[:need].numpy().reshape(shape)  # shares memory with the (pinned) tensor

    def to_device(self, batch: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float in [0, 1] on the device (fp16 if half)."""
        t = torch.from_numpy(batch)
        if self.device.type != "cpu":
            t = t.to(self.device, non_blocking=self.pin)
        t = t.permute(0, 3, 1, 2)
        t = t.half() if self.half else t.float()
        return t.div_(255.0).contiguous()

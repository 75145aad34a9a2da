"""OSNet on OpenVINO: the torch module converted once to an IR (openvino.convert_model), cached
beside the detector's exports (vigil.detect.export_cache), keyed by a hash of the weights it holds
(the checkpoint's tensors: the same under any file name, and random test models work too).

The IR takes what the embedder has after resizing, uint8 NHWC BGR crops, and does the colour
swap and ImageNet normalisation inside the graph (fused by OpenVINO; no float copy in numpy).
It runs in f32 by default: bf16 is ~1.4x faster on this CPU but moves embeddings by up to 0.01
in cosine on real crops, as much as the margins the tracker's appearance gates work with;
`reid.half: true` asks for it."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import torch

from vigil.detect.export_cache import build_entry, cache_dir
from vigil.detect.openvino_engine import cpu_has_bf16
from vigil.reid.osnet import OSNet


class _Preprocessed(torch.nn.Module):
    """OSNet behind the embedder's preprocessing: uint8 (N, H, W, 3) BGR in, features out."""

    def __init__(self, model: OSNet, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.scale, self.shift = scale.float().cpu(), shift.float().cpu()  # constants in the IR

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flip(-1).permute(0, 3, 1, 2).float()
        return self.model(x * self.scale + self.shift)


def _versions() -> str:
    import openvino

    return f"ov{openvino.__version__.split('-')[0]}-t{torch.__version__.split('+')[0]}"


def weights_digest(model: torch.nn.Module, n: int = 16) -> str:
    """sha256 of every parameter and buffer, by name (a few ms for OSNet x1_0's 2.2 M weights)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:n]


def export_ir(model: OSNet, input_size: tuple[int, int], scale: torch.Tensor, shift: torch.Tensor) -> Path:
    """The cached IR (.xml) of `model` behind the preprocessing, made first if absent."""
    import openvino as ov

    h, w = input_size
    entry = cache_dir() / f"osnet-{weights_digest(model)}-{h}x{w}-reid-{_versions()}"

    def make(tmp: Path) -> Path:
        wrapped = _Preprocessed(model.float().eval(), scale, shift).eval()
        with torch.inference_mode():
            ir = ov.convert_model(wrapped, example_input=torch.zeros(1, h, w, 3, dtype=torch.uint8),
                                  input=[(ov.Dimension(), h, w, 3)])  # any batch size
        folder = tmp / "ir"
        folder.mkdir()
        ov.save_model(ir, folder / "osnet.xml", compress_to_fp16=False)
        return folder

    return build_entry(entry, entry / "ir" / "osnet.xml", make)


class OpenVinoReid:
    """Runs the IR on a uint8 NHWC BGR batch; returns float32 (N, D) features (not normalised)."""

    def __init__(self, xml: Path, threads: int, bf16: bool) -> None:
        import openvino as ov

        self.precision = "bf16" if bf16 and cpu_has_bf16() else "f32"
        core = ov.Core()
        self.compiled = core.compile_model(str(xml), "CPU", {
            "INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": max(1, int(threads))})
        self.request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # one request: callers from several threads take turns

    def __call__(self, batch_bgr: np.ndarray) -> np.ndarray:
        with self._lock:
            out = self.request.infer({0: np.ascontiguousarray(batch_bgr)})
            return np.array(out[0], dtype=np.float32)  # a copy: the request reuses its output buffer

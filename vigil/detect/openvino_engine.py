"""The detector on OpenVINO: one compiled model for all cameras, a whole batch per infer call.

Why one compiled model with all cores and a real batch (not one session per core as the
ONNX path does): OpenVINO's CPU plugin parallelises inside its big fused kernels well, and
a batch of 4 frames in one call shares the weight loads (measured on the 2-core machine,
bf16, 640x384: 17.9 ms per frame alone, 16.4 ms per frame in a batch of 4).

Precision: bf16 where the CPU reports it (AMX on Intel Sapphire Rapids and later, AVX-512
BF16 on AMD Zen 4): about 1.8x faster than f32 here, and boxes agree with the float
reference (tests/detect/test_agreement.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import yaml

from vigil.errors import VigilError


def cpu_has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def model_file(path: Path) -> Path:
    """The .xml of an ultralytics OpenVINO folder, or the file itself (.xml, .onnx)."""
    if path.is_dir():
        found = sorted(path.glob("*.xml"))
        if not found:
            raise VigilError(f"'{path}' holds no OpenVINO model (.xml); "
                             "export one with `vigil export --format openvino`")
        return found[0]
    return path


def read_metadata(path: Path) -> dict:
    """Class names, stride and export size that ultralytics writes beside the IR (metadata.yaml)."""
    meta = (path if path.is_dir() else path.parent) / "metadata.yaml"
    if not meta.is_file():
        return {}
    data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
    return data if isinstance(data, dict) else {}


class OpenVinoRunner:
    """Presents what YoloDetector reads from ultralytics' AutoBackend (names, stride, dynamic,
    imgsz, format) and runs an NCHW float32 batch in one call."""

    format = "openvino"
    end2end = False
    task = "detect"

    def __init__(self, path: Path, threads: int, bf16: bool | str = "auto") -> None:
        import openvino as ov

        core = ov.Core()
        xml = model_file(path)
        try:
            model = core.read_model(str(xml))
        except Exception as exc:  # OpenVINO raises RuntimeError with pages of text
            raise VigilError(f"cannot load OpenVINO model '{xml}': {str(exc).strip().splitlines()[0]}; "
                             "give an OpenVINO IR folder/.xml or an .onnx") from None
        meta = read_metadata(path)
        self.names = {int(k): str(v) for k, v in (meta.get("names") or {}).items()} or {i: f"class{i}" for i in
                                                                                        range(80)}
        self.stride = int(meta.get("stride") or 32)
        shape = model.inputs[0].get_partial_shape()
        self.dynamic = shape[2].is_dynamic and shape[3].is_dynamic
        self.max_batch = None if shape[0].is_dynamic else shape[0].get_length()
        self.imgsz = meta.get("imgsz") or ([shape[2].get_length(), shape[3].get_length()] if not self.dynamic
                                           else None)
        self.precision = "bf16" if (bf16 == "auto" or bf16 is True) and cpu_has_bf16() else "f32"
        # An NNCF-quantized model: int8 where it was quantized, the hint's precision elsewhere.
        quantized = any(op.get_type_name() == "FakeQuantize" for op in model.get_ordered_ops())
        self.label = f"int8+{self.precision}" if quantized else self.precision
        self.threads = max(1, int(threads))
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": self.threads,
                  "INFERENCE_PRECISION_HINT": self.precision}
        self.compiled = core.compile_model(model, "CPU", config)
        self.input_dtype = np.float32
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # one set of requests: calls from several threads take turns
        # Batches go to one single-threaded stream per core, side by side: threads of one stream
        # wait for each other at every layer, which costs little on an idle machine but a lot on
        # a busy one (measured at load 15 on the 2 cores: 311 ms per frame for a batch of 4 on
        # one 2-thread stream, 188 ms on two 1-thread streams; CPU time per frame the same).
        self._streams: list = []
        if self.threads > 1 and self.max_batch is None:
            parallel = core.compile_model(model, "CPU", {**config, "PERFORMANCE_HINT": "THROUGHPUT",
                                                         "NUM_STREAMS": self.threads})
            self._streams = [parallel.create_infer_request() for _ in range(self.threads)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> the raw head output (B, 4 + classes, anchors), a copy."""
        with self._lock:
            if len(x) < 2 or not self._streams:
                return self._request.infer({0: x})[0].copy()  # one frame: all threads on it
            parts = np.array_split(np.arange(len(x)), min(len(self._streams), len(x)))
            for req, idx in zip(self._streams, parts):
                req.start_async({0: x[idx[0]:idx[-1] + 1]})
            outs = []
            for req, _ in zip(self._streams, parts):
                req.wait()
                outs.append(req.get_output_tensor(0).data.copy())
            return np.concatenate(outs)

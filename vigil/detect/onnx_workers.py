"""Parallel CPU inference for ONNX detectors: one single-threaded onnxruntime session per
worker thread, each running whole frames.

Why not one session with intra-op threads (ultralytics' default)? A small model such as
YOLOv8n splits into many short kernels; intra-op threads then spend much of their time
synchronising, and their spin-waiting burns cores that decoding, tracking or other
processes need. Measured on the 2-core development machine while it was shared: one
session with 2 intra-op threads 0.49 s/frame, one single-threaded session 0.24 s/frame.
Independent frames in parallel sessions scale with cores instead, and onnxruntime releases
the GIL while it runs, so Python threads are enough."""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per core this process may use ($VIGIL_DETECT_WORKERS overrides)."""
    env = os.environ.get("VIGIL_DETECT_WORKERS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads sleep instead of spinning: the cores go to the other workers and stages.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts


class OnnxWorkers:
    """`workers` sessions of one model and a thread pool to run them side by side."""

    def __init__(self, path: Path, workers: int) -> None:
        import onnxruntime as ort

        from vigil.detect.onnx_graph import fast_model_bytes

        self.workers = max(1, int(workers))
        fast = fast_model_bytes(Path(path), session_options(1))
        self.rewritten = fast is not None  # the exact DFL rewrite is in use
        model = fast if fast is not None else str(path)
        self._sessions: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(self.workers):
            self._sessions.put(ort.InferenceSession(model, session_options(1), providers=["CPUExecutionProvider"]))
        first = self._sessions.get()
        inp = first.get_inputs()[0]
        self._sessions.put(first)
        self.input_name = inp.name
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        dim = inp.shape[0]
        self.max_batch = dim if isinstance(dim, int) and dim > 0 else None  # None: any batch size
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vigil-infer")

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Run one input on whichever session is free (call from a worker)."""
        s = self._sessions.get()
        try:
            return s.run(None, {self.input_name: x})
        finally:
            self._sessions.put(s)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """fn over items on the worker threads, results in order; the first error is raised."""
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

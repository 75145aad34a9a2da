"""`vigil bench reid`: crops per second of the re-ID embedder (crop resize + normalise + OSNet
forward) per model, batch size and engine. Engines of a cell are timed side by side, in
alternating rounds, so a load change on a shared machine hits both alike; each figure is the
median over the rounds."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vigil.reid.checkpoint import guess_architecture, load_into, read_state_dict
from vigil.reid.embedder import Embedder
from vigil.reid.osnet import build_osnet, count_parameters


@dataclass
class BenchRow:
    model: str
    weights: str  # file name, or "random" (speed does not depend on the values)
    params: int
    device: str
    half: bool
    batch_size: int
    batches: int
    seconds: float
    cpu_seconds: float  # this process's CPU time over the same batches: steadier than wall time on a busy box
    engine: str = "torch"
    round_ms: list[float] = field(default_factory=list)  # ms per batch in each round

    @property
    def ms_per_batch(self) -> float:
        return statistics.median(self.round_ms) if self.round_ms else 1000.0 * self.seconds / self.batches

    @property
    def crops_per_second(self) -> float:
        return 1000.0 * self.batch_size / self.ms_per_batch

    @property
    def crops_per_cpu_second(self) -> float:
        return self.batch_size * self.batches / max(self.cpu_seconds, 1e-9)


def person_like_crops(n: int, seed: int = 0) -> list[np.ndarray]:
    """Deterministic BGR crops of detector-like sizes (40..300 px tall, aspect about 0.4)."""
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(n):
        h = int(rng.integers(40, 300))
        w = max(8, int(h * rng.uniform(0.3, 0.6)))
        crops.append(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
    return crops


def _model(name: str, checkpoints: dict[str, Path]):
    model = build_osnet(name)
    path = checkpoints.get(name)
    if path is None:
        return model, "random"
    return load_into(model, read_state_dict(path), str(path), name), path.name


def index_checkpoints(paths: list[Path]) -> dict[str, Path]:
    """Architecture name -> checkpoint, read from each file's shapes."""
    out: dict[str, Path] = {}
    for p in paths:
        name = guess_architecture(read_state_dict(p))
        if name is not None:
            out.setdefault(name, p)
    return out


def bench_embedder(models: list[str], batch_sizes: list[int], checkpoints: dict[str, Path] | None = None,
                   device: str = "auto", half: bool | str = "auto", min_seconds: float = 1.5,
                   min_batches: int = 3, engines: tuple[str, ...] = ("torch",), rounds: int = 1) -> list[BenchRow]:
    """Time `Embedder.embed_crops` on fresh crops of mixed sizes, one warm-up call per cell and
    engine, then `rounds` rounds in which every engine runs for `min_seconds` in turn."""
    rows: list[BenchRow] = []
    for name in models:
        model, weights = _model(name, checkpoints or {})
        params = count_parameters(model)
        for bs in batch_sizes:
            crops = person_like_crops(bs, seed=bs)
            cell = []
            for engine in engines:
                emb = Embedder(model, device=device, half=half, batch_size=bs, engine=engine)
                emb.embed_crops(crops)  # warm-up: allocator, kernels, lazy init
                cell.append((emb, BenchRow(name, weights, params, str(emb.device), emb.half, bs, 0, 0.0, 0.0,
                                           emb.describe())))
            for _ in range(max(1, rounds)):
                for emb, row in cell:
                    _time_round(emb, crops, row, min_seconds, min_batches)
            rows.extend(row for _, row in cell)
    return rows


def _time_round(emb: Embedder, crops: list[np.ndarray], row: BenchRow, min_seconds: float, min_batches: int) -> None:
    if emb.device.type == "cuda":
        torch.cuda.synchronize(emb.device)
    batches, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        emb.embed_crops(crops)  # returns host numpy: the device work is finished
        batches += 1
        elapsed = time.perf_counter() - t0
        if batches >= min_batches and elapsed >= min_seconds:
            break
    row.batches += batches
    row.seconds += elapsed
    row.cpu_seconds += time.process_time() - c0
    row.round_ms.append(1000.0 * elapsed / batches)

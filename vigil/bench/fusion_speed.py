"""`vigil bench fusion`: milliseconds per visible + thermal pair for each fusion method."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from vigil.fusion.fuse import fuse
from vigil.fusion.pairs import read_pair_image


def bench_pair(size: tuple[int, int], visible: Path | None = None,
               thermal: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pair to time: the given images resized to `size` (w, h), or a synthetic one."""
    w, h = size
    if visible is not None and thermal is not None:
        return cv2.resize(read_pair_image(visible), (w, h)), cv2.resize(read_pair_image(thermal), (w, h))
    # textured scene with a few warm blobs: timing does not depend on content
    rng = np.random.default_rng(0)
    vis = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (5, 5), 0)
    ir = cv2.GaussianBlur(rng.integers(0, 255, (h, w), dtype=np.uint8), (9, 9), 0)
    return vis, ir


def bench_fusion(methods: list[str], size: tuple[int, int], repeat: int = 20, threads: int = 1,
                 visible: Path | None = None, thermal: Path | None = None) -> dict[str, dict[str, float]]:
    """Median wall and CPU ms per pair for each method, after one warm-up, with OpenCV limited
    to `threads` (0: its default); OpenCV's setting is restored afterwards."""
    vis, ir = bench_pair(size, visible, thermal)
    before = cv2.getNumThreads()
    if threads:
        cv2.setNumThreads(threads)
    results: dict[str, dict[str, float]] = {}
    try:
        for m in methods:
            fuse(vis, ir, m)  # warm-up
            wall, cpu = [], []
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                fuse(vis, ir, m)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            results[m] = {"wall_ms": float(np.median(wall) * 1000), "cpu_ms": float(np.median(cpu) * 1000)}
    finally:
        cv2.setNumThreads(before)
    return results

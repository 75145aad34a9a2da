"""The one way Vigil times its stages: a `StageClock` is passed in to whatever should be timed
(sources, detector, the analysis round, the store), never a global. Thread-safe, because
reader threads and the writer thread add to it while the round runs.

    clock = StageClock()
    with clock.time("detect", frames=len(batch)):
        ...
    clock.add("decode", seconds, frames=1)
    clock.seconds["detect"], clock.frames["detect"], clock.ms_per_frame("detect")
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from typing import Iterator


class _Seconds(dict[str, float]):
    """Seconds per stage; like a Counter, a stage not timed yet reads 0 without being added."""

    def __missing__(self, key: str) -> float:
        return 0.0


class StageClock:
    """Seconds and frames per named stage, summed over threads (parallel work overlaps, so the
    sum of stages can exceed the wall time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = _Seconds()
        self.frames: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def add(self, stage: str, seconds: float, frames: int = 0, calls: int = 1) -> None:
        with self._lock:
            self.seconds[stage] += seconds
            self.frames[stage] += frames
            self.calls[stage] += calls

    @contextmanager
    def time(self, stage: str, frames: int = 0) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0, frames)

    def ms_per_frame(self, stage: str, frames: int | None = None) -> float:
        n = frames if frames is not None else self.frames[stage]
        return 1000.0 * self.seconds[stage] / max(n, 1)

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.frames.clear()
            self.calls.clear()

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.seconds)


class NullClock(StageClock):
    """A clock that keeps nothing: the default where nobody asked for timings."""

    def add(self, stage: str, seconds: float, frames: int = 0, calls: int = 1) -> None:
        return None

"""Resident memory of this process, sampled in a background thread."""

from __future__ import annotations

import threading

import psutil


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) so far. Per frame, it measures the
    work a side does independently of other processes competing for the cores."""
    t = psutil.Process().cpu_times()
    return t.user + t.system


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


class RssSampler:
    """Samples RSS every `interval` seconds while active: start, end, peak and the series.

    Per-phase peaks (rather than getrusage's process-wide maximum) let one process time
    the ultralytics loop and Vigil one after the other and report each side's own peak."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "RssSampler":
        import time

        self._t0 = time.perf_counter()
        self.samples.append((0.0, rss_mib()))

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.samples.append((time.perf_counter() - self._t0, rss_mib()))

        self._thread = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import time

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append((time.perf_counter() - self._t0, rss_mib()))

    @property
    def start(self) -> float:
        return self.samples[0][1]

    @property
    def end(self) -> float:
        return self.samples[-1][1]

    @property
    def peak(self) -> float:
        return max(m for _, m in self.samples)

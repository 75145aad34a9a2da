"""Reconnect delays for live streams: exponential, jittered, bounded, reset once healthy."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with jitter, bounded by `maximum`; `reset_if_healthy` starts over
    once a connection has streamed for `healthy_after` seconds (a camera that reboots every
    few hours should come back after `initial`, not after the maximum)."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.25  # +-fraction of the delay, so cameras behind one NVR don't retry in step
    healthy_after: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        # The cap leaves room for the jitter, so cameras at the maximum still retry spread out.
        cap = self.maximum / (1 + self.jitter)
        base = min(cap, self.initial * self.factor ** min(self.failures, 64))
        self.failures += 1
        return base * (1 + self.rng.uniform(-self.jitter, self.jitter))

    def reset_if_healthy(self, streamed_seconds: float) -> None:
        if streamed_seconds >= self.healthy_after:
            self.failures = 0

"""What one side of `vigil bench pipeline` reports: frames, seconds, counts, stages, memory."""

from __future__ import annotations

from dataclasses import dataclass, field

# The Vigil side's stages, in pipeline order (StageClock names).
STAGES = ("decode", "preprocess", "inference", "postprocess", "reid", "track", "count", "store")


@dataclass
class SideResult:
    """One side's numbers: frames, wall seconds, counts, per-stage ms per frame, memory."""

    frames: int
    seconds: float
    counts: dict
    stages_ms: dict[str, float]
    rss_start_mib: float
    rss_peak_mib: float
    rss_end_mib: float
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


def empty_counts() -> dict:
    return {"in": 0, "out": 0, "by_class": {}}

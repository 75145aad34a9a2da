"""Synthetic scenes for tracker benchmarks and tests: boxes moving at constant velocity,
with detection jitter, missed detections, and objects that leave and are replaced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from vigil.types import Detections


@dataclass
class SyntheticScene:
    objects: int = 50
    width: float = 1920.0
    height: float = 1080.0
    fps: float = 30.0
    jitter: float = 1.5         # detection noise, pixels (std)
    miss_rate: float = 0.05     # chance a visible object is not detected on a frame
    lifetime_frames: int = 0    # objects respawn after this many frames (0: they wrap around forever)
    seed: int = 0

    def frames(self, count: int) -> Iterator[tuple[float, Detections, np.ndarray]]:
        """(t seconds, detections, true ids) per frame; true ids change when an object respawns or
        wraps around the frame edge."""
        rng = np.random.default_rng(self.seed)
        n = self.objects
        size = np.column_stack([rng.uniform(20, 60, n), rng.uniform(50, 150, n)])
        pos = np.column_stack([rng.uniform(0, self.width, n), rng.uniform(0, self.height, n)])
        vel = rng.normal(0, 60, (n, 2))  # pixels per second
        born = -rng.integers(0, max(self.lifetime_frames, 1), n)
        true_id = np.arange(n)
        next_id = n
        for f in range(count):
            if self.lifetime_frames:
                old = f - born >= self.lifetime_frames
                k = int(old.sum())
                if k:
                    pos[old] = np.column_stack([rng.uniform(0, self.width, k), rng.uniform(0, self.height, k)])
                    vel[old] = rng.normal(0, 60, (k, 2))
                    born[old] = f
                    true_id[old] = np.arange(next_id, next_id + k)
                    next_id += k
            moved = pos + vel / self.fps
            pos = moved % [self.width, self.height]
            wrapped = np.any(moved != pos, axis=1)  # left one side, a new object enters on the other
            true_id[wrapped] = np.arange(next_id, next_id + int(wrapped.sum()))
            next_id += int(wrapped.sum())
            seen = rng.random(n) >= self.miss_rate
            centre = pos[seen] + rng.normal(0, self.jitter, (int(seen.sum()), 2))
            half = size[seen] / 2
            xyxy = np.concatenate([centre - half, centre + half], axis=1)
            conf = rng.uniform(0.3, 1.0, len(xyxy))
            yield f / self.fps, Detections(xyxy=xyxy, confidence=conf), true_id[seen].copy()

"""Per-camera processing after detection: optional re-ID, tracking, counting.

One CameraPipeline per camera stream (or per replayed file): it owns that stream's
tracker and counter state; the detector and the embedder are shared and batched."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime

from vigil.config.pipeline import PipelineConfig
from vigil.config.site import CameraConfig
from vigil.count import CameraCounter
from vigil.track import Tracker
from vigil.types import CountEvent, Detections, Frame


class CameraPipeline:
    def __init__(self, camera: CameraConfig, pipeline: PipelineConfig, embedder=None) -> None:
        self.camera = camera
        self.embedder = embedder
        # None or 0: every detection on every frame
        self.refresh_seconds = (pipeline.reid.refresh_seconds or None) if pipeline.reid is not None else None
        self.tracker = Tracker(pipeline.tracker)
        self.counter = CameraCounter(camera.id, camera.lines, camera.zones, pipeline.counting)
        self.frames = 0
        self.last_time: datetime | None = None
        self.times: dict[str, float] = defaultdict(float)  # seconds per stage, for benchmarks

    def embedding_wanted(self, frame: Frame, dets: Detections):
        """Rows of `dets` to embed on this frame (None: every row)."""
        if self.refresh_seconds is None:
            return None
        return self.tracker.embedding_wanted(dets, frame.pts, self.refresh_seconds)

    def process(self, frame: Frame, dets: Detections) -> list[CountEvent]:
        t0 = time.perf_counter()
        if self.embedder is not None and len(dets) and dets.embedding is None:  # not embedded batch-wise
            dets = self.embedder.embed(frame.image, dets, self.embedding_wanted(frame, dets))
        t1 = time.perf_counter()
        tracks = self.tracker.update(dets, frame.pts, frame.image)
        t2 = time.perf_counter()
        events = self.counter.update(tracks, frame.time)
        t3 = time.perf_counter()
        self.times["reid"] += t1 - t0
        self.times["track"] += t2 - t1
        self.times["count"] += t3 - t2
        self.frames += 1
        self.last_time = frame.time
        return events

    def finish(self, time_: datetime | None = None) -> list[CountEvent]:
        """End of stream: zone visits still open are closed at the last frame's time."""
        when = time_ or self.last_time
        return self.counter.finish(when) if when is not None else []

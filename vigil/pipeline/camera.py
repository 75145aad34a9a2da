"""Per-camera state after detection: which crops to embed, tracking, counting.

One CameraPipeline per camera stream (or per replayed file): it owns that stream's tracker
and counter; the detector and the embedder are shared and batched by the AnalysisRound."""

from __future__ import annotations

import logging
from datetime import datetime

from vigil.config.pipeline import PipelineConfig
from vigil.config.site import CameraConfig
from vigil.count import CameraCounter
from vigil.count.geometry import outside_frame
from vigil.timing import NullClock, StageClock
from vigil.track import Tracker
from vigil.types import CountEvent, Detections, Frame

log = logging.getLogger("vigil.pipeline")
_NULL = NullClock()


class CameraPipeline:
    def __init__(self, camera: CameraConfig, pipeline: PipelineConfig) -> None:
        self.camera = camera
        # None or 0: every detection on every frame
        self.refresh_seconds = (pipeline.reid.refresh_seconds or None) if pipeline.reid is not None else None
        self.tracker = Tracker(pipeline.tracker)
        self.counter = CameraCounter(camera.id, camera.lines, camera.zones, pipeline.counting)
        self.frames = 0
        self.last_time: datetime | None = None
        self.warnings: list[str] = []  # said once, on the first frame (e.g. lines outside the picture)
        self.last_tracks: Detections | None = None  # the latest frame's tracks, for the live view

    def embedding_wanted(self, frame: Frame, dets: Detections):
        """Rows of `dets` to embed on this frame (None: every row)."""
        if self.refresh_seconds is None:
            return None
        return self.tracker.embedding_wanted(dets, frame.pts, self.refresh_seconds)

    def process(self, frame: Frame, dets: Detections, clock: StageClock = _NULL) -> list[CountEvent]:
        if self.frames == 0:
            self._check_first_frame(frame)
        with clock.time("track", frames=1):
            tracks = self.tracker.update(dets, frame.pts, frame.image)
        self.last_tracks = tracks
        with clock.time("count", frames=1):
            events = self.counter.update(tracks, frame.time)
        self.frames += 1
        self.last_time = frame.time
        return events

    def finish(self, time_: datetime | None = None) -> list[CountEvent]:
        """End of stream: zone visits still open are closed at the last frame's time."""
        when = time_ or self.last_time
        return self.counter.finish(when) if when is not None else []

    def _check_first_frame(self, frame: Frame) -> None:
        """Lines and zones drawn for another resolution count nothing: say so once."""
        h, w = frame.shape
        self.warnings = outside_frame(self.camera, w, h)
        for msg in self.warnings:
            log.warning("%s", msg, extra={"camera": self.camera.id, "event": "geometry"})

"""Per-camera state after detection: this camera's filters, which crops to embed, tracking, counting.

One CameraPipeline per camera stream (or per replayed file): it owns that stream's tracker
and counter; the detector and the embedder are shared and batched by the AnalysisRound."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable, Protocol

import numpy as np

from vigil.config.pipeline import PipelineConfig
from vigil.config.scale import to_pixels
from vigil.config.site import CameraConfig
from vigil.config.snapshots import SnapshotConfig
from vigil.count import CameraCounter
from vigil.count.geometry import outside_frame, points_in_polygon
from vigil.render.snapshot import Snapshotter
from vigil.timing import NullClock, StageClock
from vigil.track import Tracker
from vigil.types import CountEvent, Detections, Frame

log = logging.getLogger("vigil.pipeline")
_NULL = NullClock()


class FrameObserver(Protocol):
    """Sees every analysed frame of one camera with its tracks and events (e.g. the annotated
    video writer). It must not change them; a failing observer is dropped, counting goes on."""

    def __call__(self, frame: Frame, tracks: Detections, events: list[CountEvent]) -> None: ...

    def close(self) -> None: ...


class CameraPipeline:
    def __init__(self, camera: CameraConfig, pipeline: PipelineConfig, *,
                 snapshots: SnapshotConfig | None = None, observers: Iterable[FrameObserver] = ()) -> None:
        self.camera = camera
        self.snapshots = Snapshotter(snapshots) if snapshots is not None and snapshots.enabled else None
        self.observers = list(observers)
        self.counting = pipeline.counting
        self.vocab = pipeline.detector.vocabulary  # what the shared detector's class ids mean
        # None or 0: every detection on every frame
        self.refresh_seconds = (pipeline.reid.refresh_seconds or None) if pipeline.reid is not None else None
        self.tracker = Tracker(pipeline.tracker)
        self.counter = self._counter(camera)
        self.frames = 0
        self.last_time: datetime | None = None
        self._checked = False
        self.warnings: list[str] = []  # said once, on the first frame (e.g. lines outside the picture)
        self.last_tracks: Detections | None = None  # the latest frame's tracks, for the live view

    def _counter(self, camera: CameraConfig) -> CameraCounter:
        self._masks = [np.asarray(m, np.float64) for m in camera.masks]
        self._detector_classes = (None if camera.detector is None or camera.detector.classes is None
                                  else self.vocab.ids(self.vocab.expand(camera.detector.classes)))
        return CameraCounter(camera.id, camera.lines, camera.zones, self.counting, ground=camera.ground,
                             vocab=self.vocab)

    def prepare(self, frame: Frame, dets: Detections) -> Detections:
        """The per-camera step right after the shared detector: on the first frame, the camera's
        coordinates become pixels of this stream; then this camera's filters (`keep`). The round
        calls it once, before re-ID, so a dropped row is never embedded or tracked."""
        self._check_first_frame(frame)
        return self.keep(dets)

    def embedding_wanted(self, frame: Frame, dets: Detections):
        """Rows of this camera's prepared `dets` to embed on this frame (bool mask; None: every row)."""
        if self.refresh_seconds is None:
            return None
        return self.tracker.embedding_wanted(dets, frame.pts, self.refresh_seconds)

    def keep(self, dets: Detections) -> Detections:
        """This camera's detections: the shared detector's, less those under a mask or below this
        camera's detector overrides. Before tracking, so a masked object never becomes a track."""
        ok = self._kept(dets)
        return dets if ok is None else dets[ok]

    def _kept(self, dets: Detections) -> np.ndarray | None:
        """Bool mask of the rows `keep` keeps; None when it keeps every row."""
        cam = self.camera
        if not len(dets) or (not cam.masks and cam.detector is None):
            return None
        ok = np.ones(len(dets), bool)
        if cam.detector is not None:
            if cam.detector.confidence is not None:
                ok &= dets.confidence >= cam.detector.confidence
            if self._detector_classes is not None:
                ok &= np.isin(dets.class_id, self._detector_classes)
        if cam.masks:
            feet = dets.anchors("bottom_center").astype(np.float64)
            for poly in self._masks:
                ok &= ~points_in_polygon(feet, poly)
        return None if ok.all() else ok

    def process(self, frame: Frame, dets: Detections, clock: StageClock = _NULL) -> list[CountEvent]:
        """`prepare` then `update`: one frame of the shared detector's output, for callers without a round."""
        return self.update(frame, self.prepare(frame, dets), clock)

    def update(self, frame: Frame, dets: Detections, clock: StageClock = _NULL) -> list[CountEvent]:
        """Track and count one frame of prepared detections (their embeddings ride along)."""
        with clock.time("track", frames=1):
            tracks = self.tracker.update(dets, frame.pts, frame.image)
        self.last_tracks = tracks
        with clock.time("count", frames=1):
            events = self.counter.update(tracks, frame.time)
        if self.snapshots is not None and events:
            with clock.time("snapshot", frames=1):
                events = self.snapshots.attach(frame, tracks, events, self.counter.identities(tracks.tracker_id))
        if self.observers:
            with clock.time("observe", frames=1):
                self._observe(frame, tracks, events)
        self.frames += 1
        self.last_time = frame.time
        return events

    def _observe(self, frame: Frame, tracks: Detections, events: list[CountEvent]) -> None:
        for obs in list(self.observers):
            try:
                obs(frame, tracks, events)
            except Exception as exc:  # an overlay or a full disk must not stop the counting
                self.observers.remove(obs)
                msg = f"camera {self.camera.id!r}: {type(obs).__name__} stopped at frame {frame.index}: {exc}"
                self.warnings.append(msg)
                log.warning("%s", msg, extra={"camera": self.camera.id, "event": "observer_failed"})

    def close(self) -> None:
        """Close the observers (their files become complete); counting state is untouched."""
        for obs in self.observers:
            try:
                obs.close()
            except Exception as exc:
                msg = f"camera {self.camera.id!r}: closing {type(obs).__name__} failed: {exc}"
                self.warnings.append(msg)
                log.warning("%s", msg, extra={"camera": self.camera.id, "event": "observer_failed"})
        self.observers.clear()

    def finish(self, time_: datetime | None = None) -> list[CountEvent]:
        """End of stream: zone visits still open are closed at the last frame's time."""
        when = time_ or self.last_time
        return self.counter.finish(when) if when is not None else []

    def _check_first_frame(self, frame: Frame) -> None:
        """Coordinates become pixels of this stream (relative, or drawn on reference_size: a
        different aspect ratio is a ConfigError, which ends this camera's run); lines and zones
        drawn for another resolution count nothing: say so once."""
        if self._checked:
            return
        h, w = frame.shape
        resolved = to_pixels(self.camera, w, h)
        if resolved is not self.camera:
            self.camera = resolved
            self.counter = self._counter(resolved)
        self.warnings = outside_frame(self.camera, w, h) + self.warnings
        self._checked = True
        for msg in self.warnings:
            log.warning("%s", msg, extra={"camera": self.camera.id, "event": "geometry"})

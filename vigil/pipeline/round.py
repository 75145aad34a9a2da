"""One analysis round, the only path a frame takes after it is decoded, in replay and live alike:

    detect (one batch for every camera) -> choose crops -> embed (one batch) -> track -> count

The drivers differ only in how frames arrive (replay: every frame of every file; live: the
newest frame of every camera) and when they stop; both hand a round a list of
(CameraPipeline, Frame) and get back, per camera, its events or the error that camera raised.
One camera's failure (a bad crop, a tracker fault) never stops the others; a detector failure
fails the whole round, because no camera has results then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from vigil.errors import VigilError
from vigil.pipeline.camera import CameraPipeline
from vigil.timing import NullClock, StageClock
from vigil.types import CountEvent, Detections, Frame

log = logging.getLogger("vigil.pipeline")


def log_due(n: int) -> bool:
    """Whether the n-th fault in a row of one camera gets its traceback logged: the first 3 and
    every 100th after (a fault on every frame must not log every frame)."""
    return n <= 3 or n % 100 == 0


@dataclass
class CameraResult:
    pipeline: CameraPipeline
    frame: Frame
    detections: Detections | None = None
    events: list[CountEvent] = field(default_factory=list)
    error: str | None = None  # set when this camera's frame failed; its events are then empty
    fault: Exception | None = None  # what failed: a VigilError is there to stay (the driver stops that camera)


class AnalysisRound:
    """Shared, batched stages (detector, optional re-ID embedder) applied to a batch of frames
    of several cameras; each camera's own tracker and counter live in its CameraPipeline."""

    def __init__(self, detector, embedder=None, clock: StageClock | None = None) -> None:
        self.detector = detector
        self.embedder = embedder
        self.clock = clock or NullClock()
        self.rounds = 0
        self.frames = 0
        self._faults: dict[str, int] = {}  # camera -> frames failed so far (see log_due)

    def __call__(self, batch: list[tuple[CameraPipeline, Frame]]) -> list[CameraResult]:
        if not batch:
            return []
        results = [CameraResult(pipe, frame) for pipe, frame in batch]
        images = [frame.image for _, frame in batch]
        with self.clock.time("detect", frames=len(batch)):
            dets = self.detector.detect(images)
        dets = [self._guard(res, d, res.pipeline.prepare, res.frame, d) for res, d in zip(results, dets)]
        self._probe(results, dets)
        if self.embedder is not None:
            dets = self._embed(results, images, dets)
        for res, d in zip(results, dets):
            if res.error is not None:
                continue
            res.detections = d
            res.events = self._guard(res, [], res.pipeline.update, res.frame, d, self.clock)
        self.rounds += 1
        self.frames += len(batch)
        return results

    def _probe(self, results: list[CameraResult], dets: list[Detections]) -> None:
        """Frames carrying a Probe (a thermal camera in mode auto, now and then): the detector also
        sees their other inputs, in one batch for every camera, and each camera hears the summed
        confidence of what its own filters keep on each input. A probe that fails costs nothing
        but the probe: auto keeps its input, the frame's own results stand."""
        asks = [(res, res.frame.probe, d) for res, d in zip(results, dets)
                if res.frame.probe is not None and res.error is None]
        if not asks:
            return
        jobs = [(res, mode, image) for res, probe, _ in asks for mode, image in probe.images.items()]
        for res in results:
            res.frame.probe = None  # its images are not kept with the frame (the live view holds the latest)
        try:
            with self.clock.time("probe", frames=len(jobs)):
                found = self.detector.detect([image for _, _, image in jobs])
            scores = {id(res): {probe.mode: float(d.confidence.sum())} for res, probe, d in asks}
            for (res, mode, _), d in zip(jobs, found):
                scores[id(res)][mode] = float(res.pipeline.keep(d).confidence.sum())
        except Exception:
            log.warning("auto mode's probe: detecting on the other inputs failed; auto keeps its input",
                        exc_info=True)
            return
        for res, probe, _ in asks:
            try:
                probe.report(scores[id(res)])
            except Exception:
                log.warning("%s: auto mode's probe could not be weighed", res.pipeline.camera.id, exc_info=True)

    def _guard(self, res: CameraResult, failed, step, *args):
        """One camera's step, or `failed` once that camera has faulted: the fault is recorded on
        its result and stops only that camera. A VigilError says its own one line, which the
        driver reports (replay ends that file's job, live stops that camera); anything else is
        logged with its traceback, the first 3 times and every 100th after."""
        if res.error is not None:
            return failed
        try:
            return step(*args)
        except Exception as exc:  # one camera's fault must not stop the others
            res.error, res.fault = f"{type(exc).__name__}: {exc}", exc
            cid = res.pipeline.camera.id
            n = self._faults[cid] = self._faults.get(cid, 0) + 1
            if not isinstance(exc, VigilError) and log_due(n):
                log.exception("%s: pipeline error on frame %d (%d so far)", cid, res.frame.index, n,
                              extra={"camera": cid, "event": "pipeline_error"})
            return failed

    def _embed(self, results: list[CameraResult], images, dets: list[Detections]) -> list[Detections]:
        """The crops each camera's tracker wants, in shared forward passes. If the shared pass
        fails, each camera is embedded on its own so that only the faulty one is lost."""
        with self.clock.time("reid", frames=len(results)):
            wanted = [self._guard(res, np.zeros(len(d), bool), res.pipeline.embedding_wanted, res.frame, d)
                      for res, d in zip(results, dets)]
            try:
                return self.embedder.embed_batch(images, dets, wanted)
            except Exception:
                log.warning("re-ID batch failed; embedding each camera on its own", exc_info=True)
            # A camera whose crops cannot be embedded fails this frame, as any other step of it would.
            return [self._guard(res, d, self.embedder.embed, image, d, w)
                    for res, image, d, w in zip(results, images, dets, wanted)]

"""Replay of recorded files, one of the two drivers of the AnalysisRound: one reader thread per
camera, every frame of every file, one batched round across cameras (DeepStream's stream-mux
idea), one batched database writer.

Files of the same camera are replayed one after another (each is a run of its own); files of
different cameras are replayed side by side. A camera whose frame fails in the round ends its
run with an error; the other cameras go on."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from vigil.config.load import LoadedConfig
from vigil.config.scale import scale_of
from vigil.config.site import CameraConfig
from vigil.errors import VigilError
from vigil.pipeline.camera import CameraPipeline, FrameObserver
from vigil.pipeline.round import AnalysisRound
from vigil.sources.factory import open_recording
from vigil.sources.file import FileSource, content_hash
from vigil.sources.paired import PairedSource
from vigil.sources.threaded import threaded
from vigil.timing import StageClock
from vigil.types import Frame


@dataclass
class ReplayJob:
    camera: CameraConfig
    path: Path


@dataclass
class JobResult:
    job: ReplayJob
    run_id: int | None = None
    frames: int = 0
    counts: Counter = field(default_factory=Counter)  # (kind, name, class, direction) -> n
    error: str | None = None
    status: str = "running"
    warnings: list[str] = field(default_factory=list)  # e.g. lines that lie outside the picture
    notes: list[str] = field(default_factory=list)  # e.g. what a thermal camera gave the detector


@dataclass
class _Start:
    job: ReplayJob
    digest: str


@dataclass
class _End:
    job: ReplayJob
    error: str | None
    # a thermal camera's summary, asked for once the job's last frames are analysed (its probes weighed)
    summary: Callable[[], str | None] | None = None


def _lane(jobs: list[ReplayJob], stride: int, base_dir: Path | None = None, threads: int = 0,
          clock: StageClock | None = None, hwaccel: str = "none") -> Iterator[_Start | _End | tuple[ReplayJob, Frame]]:
    """Everything one camera's files produce, in order; runs in a reader thread. A camera
    with a `thermal:` section yields fused (or thermal) frames (paths relative to base_dir)."""
    for job in jobs:
        try:
            source = open_recording(job.camera, job.path, stride, base_dir, threads=threads, clock=clock,
                                    hwaccel=hwaccel)
            if isinstance(source, FileSource):  # a file drawn for another aspect ratio: say so before decoding
                scale_of(job.camera, source.width, source.height)
            digest = content_hash(job.path)
        except (VigilError, OSError) as exc:
            yield _End(job, str(exc))
            continue
        yield _Start(job, digest)
        try:
            for frame in source:
                yield job, frame
        except VigilError as exc:
            yield _End(job, str(exc))
            continue
        yield _End(job, None, source.summary if isinstance(source, PairedSource) else None)


# How long a replay waits for an unreachable database (a restart, a full disk) before it stops
# with one error line; the writer keeps every event meanwhile and retries in order.
STORE_WAIT_S = 300.0
# Events held for the database before the replay waits for it to catch up (bounds memory).
MAX_PENDING = 50_000


def probe_frames(path: Path, stride: int) -> int:
    """Frames that will be analysed in a file (0 when unknown), for progress bars."""
    try:
        src = FileSource(path, stride=stride)
        n = src.expected_frames
        src.container.close()
        return (n + stride - 1) // stride
    except VigilError:
        return 0


class Replay:
    """Wires sources, the shared detector/embedder, per-camera pipelines and the store.
    observers(camera, path): the FrameObservers of that file's run (e.g. its annotated video)."""

    def __init__(self, config: LoadedConfig, store, detector, embedder=None,
                 on_frames: Callable[[int], None] | None = None, clock: StageClock | None = None,
                 observers: Callable[[CameraConfig, Path], list[FrameObserver]] | None = None,
                 hwaccel: str | None = None) -> None:
        self.config = config
        self.hwaccel = hwaccel
        self.observers = observers
        self.store = store
        self.clock = clock or StageClock()
        self.round = AnalysisRound(detector, embedder, self.clock)
        self.on_frames = on_frames or (lambda n: None)
        self.frames = 0

    def run(self, jobs: list[ReplayJob]) -> list[JobResult]:
        cfg = self.config.pipeline
        by_camera: dict[str, list[ReplayJob]] = {}
        for job in jobs:
            by_camera.setdefault(job.camera.id, []).append(job)
        # FFmpeg's own decode threads per file: one camera may use every core; several cameras
        # share them (four decoders at cores+1 threads each starve the inference sessions).
        threads = 0 if len(by_camera) == 1 else max(1, (os.cpu_count() or 1) // len(by_camera))
        # the site's decode device (live.hwaccel, or --hwaccel): replay decodes as the daemon does
        hwaccel = self.hwaccel or self.config.site.live.hwaccel
        lanes = {cam: threaded(_lane(js, cfg.frame_stride, self.config.site_dir, threads, self.clock, hwaccel),
                               maxsize=2 * cfg.detector.batch, name=f"read-{cam}")
                 for cam, js in by_camera.items()}
        # Frames taken from each camera per round: fill the detector batch even with one camera.
        per_lane = max(1, cfg.detector.batch // max(1, len(lanes)))
        results: list[JobResult] = []
        current: dict[str, tuple[JobResult, CameraPipeline]] = {}
        writer = self.store.writer(flush_interval=self.config.site.live.flush_interval)
        try:
            while lanes:
                batch: list[tuple[str, Frame]] = []
                ended: list[tuple[str, _End]] = []
                for cam in list(lanes):
                    for _ in range(per_lane):
                        item = next(lanes[cam], None)
                        if item is None:
                            del lanes[cam]
                            break
                        if isinstance(item, _Start):
                            res = JobResult(item.job)
                            res.run_id = self.store.begin_run(cam, str(item.job.path), item.digest, kind="replay")
                            observers = self.observers(item.job.camera, item.job.path) if self.observers else []
                            current[cam] = (res, CameraPipeline(item.job.camera, cfg, observers=observers,
                                                                snapshots=self.config.site.snapshots))
                            results.append(res)
                        elif isinstance(item, _End):
                            ended.append((cam, item))
                            break  # this job's frames already in the batch are processed first
                        elif cam in current:  # frames of a job that failed in the round are skipped
                            batch.append((cam, item[1]))
                failed = [(cam, _End(current[cam][0].job, error))
                          for cam, error in self._process(batch, current, writer)]
                for cam, end in failed + ended:  # a failure ends its job before the job's own end
                    self._finish(cam, end, current, results, writer)
        except BaseException as exc:
            # Interrupted: keep what was counted and mark the runs. If that fails too (say the
            # database is gone), the first error is the one raised, with the later ones noted.
            for res, pipe in current.values():
                try:
                    self._close_run(res, pipe, writer, "interrupted", "replay interrupted")
                except Exception as later:
                    exc.add_note(f"while closing run {res.run_id} ({res.job.path.name}): {later}")
            try:
                writer.close()
            except Exception as later:
                exc.add_note(f"while closing the event writer: {later}")
            raise
        writer.close()
        return results

    def _process(self, batch: list[tuple[str, Frame]], current, writer) -> list[tuple[str, str]]:
        """One round over the batch; returns (camera, error) for cameras whose frame failed."""
        if not batch:
            return []
        failed: list[tuple[str, str]] = []
        for (cam, _), r in zip(batch, self.round([(current[cam][1], f) for cam, f in batch])):
            res = current[cam][0]
            if r.error is not None:
                if cam not in dict(failed):
                    failed.append((cam, f"frame {r.frame.index}: {r.error}"))
                continue
            res.frames += 1
            if r.events:
                res.counts.update((e.kind, e.name, e.class_name, e.direction) for e in r.events)
                writer.put(res.run_id, r.events)
        if writer.pending > MAX_PENDING:  # the database is slow or away: wait for it, do not pile up
            writer.flush(timeout=STORE_WAIT_S)
        self.frames += len(batch)
        self.on_frames(len(batch))
        return failed

    def _finish(self, cam, end: _End, current, results, writer) -> None:
        if cam not in current or current[cam][0].job is not end.job:
            if not any(r.job is end.job for r in results):  # failed before it started
                results.append(JobResult(end.job, error=end.error, status="error"))
            return  # else: already ended by a failure in the round
        res, pipe = current.pop(cam)
        note = end.summary() if end.summary is not None else None
        res.notes = [note] if note else []
        self._close_run(res, pipe, writer, "error" if end.error else "done", end.error)

    def _close_run(self, res: JobResult, pipe: CameraPipeline, writer, status: str, error: str | None) -> None:
        pipe.close()
        events = pipe.finish()
        if events:
            res.counts.update((e.kind, e.name, e.class_name, e.direction) for e in events)
            writer.put(res.run_id, events)
        writer.flush(timeout=STORE_WAIT_S)  # the run's events are durable before the run is marked finished
        res.warnings = list(pipe.warnings)
        res.status, res.error = status, error
        self.store.finish_run(res.run_id, status, res.frames, error)

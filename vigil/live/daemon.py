"""The live daemon: one reader thread per camera, one inference loop, one batched writer.

Each round the inference loop takes the newest frame of every camera that has one, runs the
detector once on the whole batch (DeepStream's stream-mux idea), and hands each camera its
detections for its own tracker and counter; events go to the store's batched writer, which
flushes every `flush_interval` seconds (a crash loses at most that much). A camera that fails is
retried by its own reader on its own backoff schedule; the loop never waits for it.

Shutdown order (SIGINT/SIGTERM set `stop`): stop the readers, process the frames already handed
over, close every camera's open zone visits, flush the writer, mark the runs, write the status.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from vigil.errors import SourceError
from vigil.live.health import ProcessingStats, StatusFileWriter, camera_health, utc_now_iso
from vigil.sources.file import FileSource
from vigil.sources.rtsp import FrameQueue, LatestFrameSlot, ReaderStats
from vigil.types import Frame

log = logging.getLogger("vigil.live")


class Pipeline(Protocol):
    def process(self, frame: Frame, dets) -> list: ...
    def finish(self, time_: datetime | None = None) -> list: ...


class FileFeeder(threading.Thread):
    """A file camera in the daemon (tests, demos, backfill next to live cameras): every frame of
    the file through a FrameQueue, once; the camera then finishes."""

    def __init__(self, camera_id: str, path: str, slot: FrameQueue, stop: threading.Event,
                 start_time: datetime | None = None, stride: int = 1):
        super().__init__(name=f"reader-{camera_id}", daemon=True)
        self.camera_id, self.path, self.slot, self.stop_event = camera_id, path, slot, stop
        self.start_time, self.stride = start_time, stride
        self.stats = ReaderStats()

    def run(self) -> None:
        try:
            for frame in FileSource(self.path, self.camera_id, self.start_time, stride=self.stride):
                if self.stats.state == "connecting":
                    self.stats.state = "streaming"
                    self.stats.stream_height, self.stats.stream_width = frame.shape
                if self.stop_event.is_set():
                    break
                self.stats.note_frame(time.monotonic())
                self.slot.put(frame, self.stop_event)
            self.stats.state = "stopped" if self.stop_event.is_set() else "finished"
        except SourceError as exc:
            self.stats.state, self.stats.last_error = "failed", str(exc)
            log.error("%s: %s", self.camera_id, exc, extra={"camera": self.camera_id, "event": "failed"})


@dataclass
class LiveCamera:
    camera_id: str
    source: str  # masked: safe to print
    reader: threading.Thread  # StreamReader or FileFeeder: has .stats and .start()
    slot: LatestFrameSlot | FrameQueue
    pipeline: Pipeline
    run_id: int | None = None
    proc: ProcessingStats = field(default_factory=ProcessingStats)
    closed: bool = False

    @property
    def stats(self) -> ReaderStats:
        return self.reader.stats  # type: ignore[attr-defined]

    def health(self, now: float) -> dict:
        return camera_health(self.camera_id, self.source, self.stats, self.slot, self.proc, now)


class LiveDaemon:
    """Runs `cameras` until `stop` is set. The detector, store and pipelines are injected, so the
    loop is the same for real parts and for small fakes in tests."""

    def __init__(self, cameras: list[LiveCamera], detector, store, *, ready: threading.Event,
                 reader_stop: threading.Event, flush_interval: float = 1.0, site: str = "site",
                 status_path: Path | None = None, status_interval: float = 1.0,
                 on_events: Callable[[list], None] | None = None):
        self.cameras, self.detector, self.store = cameras, detector, store
        self.ready, self.reader_stop = ready, reader_stop
        self.flush_interval, self.site = flush_interval, site
        self.on_events = on_events
        self.state = "starting"
        self.started = utc_now_iso()
        self.batches = 0
        self.frames = 0
        self.last_batch_ms = 0.0
        self.writer = None
        self.status = StatusFileWriter(status_path, self.snapshot, status_interval) if status_path else None

    # ---------------------------------------------------------------- health
    def snapshot(self) -> dict:
        now = time.monotonic()
        return {
            "site": self.site, "pid": os.getpid(), "state": self.state, "started": self.started,
            "updated": utc_now_iso(), "flush_interval": self.flush_interval,
            "status_interval": self.status.interval if self.status else None,
            "cameras": [c.health(now) for c in self.cameras],
            "inference": {"batches": self.batches, "frames": self.frames, "last_batch_ms": round(self.last_batch_ms, 1),
                          "mean_batch": round(self.frames / self.batches, 2) if self.batches else 0.0},
        }

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.writer = self.store.writer(flush_interval=self.flush_interval)
        for cam in self.cameras:
            cam.run_id = self.store.begin_run(cam.camera_id, cam.source, None, kind="live")
        for cam in self.cameras:
            cam.reader.start()
        if self.status:
            self.status.write_now()
            self.status.start()
        self.state = "running"
        log.info("watching %d camera(s); flushing events every %.1f s", len(self.cameras), self.flush_interval,
                 extra={"event": "started", "cameras": len(self.cameras)})

    def run(self, stop: threading.Event) -> None:
        """Start, loop until `stop` (or until every camera has finished), then shut down cleanly.
        An unexpected error still flushes what was counted, marks the runs failed and re-raises."""
        try:
            self.start()
            while not stop.is_set():
                if all(c.closed for c in self.cameras):
                    break
                self.ready.wait(0.2)
                self.ready.clear()
                self.step()
                self._close_finished()
        except BaseException as exc:
            log.error("daemon failed: %s", exc, extra={"event": "failed"})
            self.shutdown("failed", f"{type(exc).__name__}: {exc}")
            raise
        self.shutdown("stopped")

    def step(self) -> int:
        """One round: newest frame of every camera -> one detector call -> per-camera pipelines."""
        batch = [(cam, f) for cam in self.cameras if not cam.closed and (f := cam.slot.take()) is not None]
        if not batch:
            return 0
        t0 = time.perf_counter()
        dets = self.detector.detect([f.image for _, f in batch])
        self.last_batch_ms = 1000 * (time.perf_counter() - t0)
        self.batches += 1
        self.frames += len(batch)
        for (cam, frame), d in zip(batch, dets):
            try:
                events = cam.pipeline.process(frame, d)
            except Exception:  # one camera's bad frame must not stop the others
                cam.proc.errors += 1
                log.exception("%s: pipeline error on frame %d", cam.camera_id, frame.index,
                              extra={"camera": cam.camera_id, "event": "pipeline_error"})
                continue
            self._emit(cam, events)
            cam.proc.processed += 1
            cam.proc.rate.tick()
            cam.proc.inference_ms = self.last_batch_ms
            cam.proc.latency_ms = 1000 * (datetime.now(timezone.utc) - frame.time).total_seconds()
        return len(batch)

    def _emit(self, cam: LiveCamera, events: list) -> None:
        if not events:
            return
        try:
            self.writer.put(cam.run_id, events)
        except Exception as exc:  # the store reports a failed earlier flush once; it keeps retrying it
            log.error("database write failed: %s", exc, extra={"event": "store_error"})
            self.writer.put(cam.run_id, events)
        cam.proc.events += len(events)
        if self.on_events:
            self.on_events(events)

    def _close_finished(self) -> None:
        """File cameras that reached their end (and whose frames are all processed)."""
        for cam in self.cameras:
            if not cam.closed and cam.stats.state in ("finished", "failed") and len(cam.slot) == 0:
                self._close(cam, "done" if cam.stats.state == "finished" else "error", cam.stats.last_error)

    def _close(self, cam: LiveCamera, status: str, error: str | None) -> None:
        try:
            self._emit(cam, cam.pipeline.finish())
        except Exception:
            log.exception("%s: error closing the pipeline", cam.camera_id, extra={"camera": cam.camera_id})
        self.writer.flush()  # the run's events are durable before the run is marked finished
        self.store.finish_run(cam.run_id, status, cam.proc.processed, error)
        cam.closed = True

    def shutdown(self, status: str, error: str | None = None) -> None:
        self.state = "stopping"
        self.reader_stop.set()
        deadline = time.monotonic() + 2.0
        for cam in self.cameras:  # a reader blocked in a network read exits at its read timeout
            if cam.reader.ident is not None:
                cam.reader.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.writer is not None:
            if status != "failed":
                for _ in range(64):  # drain what the readers already handed over
                    if not self.step():
                        break
            for cam in self.cameras:
                if not cam.closed and cam.run_id is not None:
                    self._close(cam, status, error)
            self.writer.close()
        self.state = "stopped" if status != "failed" else "failed"
        if self.status:
            self.status.stop()
        log.info("stopped: %d frames analysed in %d batches", self.frames, self.batches,
                 extra={"event": "stopped", "status": status})

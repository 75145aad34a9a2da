"""The live daemon, one of the two drivers of the AnalysisRound: one `Feed` per camera (reader
threads), one inference loop, one batched writer.

Each round the loop takes the newest frame of every camera that has one (paired with its
thermal frame where the camera has a thermal stream) and runs one AnalysisRound over them
(DeepStream's stream-mux idea); events go to the store's batched writer, which flushes every
`flush_interval` seconds (a crash loses at most that much). A camera that fails is retried by
its own reader on its own backoff schedule; the loop never waits for it, and a camera whose
frame fails in the round is counted and logged while the others go on.

Shutdown order (SIGINT/SIGTERM set `stop`): stop the readers, process the frames already handed
over, close every camera's open zone visits, flush the writer, mark the runs, write the status.

With camera leases (several workers on one PostgreSQL, vigil/live/leases.py) the cameras are not
fixed: each round the daemon runs exactly the cameras its LeaseKeeper holds, starting a camera
(new run) when a lease is won and stopping it (run `released`) when one is handed over or lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from vigil.errors import VigilError
from vigil.fusion.compose import probes_text
from vigil.live.health import ProcessingStats, StatusFileWriter, camera_health, utc_now_iso
from vigil.pipeline.camera import CameraPipeline
from vigil.pipeline.round import AnalysisRound, log_due
from vigil.sources.factory import Feed
from vigil.timing import StageClock
from vigil.types import Detections, Frame

if TYPE_CHECKING:
    from vigil.live.leases import LeaseKeeper
    from vigil.store.writer import EventWriter

log = logging.getLogger("vigil.live")


def detector_input(thermal: dict) -> str:
    """What a thermal camera's detector sees, in a few words for the dashboard and `vigil status`:
    'fused', or in mode auto 'fused (auto: 5 probes, 1 switch)'."""
    if thermal.get("mode") != "auto":
        return str(thermal.get("input"))
    return f"{thermal.get('input')} (auto: {probes_text(thermal.get('probes', 0), thermal.get('switches', 0))})"


@dataclass
class LiveCamera:
    feed: Feed
    pipeline: CameraPipeline
    run_id: int | None = None
    proc: ProcessingStats = field(default_factory=ProcessingStats)
    closed: bool = False
    stop: threading.Event | None = None  # this camera's readers only (leased cameras stop one by one)
    # The newest analysed frame, its detections and its tracks, one tuple so a reader (the web
    # view) never pairs one frame with another's boxes. Arrays: JPEG encoding happens only when asked.
    latest: tuple[Frame, Detections | None, Detections | None] | None = None
    failure: str | None = None  # why this camera stopped for good (a Vigil error from its frames)

    @property
    def camera_id(self) -> str:
        return self.feed.camera_id

    def health(self, now: float) -> dict:
        h = camera_health(self.camera_id, self.feed.source, self.feed.stats, self.feed.slot, self.proc, now)
        if self.failure is not None:  # its readers may still be winding down: it is failed, not streaming
            h["state"], h["last_error"] = "failed", self.failure
        if self.pipeline.warnings:
            h["warnings"] = list(self.pipeline.warnings)
        pairing = self.feed.pairing
        if pairing is not None:
            th = self.feed.thermal_stats
            h["thermal"] = {"mode": pairing.cfg.mode, "input": pairing.composer.input,
                            "state": th.state if th else None,
                            "matched": pairing.stats.matched, "unmatched_rgb": pairing.stats.unmatched_rgb,
                            **vars(pairing.composer.stats)}
            h["detector_input"] = detector_input(h["thermal"])
        return h


class LiveDaemon:
    """Runs `cameras` until `stop` is set. The round (detector, embedder) and store are
    injected, so the loop is the same for real parts and for small fakes in tests."""

    def __init__(self, cameras: list[LiveCamera], round_: AnalysisRound, store, *, ready: threading.Event,
                 reader_stop: threading.Event, flush_interval: float = 1.0, site: str = "site",
                 status_path: Path | None = None, status_interval: float = 1.0,
                 on_events: Callable[[list], None] | None = None, leases: LeaseKeeper | None = None,
                 make_camera: Callable[[str], LiveCamera] | None = None):
        if leases is not None and make_camera is None:
            raise ValueError("a leased daemon needs make_camera to open the cameras it wins")
        self.cameras, self.round, self.store = cameras, round_, store
        self.leases, self.make_camera = leases, make_camera
        self.ready, self.reader_stop = ready, reader_stop
        self.flush_interval, self.site = flush_interval, site
        self.on_events = on_events
        self.state = "starting"
        self.started = utc_now_iso()
        self.last_batch_ms = 0.0
        self.store_errors = 0
        self.store_wait = 60.0  # seconds a camera's close waits for an unreachable database
        # seconds a stop waits for it, all cameras together: systemd and compose kill after 30 s
        self.stop_wait = 15.0
        self.writer: EventWriter | None = None  # opened by start()
        self._releasing: list[threading.Thread] = []  # marking handed-over (or failed) cameras' runs
        self.failures: dict[str, str] = {}  # camera -> why it stopped for good (its frames, or its recording)
        self.outputs: Callable[[], dict] | None = None  # the outputs' delivery snapshot, for the status file
        self.status = StatusFileWriter(status_path, self.snapshot, status_interval) if status_path else None

    @property
    def clock(self) -> StageClock:
        return self.round.clock

    # ---------------------------------------------------------------- health
    @property
    def engine(self) -> str | None:
        """The detector's engine in words ('openvino bf16, ...'), for `vigil status`."""
        describe = getattr(self.round.detector, "describe", None)
        return describe() if callable(describe) else None

    def snapshot(self) -> dict:
        now = time.monotonic()
        r = self.round
        return {
            "site": self.site, "pid": os.getpid(), "state": self.state, "started": self.started,
            "updated": utc_now_iso(), "flush_interval": self.flush_interval,
            "status_interval": self.status.interval if self.status else None,
            "cameras": [c.health(now) for c in list(self.cameras)],
            "inference": {"engine": self.engine, "batches": r.rounds, "frames": r.frames,
                          "last_batch_ms": round(self.last_batch_ms, 1),
                          "mean_batch": round(r.frames / r.rounds, 2) if r.rounds else 0.0},
            "store": {"errors": self.store_errors, "pending": getattr(self.writer, "pending", None),
                      "spilled": getattr(self.writer, "spilled", None)},  # moved to disk in outages so far
            **({"leases": self._lease_health()} if self.leases else {}),
            **({"outputs": self.outputs().get("outputs", [])} if self.outputs else {}),
        }

    def _lease_health(self) -> dict:
        k = self.leases
        assert k is not None
        return {"owner": k.leases.owner, "workers": k.workers, "fair_share": k.fair_share(),
                "capacity": k.capacity, "healthy": k.healthy, "held": sorted(k.wanted())}

    def _open_writer(self) -> EventWriter:
        if self.writer is None:
            raise RuntimeError("the daemon's writer is opened by start(); call it first")
        return self.writer

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.writer = self.store.writer(flush_interval=self.flush_interval)
        for cam in self.cameras:
            cam.run_id = self.store.begin_run(cam.camera_id, cam.feed.source, None, kind="live")
        for cam in self.cameras:
            cam.feed.start()
        if self.leases:
            self.leases.start()
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
                if self.leases is None and all(c.closed for c in self.cameras):
                    break
                if self.leases is not None:
                    self.follow_leases()
                self.ready.wait(0.2)
                self.ready.clear()
                self.step()
                self._close_finished()
        except BaseException as exc:
            log.error("daemon failed: %s", exc, extra={"event": "failed"})
            self.shutdown("failed", f"{type(exc).__name__}: {exc}")
            raise
        self.shutdown("stopped")

    # ---------------------------------------------------------------- leases
    def follow_leases(self) -> None:
        """Run exactly the cameras the lease keeper holds: stop the others first (so a camera
        handed over is never analysed here after its lease is released), then start new ones."""
        assert self.leases is not None and self.make_camera is not None
        wanted = self.leases.wanted()
        for cam in [c for c in self.cameras if c.camera_id not in wanted]:
            self._drop(cam)
        running = {c.camera_id for c in self.cameras}
        for cid in [c for c in self.leases.cameras if c in wanted and c not in running]:
            cam = self.make_camera(cid)
            try:
                cam.run_id = self.store.begin_run(cid, cam.feed.source, None, kind="live")
            except Exception as exc:
                log.error("%s: could not start its run, handing the camera back: %s", cid, exc,
                          extra={"camera": cid, "event": "store_error"})
                self.leases.give_back(cid)
                continue
            cam.feed.start()
            self.cameras.append(cam)
            log.info("%s: started (run %s)", cid, cam.run_id, extra={"camera": cid, "event": "camera_started"})

    def _drop(self, cam: LiveCamera) -> None:
        """Stop a camera whose lease is gone or handed over. Never blocks the loop: its run is
        marked `released`, at the time it stopped, from a thread once its events are stored, and
        only then is the lease handed back. Released first, the next owner could take the camera
        and mark the still-running run `interrupted` before (or instead of) `released`."""
        keeper = self.leases
        assert keeper is not None
        if cam.stop is not None:
            cam.stop.set()
        self.cameras.remove(cam)
        # Counting stopped at the fence (step) when the lease ran out, whenever this runs.
        stopped_us = min(time.time_ns() // 1000, keeper.valid_until_us())
        handover = keeper.handover(cam.camera_id)
        if cam.closed:
            keeper.stopped(cam.camera_id, handover)
        else:  # the lease goes back after the write, even a failed one (kept, it would idle here)
            self._close_behind(cam, "released", None, at_us=stopped_us,
                               then=lambda: keeper.stopped(cam.camera_id, handover))
        log.info("%s: stopped (lease handed over or lost)", cam.camera_id,
                 extra={"camera": cam.camera_id, "event": "camera_stopped"})

    def step(self) -> int:
        """One round: newest frame of every camera -> AnalysisRound -> events to the writer.
        Returns how many frames were taken (a frame dropped by thermal pairing counts)."""
        taken = 0
        batch = []
        for cam in self.cameras:
            if cam.closed or not len(cam.feed):
                continue
            try:
                frame = cam.feed.take()
            except Exception as exc:  # composing this camera's frame (thermal pairing, registration, fusion)
                self._camera_fault(cam, exc)
                continue
            taken += 1
            if frame is not None:
                batch.append((cam, frame))
        if not batch:
            return taken
        t0 = time.perf_counter()
        results = self.round([(cam.pipeline, f) for cam, f in batch])
        self.last_batch_ms = 1000 * (time.perf_counter() - t0)
        now = datetime.now(timezone.utc)
        # Fenced: a camera whose lease ran out while this round ran is no longer ours to count.
        owned = self.leases.wanted() if self.leases is not None else None
        for (cam, frame), res in zip(batch, results):
            if owned is not None and cam.camera_id not in owned:
                continue
            if isinstance(res.fault, VigilError):  # e.g. the stream's aspect is not reference_size's
                self._camera_fault(cam, res.fault)
                continue
            if res.error is not None:  # logged by the round; this camera's next frame is tried as usual
                cam.proc.errors += 1
                continue
            self._emit(cam, res.events)
            cam.latest = (frame, res.detections, cam.pipeline.last_tracks)
            cam.proc.processed += 1
            cam.proc.rate.tick()
            cam.proc.inference_ms = self.last_batch_ms
            if cam.feed.live:  # a recording's frame times are its start_time plus offsets: no latency
                cam.proc.latency_ms = 1000 * (now - frame.time).total_seconds()
        return taken

    def _camera_fault(self, cam: LiveCamera, exc: Exception) -> None:
        """A camera whose frame could not be composed or analysed. A Vigil error is there to stay
        (the thermal stream cannot be registered, the stream's aspect is not the one its lines were
        drawn on: the fix is in the site config): this camera stops, its run is marked failed with
        the reason from a thread (a database that is away must not stall the other cameras), and
        the others go on. Anything else costs this frame only. With leases the camera keeps its
        lease: handed to another worker it would fail there the same way."""
        cam.proc.errors += 1
        if not isinstance(exc, VigilError):
            if log_due(cam.proc.errors):
                log.exception("%s: could not compose its frame (%d so far)", cam.camera_id, cam.proc.errors,
                              extra={"camera": cam.camera_id, "event": "pipeline_error"})
            return
        others = sum(not c.closed for c in self.cameras if c is not cam)
        log.error("%s: %s; this camera stops (%d other camera(s) go on)", cam.camera_id, exc, others,
                  extra={"camera": cam.camera_id, "event": "failed"})
        cam.failure = str(exc)
        self.failures[cam.camera_id] = cam.failure
        if cam.stop is not None:
            cam.stop.set()
        self._close_behind(cam, "error", cam.failure)

    def _close_behind(self, cam: LiveCamera, status: str, error: str | None, at_us: int | None = None,
                      then: Callable[[], None] | None = None) -> None:
        """Close `cam` without blocking the loop: its pipeline's last events now, its run marked
        `status` from a thread once its events are stored (a database that is away must not stall
        the other cameras; shutdown waits for these threads); `then` runs after, whatever happened.
        If the write fails, the next owner or start marks the run interrupted instead."""
        cam.closed = True
        try:
            self._emit(cam, cam.pipeline.finish())
        except Exception:
            log.exception("%s: error closing the pipeline", cam.camera_id, extra={"camera": cam.camera_id})

        def finish() -> None:
            try:
                self._open_writer().flush(timeout=self.store_wait)
                self.store.finish_run(cam.run_id, status, cam.proc.processed, error, at_us=at_us)
            except Exception as exc:
                log.error("%s: could not mark its run %s: %s", cam.camera_id, status, exc,
                          extra={"camera": cam.camera_id, "event": "store_error"})
            finally:
                if then is not None:
                    then()

        t = threading.Thread(target=finish, name=f"close-{cam.camera_id}", daemon=True)
        t.start()
        self._releasing = [r for r in self._releasing if r.is_alive()] + [t]

    def _emit(self, cam: LiveCamera, events: list) -> None:
        """Hand events to the writer exactly once. The writer has them once put() is called; an
        error it raises reports an earlier batch's failure, which it keeps retrying itself, so
        putting the events again would store them twice."""
        if not events:
            return
        try:
            if cam.run_id is None:
                raise RuntimeError(f"camera '{cam.camera_id}' has no run; start() begins one per camera")
            self._open_writer().put(cam.run_id, events)
        except Exception as exc:
            self.store_errors += 1
            log.error("database write failed: %s", exc, extra={"event": "store_error"})
        cam.proc.events += len(events)
        if self.on_events:
            self.on_events(events)

    def _close_finished(self) -> None:
        """File cameras that reached their end (and whose frames are all processed), closed
        behind the loop: a database that is away must not stall the other cameras."""
        for cam in self.cameras:
            if not cam.closed and cam.feed.finished:
                failed = cam.feed.stats.state == "failed"
                if failed:
                    self.failures[cam.camera_id] = cam.feed.stats.last_error or "its source failed"
                self._close_behind(cam, "error" if failed else "done", cam.feed.stats.last_error)

    def shutdown(self, status: str, error: str | None = None) -> None:
        self.state = "stopping"
        self.reader_stop.set()
        for cam in self.cameras:
            if cam.stop is not None:
                cam.stop.set()
        deadline = time.monotonic() + 2.0
        for cam in self.cameras:
            cam.feed.join(deadline)
        if self.writer is not None:
            if status != "failed":
                for _ in range(64):  # drain what the readers already handed over
                    if not self.step():
                        break
            # Every camera's runs marked side by side, within one wait: one after another, a
            # database that is away made a stop wait store_wait per camera, and got killed.
            for cam in self.cameras:
                if not cam.closed and cam.run_id is not None:
                    self._close_behind(cam, status, error)
            until = time.monotonic() + self.stop_wait
            for t in self._releasing:  # a run not marked by then is marked interrupted by the next start
                t.join(max(0.0, until - time.monotonic()))
            if self.leases is not None:  # runs closed and events stored: the others may take over now
                self.leases.stop()
            try:  # what the database did not take by now goes to the spill file
                self.writer.close(timeout=max(1.0, until - time.monotonic()))
            except Exception as exc:
                log.error("%s", exc, extra={"event": "store_error"})
        self.state = "stopped" if status != "failed" else "failed"
        if self.status:
            self.status.stop()
        log.info("stopped: %d frames analysed in %d batches", self.round.frames, self.round.rounds,
                 extra={"event": "stopped", "status": status})

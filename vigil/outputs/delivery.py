"""The delivery loop: one thread per output reads the outbox from the database and hands the
events to its sink (MQTT, webhook) in order per camera, moving its cursor only after the sink
confirmed them (at least once). A failing output backs off (exponential, with jitter) on its
own thread: it slows neither the other outputs nor counting, which only ever writes outbox
rows in its own transactions. One more thread deletes what every output delivered and applies
the outbox bounds, logging and counting what they drop.

Where it runs: inside `vigil run` and `vigil replay` when the site has outputs (threads of
that process, for its cameras), or on its own as `vigil outputs run`, which drains the outbox
of every camera of the site (for a replay's leftovers, or to deliver from another process).
Cursors are per output and camera, so processes that own different cameras never collide."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from vigil.config.load import LoadedConfig
from vigil.config.outputs import MqttOutput
from vigil.outputs.message import payload
from vigil.outputs.mqtt import MqttSink
from vigil.outputs.webhook import WebhookSink
from vigil.store import outbox
from vigil.store.engine import first_line
from vigil.store.writer import to_us_now

log = logging.getLogger("vigil.outputs")

PRUNE_INTERVAL_S = 5.0
POLL_S = 1.0  # idle look at the outbox (cheap, but a query per camera and output)


@dataclass
class OutputStats:
    name: str
    type: str
    delivered: int = 0      # events the sink confirmed (a retried one counts again)
    failures: int = 0       # failed delivery attempts
    skipped: int = 0        # filtered out, or the event was gone (run replaced)
    depth: int = 0          # outbox rows not yet delivered, as of the last check
    last_error: str | None = None
    failing_since: float | None = None


class OutputWorker(threading.Thread):
    def __init__(self, engine: sa.Engine, sink, cfg, site: str, cameras: Callable[[], list[str]],
                 poll: float) -> None:
        super().__init__(name=f"vigil-output-{cfg.name}", daemon=True)
        self.engine, self.sink, self.cfg, self.site, self.poll = engine, sink, cfg, site, poll
        self._cameras = cameras
        self.stats = OutputStats(cfg.name, cfg.type)
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.caught_up_at = 0.0  # start of the last pass that found nothing to deliver

    def run(self) -> None:
        delay = 0.0
        try:
            self.sink.start()
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    self.sink.tick()
                    moved, error = self._pass()
                except Exception as exc:  # noqa: BLE001 - the database is away: retried like a failed delivery
                    moved, error = 0, f"reading the outbox failed: {type(exc).__name__}: {first_line(exc)}"
                if error is not None:
                    delay = self._failed(error, delay)
                    self.stop.wait(delay)
                    continue
                delay = 0.0
                if self.stats.failing_since is not None:
                    log.warning("output %s: delivering again after %.0f s", self.cfg.name,
                                time.monotonic() - self.stats.failing_since,
                                extra={"event": "output_resumed", "output": self.cfg.name})
                    self.stats.failing_since = None
                if not moved:
                    self.caught_up_at = started
                    self.wake.wait(self.poll)
                    self.wake.clear()
        finally:
            try:
                self.sink.close()
            except Exception as exc:  # noqa: BLE001 - closing a dead connection; nothing is lost
                log.debug("output %s: close: %s", self.cfg.name, exc)

    def _failed(self, error: str, delay: float) -> float:
        st = self.stats
        st.failures += 1
        st.last_error = error
        if st.failing_since is None:
            st.failing_since = time.monotonic()
            log.warning("output %s: %s; retrying, events wait in the outbox", self.cfg.name, error,
                        extra={"event": "output_error", "output": self.cfg.name})
        r = self.cfg.retry
        delay = min(max(2 * delay, r.initial), r.maximum)
        return delay * (1 + random.uniform(-r.jitter, r.jitter))

    @property
    def cameras(self) -> list[str]:
        """The cameras this process delivers now (with leases: the ones it holds)."""
        return [c for c in self._cameras() if not self.cfg.filter.cameras or c in self.cfg.filter.cameras]

    def _pass(self) -> tuple[int, str | None]:
        """One read-deliver-advance step per camera; (rows moved past, error of the first failure)."""
        moved = 0
        # The stored cursors each pass (one small query), not a copy kept here: with leases another
        # worker delivers a camera while this one does not hold it, and a camera won back (even
        # between two passes, say during a backoff) must go on from where that worker left off.
        cursor = outbox.cursors(self.engine, self.cfg.name)
        for cam in self.cameras:
            at = cursor.get(cam, 0)
            rows = outbox.pending(self.engine, cam, at, self.cfg.batch)
            if not rows:
                continue
            picked = [(r.id, payload(r.event, self.site)) for r in rows if r.event is not None and
                      self.cfg.filter.match(cam, r.event["kind"], r.event["name"], r.event["class_name"],
                                            r.event["direction"])]
            self.stats.skipped += len(rows) - len(picked)
            n, error = self.sink.deliver([p for _, p in picked]) if picked else (0, None)
            self.stats.delivered += n
            if error is None:
                last = rows[-1].id
            else:  # everything before the first event not delivered
                first_bad = picked[n][0]
                last = max((r.id for r in rows if r.id < first_bad), default=at)
            if last > at:
                outbox.advance(self.engine, self.cfg.name, cam, last, to_us_now())
                moved += 1
            if error is not None:
                return moved, error
        return moved, None


def make_sink(out, config: LoadedConfig, engine: sa.Engine, cameras: Callable[[], list[str]],
              availability: Callable[[], dict[str, bool]] | None):
    if isinstance(out, MqttOutput):
        return MqttSink(out, config.site, config.pipeline.detector.kept_classes, engine, config.site_dir,
                        cameras, availability)
    return WebhookSink(out)


class Delivery:
    """All outputs of a site, each on its own thread, plus the outbox janitor.

    cameras: whose events to deliver: a list, or a callable giving the current list (with leases,
    the cameras this worker holds); default every camera of the site. availability:
    camera -> streaming, for MQTT's camera availability topics, from a process that watches the
    streams (`vigil run`); without it the cameras delivered show online while it runs. poll:
    seconds between looks at the outbox when idle; a writer in this process wakes the
    outputs at once after each commit (`store.on_commit = delivery.wake`), so the poll only
    matters for events written by other processes."""

    def __init__(self, config: LoadedConfig, engine: sa.Engine,
                 cameras: list[str] | Callable[[], list[str]] | None = None,
                 availability: Callable[[], dict[str, bool]] | None = None, poll: float = POLL_S,
                 prune_interval: float = PRUNE_INTERVAL_S) -> None:
        site = config.site
        self.bounds = site.outbox
        fixed = [c.id for c in site.cameras] if cameras is None else cameras
        cams: Callable[[], list[str]] = fixed if callable(fixed) else (lambda: list(fixed))
        self.workers = [OutputWorker(engine, make_sink(o, config, engine, cams, availability), o, site.site, cams, poll)
                        for o in site.outputs]
        self.engine, self.prune_interval = engine, prune_interval
        self.dropped = 0
        self._stop = threading.Event()
        self._janitor = threading.Thread(target=self._tidy, name="vigil-outbox-janitor", daemon=True)

    def start(self) -> Delivery:
        for w in self.workers:
            w.start()
        self._janitor.start()
        return self

    def wake(self) -> None:
        """New events were committed: look now instead of at the next poll."""
        for w in self.workers:
            w.wake.set()

    def drain(self, timeout: float) -> bool:
        """Wait until every output found nothing left to deliver (True), or `timeout` s (False)."""
        asked = time.monotonic()
        deadline = asked + timeout
        self.wake()
        while time.monotonic() < deadline:
            if all(w.caught_up_at > asked for w in self.workers):
                return True
            if not any(w.is_alive() for w in self.workers):
                return False
            time.sleep(0.05)
        return False

    def close(self, grace: float = 0.0) -> bool:
        """Deliver for up to `grace` s more, then stop; what is left stays in the outbox."""
        done = self.drain(grace) if grace > 0 else False
        self._stop.set()
        for w in self.workers:
            w.stop.set()
            w.wake.set()
        for w in self.workers:
            w.join(timeout=15)
        if self._janitor.is_alive():
            self._janitor.join(timeout=15)
        try:
            self._tidy_once()
        except Exception as exc:  # noqa: BLE001 - the next start tidies up
            log.debug("outbox tidy at close failed: %s", exc)
        return done

    def _tidy(self) -> None:
        while not self._stop.wait(self.prune_interval):
            try:
                self._tidy_once()
            except Exception as exc:  # noqa: BLE001 - the database is away; the workers report it
                log.debug("outbox tidy failed: %s", exc)

    def _tidy_once(self) -> None:
        b = self.bounds
        done = outbox.prune(self.engine, [w.cfg.name for w in self.workers], int(b.max_age_hours * 3600e6),
                            b.max_rows, to_us_now())
        if done.dropped:
            self.dropped += done.dropped
            log.warning("outbox: dropped %d undelivered events (older than %g h or beyond %d rows); "
                        "an output has been failing: see its errors", done.dropped, b.max_age_hours, b.max_rows,
                        extra={"event": "outbox_dropped", "events": done.dropped})
        for w in self.workers:
            w.stats.depth = sum(n for cam, n in outbox.depth(self.engine, w.cfg.name).items() if cam in w.cameras)

    def snapshot(self) -> dict:
        """For metrics and the status file."""
        return {"dropped": self.dropped,
                "outputs": [{**vars(w.stats), "connected": bool(getattr(w.sink, "connected", False)),
                             "rejected": getattr(w.sink, "rejected", 0), "failing_since": None}
                            for w in self.workers]}

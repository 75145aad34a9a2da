"""Camera leases: several `vigil run` workers on one site config and one PostgreSQL share the
site's cameras, each camera analysed by exactly one worker at a time.

Why lease rows (camera_leases: owner + expiry by PostgreSQL's clock) and not session advisory
locks: an advisory lock lives as long as its connection, so after a network partition the
server keeps it until TCP keepalives notice (minutes by default) while the cut-off worker cannot
know whether it still holds it. A lease has one expiry both sides can reason about: the server
frees the camera `ttl` seconds after the last renewal, and the worker stops analysing it
earlier, `ttl - margin` seconds after it *sent* that renewal by its own monotonic clock. So the
old owner has stopped before the new one can start, whatever the clocks say, and a killed
worker's cameras are free after at most `ttl` seconds. The rows also show who runs what
(`vigil db stats`).

`CameraLeases` is the SQL (one short transaction per call); `LeaseKeeper` is the thread that
renews, acquires up to the worker's fair share (cameras / live workers, capped by its capacity)
and hands over cameras above it, one at a time, so adding a worker spreads the load. The daemon
asks the keeper which cameras to run (`wanted()`) and tells it when one has stopped
(`stopped()`), and only then is a handed-over lease released.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from vigil.store.schema import camera_leases, lease_workers, runs
from vigil.store.writer import describe as describe_error

log = logging.getLogger("vigil.live")

# PostgreSQL's clock in epoch microseconds: every expiry is compared on the one clock.
DB_NOW_US = sa.text("(extract(epoch from clock_timestamp()) * 1000000)::bigint")


def worker_id() -> str:
    """Readable and unique: host (the pod name under Kubernetes), pid, a random suffix."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class CameraLeases:
    """The lease rows of one site, for one worker (`owner`). PostgreSQL only: the statements
    rely on row locks and ON CONFLICT ... WHERE, which make two workers' acquisitions of one
    camera take turns, so exactly one wins."""

    def __init__(self, engine: sa.Engine, site: str, owner: str, ttl: float) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("camera leases need PostgreSQL; on SQLite one worker runs every camera")
        self.engine, self.site, self.owner = engine, site, owner
        self.ttl_us = int(ttl * 1e6)

    def beat(self, capacity: int) -> int:
        """Mark this worker alive; returns how many workers of the site are alive (this one included)."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO lease_workers (id, site, capacity, seen_us) VALUES (:id, :site, :cap, " + DB_NOW_US.text
                + ") ON CONFLICT (id) DO UPDATE SET seen_us = EXCLUDED.seen_us, capacity = EXCLUDED.capacity"),
                {"id": self.owner, "site": self.site, "cap": capacity})
            # Workers gone for an hour are forgotten, so the table does not grow with restarts.
            conn.execute(sa.delete(lease_workers).where(lease_workers.c.site == self.site,
                                                        lease_workers.c.seen_us < sa.literal_column(DB_NOW_US.text)
                                                        - 3600_000_000))
            return conn.execute(sa.select(sa.func.count()).select_from(lease_workers).where(
                lease_workers.c.site == self.site,
                lease_workers.c.seen_us >= sa.literal_column(DB_NOW_US.text) - self.ttl_us)).scalar_one()

    def renew(self, cameras: Iterable[str]) -> set[str]:
        """Extend the leases this worker still holds; returns those (a camera missing from the
        answer was taken over after this worker's lease ran out)."""
        cams = sorted(cameras)
        if not cams:
            return set()
        with self.engine.begin() as conn:
            return set(conn.execute(
                sa.update(camera_leases)
                .where(camera_leases.c.site == self.site, camera_leases.c.owner == self.owner,
                       camera_leases.c.camera_id.in_(cams))
                .values(expires_us=sa.literal_column(DB_NOW_US.text) + self.ttl_us)
                .returning(camera_leases.c.camera_id)).scalars())

    def acquire(self, candidates: Iterable[str], n: int) -> list[str]:
        """Take up to `n` of `candidates` that nobody holds (no row, or its lease ran out). A run
        the previous holder left `running` is marked interrupted at its last sign of life, in the
        same transaction: its worker is dead or has stopped analysing the camera by now."""
        won: list[str] = []
        for cam in candidates:
            if len(won) >= n:
                break
            with self.engine.begin() as conn:
                got = conn.execute(sa.text(
                    "INSERT INTO camera_leases (site, camera_id, owner, acquired_us, expires_us) "
                    f"VALUES (:site, :cam, :owner, {DB_NOW_US.text}, {DB_NOW_US.text} + :ttl) "
                    "ON CONFLICT (site, camera_id) DO UPDATE SET owner = EXCLUDED.owner, "
                    "acquired_us = EXCLUDED.acquired_us, expires_us = EXCLUDED.expires_us "
                    f"WHERE camera_leases.expires_us < {DB_NOW_US.text} RETURNING camera_id"),
                    {"site": self.site, "cam": cam, "owner": self.owner, "ttl": self.ttl_us}).first()
                if got is None:
                    continue
                seen = sa.func.coalesce(runs.c.heartbeat_us, runs.c.started_us)
                conn.execute(sa.update(runs).where(runs.c.camera_id == cam, runs.c.kind == "live",
                                                   runs.c.status == "running")
                             .values(status="interrupted", finished_us=seen,
                                     error=f"taken over by worker {self.owner}: the previous worker stopped "
                                           "renewing its lease; counts after its last flush are lost"))
            won.append(cam)
        return won

    def release(self, cameras: Iterable[str]) -> None:
        cams = sorted(cameras)
        if cams:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(camera_leases).where(camera_leases.c.site == self.site,
                                                            camera_leases.c.owner == self.owner,
                                                            camera_leases.c.camera_id.in_(cams)))

    def leave(self) -> None:
        """Release every lease and the worker row (a clean stop): the others take over at once."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(camera_leases).where(camera_leases.c.site == self.site,
                                                        camera_leases.c.owner == self.owner))
            conn.execute(sa.delete(lease_workers).where(lease_workers.c.id == self.owner))

    def holders(self) -> dict[str, str]:
        """camera -> owner of the unexpired leases of the site."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(camera_leases.c.camera_id, camera_leases.c.owner).where(
                camera_leases.c.site == self.site,
                camera_leases.c.expires_us >= sa.literal_column(DB_NOW_US.text))).all()
        return {r[0]: r[1] for r in rows}


class LeaseKeeper:
    """The thread that keeps this worker's leases. `wanted()` is the set of cameras the daemon
    should run now: empty once no renewal has succeeded for `ttl - margin` seconds (the database
    is unreachable), so a cut-off worker stops counting before anyone else may start."""

    def __init__(self, leases: CameraLeases, cameras: list[str], capacity: int, *, ttl: float,
                 renew_every: float) -> None:
        if not 0 < renew_every <= ttl / 3:
            raise ValueError(f"lease renew interval {renew_every:g} s must be at most a third of the ttl {ttl:g} s")
        self.leases, self.cameras, self.capacity = leases, list(cameras), capacity
        self.ttl, self.renew_every = ttl, renew_every
        self.margin = renew_every  # stop this long before the server frees the camera
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._handing_over: dict[str, int] = {}  # camera -> its hand-over number: stopping, then released
        self._handovers = 0
        self._resting: dict[str, float] = {}  # given back after a failed start: not retaken until (monotonic)
        self._stopped: set[str] = set()       # stopped by the daemon, lease still to release
        self._valid_until = 0.0                # monotonic; after it, held leases may have run out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-leases", daemon=True)
        self.workers = 1
        self.said_full = False
        self.healthy = False
        self._ticks = 0

    # -- daemon side ----------------------------------------------------------------------------
    def wanted(self) -> set[str]:
        with self._lock:
            if time.monotonic() >= self._valid_until:
                return set()
            return self._held - self._handing_over.keys()

    def handover(self, camera: str) -> int | None:
        """The number of `camera`'s hand-over under way (for `stopped`), None when it is not one."""
        with self._lock:
            return self._handing_over.get(camera)

    def give_back(self, camera: str) -> None:
        """Hand `camera` back now (the daemon could not start it): released on the next tick."""
        with self._lock:
            if camera in self._held:
                self._handovers += 1
                self._handing_over[camera] = self._handovers
                self._stopped.add(camera)
                self._resting[camera] = time.monotonic() + self.ttl  # another worker may do better

    def valid_until_us(self) -> int:
        """When (wall clock, epoch µs) the leases held now may run out, unless renewed."""
        with self._lock:
            left = self._valid_until - time.monotonic()
        return time.time_ns() // 1000 + int(left * 1e6)

    def stopped(self, camera: str, handover: int | None) -> None:
        """The daemon has stopped analysing `camera` and stored its run's end: hand-over number
        `handover` (from `handover()` when it stopped) is released on the next tick. Anything
        else is ignored: a camera stopped because its lease ran out (nothing to hand back), or
        a late word about an earlier hand-over after this worker won the camera again."""
        with self._lock:
            if handover is not None and self._handing_over.get(camera) == handover:
                self._stopped.add(camera)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and release everything (call after the daemon stopped its cameras)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)
        try:
            self.leases.leave()
        except Exception as exc:  # noqa: BLE001 - the leases then run out by themselves
            log.warning("could not release camera leases (they expire in %.0f s): %s", self.ttl,
                        describe_error(exc), extra={"event": "lease_error"})

    # -- thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.renew_every)

    def tick(self) -> None:
        """One round: beat, renew, release what was handed over, acquire up to the fair share."""
        sent = time.monotonic()
        try:
            self.workers = self.leases.beat(self.capacity)
            with self._lock:
                held, done = set(self._held), set(self._stopped)
            kept = self.leases.renew(held)
            if done:
                self.leases.release(done & kept)
            with self._lock:
                lost = held - kept
                self._held = kept - done
                for cam in done:
                    self._handing_over.pop(cam, None)
                self._stopped -= done
                self._valid_until = sent + self.ttl - self.margin
                held = set(self._held)
            for cam in sorted(lost):
                log.warning("%s: lease lost (taken over by another worker after ours ran out)", cam,
                            extra={"camera": cam, "event": "lease_lost"})
            self._ticks += 1
            if self._ticks > 1:  # the first round only says hello, so workers started together see each other
                self._balance(held)
            if not self.healthy and self._ticks > 1:
                log.info("camera leases renewed again", extra={"event": "lease_ok"})
            self.healthy = True
        except Exception as exc:  # noqa: BLE001 - connection lost: keep trying; wanted() runs dry
            if self.healthy or self._valid_until == 0.0:
                log.error("cannot reach the database to renew camera leases (%s); cameras stop in %.0f s "
                          "unless it answers", describe_error(exc), max(0.0, self._valid_until - time.monotonic()),
                          extra={"event": "lease_error"})
            self.healthy = False
            if time.monotonic() >= self._valid_until:
                with self._lock:
                    if self._held:
                        log.error("gave up %d camera(s): leases not renewed for %.0f s",
                                  len(self._held), self.ttl - self.margin, extra={"event": "lease_lost"})
                    # The server frees them at its expiry; the daemon has stopped them already.
                    self._held.clear()
                    self._handing_over.clear()

    def fair_share(self) -> int:
        return min(self.capacity, math.ceil(len(self.cameras) / max(1, self.workers)))

    def _balance(self, held: set[str]) -> None:
        share = self.fair_share()
        with self._lock:
            running = held - self._handing_over.keys()
        if len(running) > share:  # a worker joined: hand one camera over per round
            cam = sorted(running)[-1]
            with self._lock:
                self._handovers += 1
                self._handing_over[cam] = self._handovers
            log.info("%s: handing over to another worker (%d workers share %d cameras)", cam, self.workers,
                     len(self.cameras), extra={"camera": cam, "event": "lease_handover"})
            return
        want = share - len(held)
        if want <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._resting = {c: t for c, t in self._resting.items() if t > now}
            free = [c for c in self.cameras if c not in held and c not in self._resting]
        won = self.leases.acquire(free, want)
        with self._lock:
            self._held |= set(won)
        for cam in won:
            log.info("%s: lease acquired", cam, extra={"camera": cam, "event": "lease_acquired"})
        if not held and not won and not self.said_full:
            self.said_full = True
            log.warning("no free camera: all %d cameras of site '%s' are held by other workers; standing by to "
                        "take over", len(self.cameras), self.leases.site, extra={"event": "standby"})

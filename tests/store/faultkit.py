"""Real faults for store tests: a PostgreSQL server of its own that a test may stop and start
(the session's server is shared), and a size-capped SQLite file system that fills up."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pg_fixture import PgServer, _unavailable_reason, serve
from tests.support.tmpfs import Tmpfs


class RestartablePg(PgServer):
    def _opts(self) -> str:
        return f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200"

    def halt(self) -> None:
        """Stop at once, as a crash would (in-flight transactions are lost, clients cut off)."""
        r = self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        assert r.returncode == 0, r.stderr

    def resume(self) -> None:
        r = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", self._opts(),
                      "start")
        assert r.returncode == 0, r.stderr

    def restart_later(self, down_s: float, after_s: float = 0.0) -> threading.Thread:
        """Halt after `after_s`, start again `down_s` later, in a thread (join it)."""
        def go():
            time.sleep(after_s)
            self.halt()
            time.sleep(down_s)
            self.resume()
        t = threading.Thread(target=go, daemon=True)
        t.start()
        return t


def started_pg(cls: type[PgServer] = PgServer) -> PgServer:
    """A throwaway server, started, for a measure script (stop it when done); exits with the
    reason when PostgreSQL's binaries are missing."""
    reason, bindir, run_as = _unavailable_reason()
    if reason:
        sys.exit(reason)
    server = cls(bindir, run_as)
    server.start()
    return server


@pytest.fixture(scope="module")
def restartable_pg():
    """A PostgreSQL server of the module's own, so that stopping it disturbs no other test."""
    yield from serve(RestartablePg)


class SmallDisk:
    """A directory whose file system fills up: a 4 MiB tmpfs when we may mount one (root),
    else (or with how="pages") SQLite's max_page_count on every checkout (the same SQLITE_FULL)."""

    def __init__(self, root: Path, how: str = "tmpfs") -> None:
        self.path = root / "small"
        self.path.mkdir()
        self.tmpfs = Tmpfs(self.path, "4m") if how == "tmpfs" and os.geteuid() == 0 else None
        self.mounted = self.tmpfs is not None and self.tmpfs.mounted.returncode == 0
        self.max_pages = 0  # fallback only: 0 = no cap

    def limit(self, engine: sa.Engine) -> None:
        if not self.mounted:
            @sa.event.listens_for(engine, "checkout")
            def _cap(dbapi_conn, *_):
                dbapi_conn.execute(f"PRAGMA max_page_count={self.max_pages or 4294967294}")
            engine.dispose()

    def fill(self, engine: sa.Engine) -> None:
        """Leave (almost) no room."""
        if self.tmpfs and self.mounted:
            self.tmpfs.fill()
        else:
            with engine.connect() as conn:
                self.max_pages = conn.exec_driver_sql("PRAGMA page_count").scalar() + 1

    def free(self) -> None:
        if self.tmpfs and self.mounted:
            self.tmpfs.free()
        else:
            self.max_pages = 0

    def remove(self) -> None:
        if self.tmpfs and self.mounted:
            self.tmpfs.unmount()


@pytest.fixture(params=["tmpfs", "pages"])
def small_disk(request, tmp_path):
    disk = SmallDisk(tmp_path, request.param)
    yield disk
    disk.remove()

"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, a fresh cluster in
a temp dir, listening on 127.0.0.1 on a free port, trust auth, fsync off; stopped and
deleted at the end of the session. PostgreSQL refuses to run as root, so under root the
server runs as the `postgres` user (created by the Debian package).

Fixtures (imported by tests/conftest.py):
- `pg_server`: the session's `PgServer` (skips with the reason when it cannot start);
- `pg_url`: a SQLAlchemy URL for one test, whose connections see a new, empty schema
  (`pg_server.create_database()` gives a whole new database when a test needs one).
Env: VIGIL_PG_BIN overrides the directory holding initdb/pg_ctl.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def find_pg_bin() -> Path | None:
    """The newest directory with initdb and pg_ctl (VIGIL_PG_BIN, /usr/lib/postgresql/*/bin, PATH)."""
    cands = []
    if os.environ.get("VIGIL_PG_BIN"):
        cands.append(os.environ["VIGIL_PG_BIN"])
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    cands += sorted(versioned, key=lambda p: [int(x) for x in re.findall(r"\d+", p)], reverse=True)
    if shutil.which("initdb"):
        cands.append(str(Path(shutil.which("initdb")).parent))
    for c in cands:
        if (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, bindir: Path, run_as: str | None) -> None:
        self.bindir, self.run_as = bindir, run_as
        self.root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.user = "vigil"
        if run_as:
            pw = pwd.getpwnam(run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kw = {}
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, cwd=self.root, **kw)

    def start(self) -> None:
        r = self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                       "--no-sync", "--no-instructions")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()}")
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200"
        r = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", opts, "start")
        if r.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log}")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _sql(self, statement: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname} connect_timeout=30",
                             autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self) -> str:
        """A new database (CREATE DATABASE copies a template: about a second on a busy CPU)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_schema(self) -> str:
        """A new, empty schema in the shared `vigil_tests` database, made the connection's
        search_path through the URL: as isolated as a database for Vigil, and much faster."""
        if not getattr(self, "_test_db", False):
            self._sql('CREATE DATABASE "vigil_tests"')
            self._test_db = True
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._sql(f'CREATE SCHEMA "{name}"', "vigil_tests")
        return self.url("vigil_tests") + f"?options=-csearch_path%3D{name}"


def _unavailable_reason() -> tuple[str | None, Path | None, str | None]:
    bindir = find_pg_bin()
    if bindir is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin "
                "or PATH; install Debian's `postgresql` package", None, None)
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as", None, None
        run_as = "postgres"
    return None, bindir, run_as


def serve(cls: type[PgServer] = PgServer):
    """A started server of `cls` for a fixture to yield (skips with the reason when PostgreSQL is
    not installed; binaries present but failing is an error worth seeing, not a skip)."""
    reason, bindir, run_as = _unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = cls(bindir, run_as)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server():
    yield from serve(PgServer)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A SQLAlchemy URL whose connections see a fresh, empty schema on the session's server."""
    return pg_server.create_schema()

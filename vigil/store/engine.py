"""Open a database by URL: normalise the URL, set SQLite up for concurrent use (WAL), turn
connection failures into one clear line with the password masked, migrate to head."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from vigil.errors import VigilError
from vigil.secrets import mask_url, quote_credentials
from vigil.store.schema import HEAD_REVISION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SUPPORTED = ("sqlite", "postgresql")


class StoreError(VigilError):
    """The database cannot be opened or used."""


T = TypeVar("T")
# Any 32-bit number unique to Vigil: the PostgreSQL advisory lock held while migrating.
MIGRATION_LOCK = 0x76696731


def is_transient(exc: BaseException) -> bool:
    """Failures that go away by themselves: server down or restarting, connection lost,
    `database is locked`, deadlock, disk full. Bad data (IntegrityError, DataError, ...) is not."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)
    return isinstance(exc, (sa.exc.TimeoutError, OSError))


def retry_transient(fn: Callable[[], T], window: float, what: str, url: str) -> T:
    """fn(), retried with capped backoff while it fails transiently, for up to `window` seconds;
    then a StoreError naming what failed and why."""
    deadline, delay = time.monotonic() + window, 0.05
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise StoreError(f"{what} failed: database '{url}' unavailable for {window:g} s "
                                 f"({first_line(exc)})") from exc
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def parse_url(text: str) -> URL:
    """A SQLAlchemy URL from user text. A bare file path means SQLite; postgres:// and
    postgresql:// use psycopg 3 (the driver Vigil ships), not SQLAlchemy's psycopg2 default."""
    text = str(text).strip()
    if not text:
        raise StoreError("empty database URL; use e.g. sqlite:///vigil.db or postgresql+psycopg://user@host/db")
    if "://" not in text:
        return make_url(f"sqlite:///{text}")
    try:
        url = make_url(quote_credentials(text))  # a raw '@' or '#' in the password stays in the password
    except Exception:
        raise StoreError(f"'{mask_url(text)}' is not a database URL; use e.g. sqlite:///vigil.db or "
                         "postgresql+psycopg://user:password@host:5432/db") from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in SUPPORTED:
        raise StoreError(f"database '{masked(url)}' is not supported; Vigil stores to SQLite or PostgreSQL")
    return url


def masked(url: URL | str) -> str:
    """The URL as text with any password (in the user part or the query) replaced by ***."""
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    return mask_url(text)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


def create(url: URL) -> Engine:
    """An engine with the settings each backend needs; nothing is connected yet."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        memory = database in ("", ":memory:")
        if not memory:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kw: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:  # one shared connection, or every thread would see its own empty database
            kw["poolclass"] = StaticPool
        engine = sa.create_engine(url, **kw)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed data
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")   # 64 MiB page cache
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def current_revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine):
    """Serialize opening one SQLite file across processes: an flock on a sibling
    `<db>-migrate.lock` (not on the database itself: closing any descriptor of a file drops
    the process's SQLite locks on it). Nothing for in-memory databases."""
    db = engine.url.database
    if db in (None, "", ":memory:"):
        yield
        return
    with exclusive_file(Path(db).expanduser().with_name(Path(db).name + "-migrate.lock")):
        yield


@contextlib.contextmanager
def exclusive_file(path: Path):
    """Hold an flock on `path` while inside, and remove the file on the way out, so no lock
    file is left next to the database. Removing an flock'd file is only safe because every
    holder checks, once it has the lock, that the file it locked is still the one at `path`:
    a process that opened the file before it was removed and then waited gets the lock on a
    file nobody else will lock again, sees that, and starts over on the file at `path` (new
    or absent). The open descriptor keeps the old inode from being reused meanwhile. Where the
    folder is read-only there is no lock (nobody can be migrating there either)."""
    f = None
    deadline = time.monotonic() + _LOCK_WAIT_S
    while True:
        try:
            f = open(path, "a")  # noqa: SIM115 - closed below, after the unlink
        except OSError:
            f = None
            break
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            held, now = os.fstat(f.fileno()), os.stat(path)
            if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                break
        except FileNotFoundError:
            pass
        f.close()  # removed while we waited: lock the one there now
        f = None
        if time.monotonic() > deadline:  # every retry follows another opener's whole migration
            raise StoreError(f"could not lock {path}: the file keeps being replaced (is the folder on a "
                             "filesystem without flock, such as some network mounts?); put the database on "
                             "a local disk")
        time.sleep(0.005)
    try:
        yield
    finally:
        if f is not None:
            with contextlib.suppress(OSError):
                path.unlink()  # still holding the lock: whoever waits on this file starts over
            f.close()


_LOCK_WAIT_S = 600.0  # openers taking turns migrate one after another; a retry loop past this is broken


def migrate(engine: Engine) -> None:
    """Bring the schema to head. Alembic is only loaded when there is something to do.
    Processes opening a fresh database at once take turns (a file lock on SQLite, held from
    the first connection, which may switch a new file to WAL; an advisory lock on
    PostgreSQL); the next one in finds the schema at head and does nothing."""
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine), engine.begin() as conn:
            _upgrade(conn)
        return
    with engine.connect() as conn:
        if current_revision(conn) == HEAD_REVISION:
            return
    with engine.begin() as conn:  # the lock is released at commit, after alembic_version is written
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        _upgrade(conn)


def _upgrade(conn: sa.Connection) -> None:
    if current_revision(conn) != HEAD_REVISION:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_engine(text: str, create_missing: bool = True) -> Engine:
    url = parse_url(text)
    if not create_missing and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database).expanduser()
        if not path.is_file():
            raise StoreError(f"database {path.resolve()} does not exist; run `vigil replay` or `vigil run` "
                             "first to create it, or check --db / --config / $VIGIL_DB")
    try:
        engine = create(url)
        migrate(engine)
    except StoreError:
        raise
    except Exception as exc:
        why = first_line(exc)
        if url.password:
            why = why.replace(str(url.password), "***")
        raise StoreError(f"cannot open database '{masked(url)}': {why}") from None
    return engine

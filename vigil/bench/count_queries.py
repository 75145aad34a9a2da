"""`vigil bench counts`: a synthetic SQLite store of N events and the time count queries take.

Events are generated inside SQLite by one recursive-CTE INSERT (no Python per row), in time
order as a live system writes them, spread evenly over `days` across every series of
`cameras` cameras (lines L1, L2 and zone Z1; six classes; in/out). The aggregates are then
built by aggregates.rebuild(), the same code that repairs a real store.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from vigil.store.aggregates import rebuild
from vigil.store.schema import cameras, runs, series
from vigil.store.store import Store
from vigil.store.timebuckets import to_us
from vigil.types import CLASS_NAMES

NAMES = (("line", "L1"), ("line", "L2"), ("zone", "Z1"))
START = datetime(2026, 1, 5, tzinfo=UTC)


def default_path(n_events: int, days: int, n_cameras: int) -> Path:
    return Path(tempfile.gettempdir()) / f"vigil-bench-counts-{n_events}-{days}d-{n_cameras}c.db"


def generate(path: Path, n_events: int, days: int, n_cameras: int, log: Callable[[str], None] = print) -> Store:
    """Create (or reuse, when complete) the synthetic store at `path`."""
    url = f"sqlite:///{path}"
    if path.exists():
        store = Store(url)
        with store.engine.connect() as conn:
            have = conn.execute(sa.text("SELECT max(id) FROM events")).scalar() or 0
            done = conn.execute(sa.text("SELECT count(*) FROM runs WHERE status = 'done'")).scalar()
        if have == n_events and done == n_cameras:
            log(f"reusing {path} ({n_events:,} events)")
            return store
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    Store(url).close()  # schema via the migrations
    keys = [(f"cam{c + 1}", kind, name, cls, d) for c in range(n_cameras) for kind, name in NAMES
            for cls in CLASS_NAMES for d in ("in", "out")]
    per_camera = len(keys) // n_cameras
    engine = sa.create_engine(url)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        # A bulk load, not a live write path: no journal, no fsync. The indexes stay: rows come
        # in time order, so each index only appends at a few hot pages (cheaper than a re-sort).
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144", "temp_store=MEMORY"):
            conn.exec_driver_sql(f"PRAGMA {pragma}")
        now = to_us(datetime.now(UTC))
        conn.execute(cameras.insert(), [{"id": f"cam{c + 1}", "created_us": now} for c in range(n_cameras)])
        conn.execute(runs.insert(), [{"id": c + 1, "camera_id": f"cam{c + 1}", "kind": "replay",
                                      "source": "synthetic", "status": "running", "frames": 0,
                                      "started_us": now} for c in range(n_cameras)])
        conn.execute(series.insert(), [{"id": i + 1, "camera_id": k[0], "kind": k[1], "name": k[2],
                                        "class_name": k[3], "direction": k[4]} for i, k in enumerate(keys)])
        start_us, step_us = to_us(START), days * 86400 * 1_000_000 // n_events
        # n-th event: evenly spaced in time plus jitter, on a random series; zone exits get a dwell.
        conn.execute(sa.text(f"""
            WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {n_events - 1})
            INSERT INTO events (id, run_id, series_id, track_id, t_us, dwell_s)
            SELECT n + 1, (s - 1) / {per_camera} + 1, s, n / 7,
                   {start_us} + n * {step_us} + abs(random()) % {step_us},
                   CASE WHEN s % {per_camera} > {per_camera * 2 // 3} AND s % 2 = 0 THEN (n % 600) * 0.5 END
            FROM (SELECT n, abs(random()) % {len(keys)} + 1 AS s FROM g)"""))
        conn.execute(sa.update(runs).values(status="done"))
        conn.commit()
        t1 = time.perf_counter()
        rebuild(conn)
        conn.commit()
        t2 = time.perf_counter()
        conn.exec_driver_sql("ANALYZE")
        hour_rows = conn.execute(sa.text("SELECT count(*) FROM counts_3600s")).scalar()
        conn.commit()
    engine.dispose()
    log(f"generated {n_events:,} events over {days} days, {n_cameras} cameras, {len(keys)} series: "
        f"insert {t1 - t0:.1f} s, aggregates {t2 - t1:.1f} s "
        f"({hour_rows:,} hour rows) -> {path}")
    return Store(url)  # back in WAL mode


@dataclass
class Timing:
    label: str
    rows: int
    first_ms: float
    median_ms: float
    best_ms: float
    cpu_ms: float  # median CPU time of this process: close to the wall time on an idle machine


def time_query(label: str, fn: Callable[[], list], repeat: int) -> Timing:
    wall, cpu, rows = [], [], 0
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        rows = len(fn())
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return Timing(label, rows, wall[0], statistics.median(wall), min(wall), statistics.median(cpu))


# `vigil counts` options -> the Store.counts call they make.
QUERIES = [
    ("--by hour", dict(by="hour")),
    ("--by hour --tz Europe/Berlin", dict(by="hour", tz="Europe/Berlin")),
    ("--by day --tz Europe/Berlin", dict(by="day", tz="Europe/Berlin")),
    ("--by week --tz America/New_York", dict(by="week", tz="America/New_York")),
    ("--by hour --tz Asia/Kolkata (15-min level)", dict(by="hour", tz="Asia/Kolkata")),
    ("(totals, no buckets)", dict()),
    ("--camera cam1 --class car --since 2026-01-10T08:20:17 --until 2026-01-20T17:03:41 --by 15min",
     dict(camera="cam1", class_name="car", since="2026-01-10T08:20:17", until="2026-01-20T17:03:41",
          by="15min")),
]


def time_queries(store: Store, repeat: int) -> list[Timing]:
    """Each of QUERIES on `store`, `repeat` times."""
    return [time_query(label, lambda kw=kw: store.counts(**kw), repeat) for label, kw in QUERIES]

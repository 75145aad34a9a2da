"""What a database holds, for `vigil db stats`: rows per table, the time each level covers,
runs by status, who holds which camera lease, and the size on disk."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from vigil.store.schema import LEVELS, aggregates, camera_leases, events, metadata, runs
from vigil.store.timebuckets import from_us

US = 1_000_000


def _iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat()


def db_stats(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        rows = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}
        lo, hi = conn.execute(sa.select(sa.func.min(events.c.t_us), sa.func.max(events.c.t_us))).one()
        levels = {}
        for level in LEVELS:
            t = aggregates[level]
            a, b = conn.execute(sa.select(sa.func.min(t.c.bucket_ts), sa.func.max(t.c.bucket_ts))).one()
            levels[f"{level}s"] = {"rows": rows[t.name], "first": _iso(None if a is None else a * US),
                                   "last": _iso(None if b is None else (b + level) * US)}
        by_status: dict[str, int] = {r[0]: r[1] for r in conn.execute(
            sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status))}
        leases = [{"site": r[0], "camera": r[1], "owner": r[2], "expires": _iso(r[3])} for r in conn.execute(
            sa.select(camera_leases.c.site, camera_leases.c.camera_id, camera_leases.c.owner,
                      camera_leases.c.expires_us).order_by(camera_leases.c.site, camera_leases.c.camera_id))]
        timescale = None
        if engine.dialect.name == "postgresql":
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
            # Retention uses batched deletes; TimescaleDB would only be an option where it exists.
            timescale = conn.execute(sa.text(
                "SELECT coalesce(installed_version, 'available ' || default_version) FROM pg_available_extensions "
                "WHERE name = 'timescaledb'")).scalar() or "not available"
        else:
            db = engine.url.database
            size = sum(p.stat().st_size for p in (Path(f"{db}{s}") for s in ("", "-wal", "-shm"))
                       if db and p.is_file())
    return {"rows": rows, "events": {"first": _iso(lo), "last": _iso(hi)}, "aggregates": levels,
            "runs": by_status, "leases": leases, "size_bytes": int(size or 0), "timescaledb": timescale}

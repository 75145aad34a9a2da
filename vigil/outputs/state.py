"""Running states the MQTT output keeps retained on the broker: counts per series (all events
stored for it) and zone occupancy (entries minus exits in the camera's latest run; a run
starts with empty zones and closes its open visits when it ends). Read from the database, so
they are right whoever wrote the events and however often a delivery was retried."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.store.schema import aggregates, events, runs, series

SeriesKey = tuple[str, str, str, str, str]  # camera, kind, name, class, direction


def totals(engine: sa.Engine, cameras: list[str]) -> dict[SeriesKey, int]:
    """Stored events per series of these cameras (from the hourly aggregates: a few rows per series-day)."""
    hourly = aggregates[max(aggregates)]
    q = (sa.select(series.c.camera_id, series.c.kind, series.c.name, series.c.class_name, series.c.direction,
                   sa.func.sum(hourly.c["count"]))
         .select_from(series.join(hourly, hourly.c.series_id == series.c.id))
         .where(series.c.camera_id.in_(cameras)).group_by(series.c.id))
    with engine.connect() as conn:
        return {tuple(r[:5]): int(r[5]) for r in conn.execute(q)}  # type: ignore[misc]


def occupancy(engine: sa.Engine, cameras: list[str]) -> dict[tuple[str, str, str], int]:
    """(camera, zone, class) -> tracks inside, in each camera's latest run."""
    latest = (sa.select(runs.c.camera_id, sa.func.max(runs.c.id).label("run_id"))
              .where(runs.c.camera_id.in_(cameras), runs.c.status != "replaced")
              .group_by(runs.c.camera_id).subquery())
    sign = sa.case((series.c.direction == "in", 1), else_=-1)
    q = (sa.select(series.c.camera_id, series.c.name, series.c.class_name, sa.func.sum(sign))
         .select_from(events.join(latest, events.c.run_id == latest.c.run_id)
                      .join(series, series.c.id == events.c.series_id))
         .where(series.c.kind == "zone").group_by(series.c.camera_id, series.c.name, series.c.class_name))
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): max(0, int(r[3])) for r in conn.execute(q)}

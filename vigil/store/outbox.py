"""The outbox: events waiting for the outputs, and how far each output got.

Writers add a row per stored event in the same transaction (see writer.write_events), so
what the outputs deliver is exactly what was committed. Each output keeps a cursor per
camera (the last outbox id it delivered) and reads on from there in id order: in order per
camera, at least once (the cursor moves only after delivery). Rows every output has passed
are deleted; the bounds (age, rows) drop the oldest undelivered ones, counted and logged."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from vigil.store.aggregates import insert_ignore
from vigil.store.schema import events, outbox, outbox_cursors, series
from vigil.store.timebuckets import from_us


@dataclass(frozen=True)
class OutboxRow:
    id: int               # outbox id: the cursor position
    camera: str
    event: dict | None    # Store.events row ({id, run_id, camera, kind, ...}); None if the event is gone


def add(conn: sa.Connection, rows: list[dict]) -> None:
    """Rows {camera_id, run_id, event_id, created_us}; called inside the events' transaction."""
    if rows:
        conn.execute(outbox.insert(), rows)


def cursors(engine: sa.Engine, output: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox_cursors.c.camera_id, outbox_cursors.c.last_id)
                                 .where(outbox_cursors.c.output == output)).all())


def cameras(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.camera_id).distinct().order_by(outbox.c.camera_id)).scalars())


def pending(engine: sa.Engine, camera: str, after: int, limit: int) -> list[OutboxRow]:
    """Up to `limit` rows of `camera` after outbox id `after`, oldest first, with their events."""
    q = (sa.select(outbox.c.id, events.c.id, events.c.run_id, series.c.kind, series.c.name, series.c.class_name,
                   series.c.direction, events.c.track_id, events.c.t_us, events.c.dwell_s)
         .select_from(outbox.outerjoin(events, sa.and_(events.c.id == outbox.c.event_id,
                                                       events.c.run_id == outbox.c.run_id))
                      .outerjoin(series, series.c.id == events.c.series_id))
         .where(outbox.c.camera_id == camera, outbox.c.id > after).order_by(outbox.c.id).limit(limit))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        ev = None if r[1] is None else {
            "id": r[1], "run_id": r[2], "camera": camera, "kind": r[3], "name": r[4], "class_name": r[5],
            "direction": r[6], "track_id": r[7], "time": from_us(r[8]), "dwell_s": r[9]}
        out.append(OutboxRow(r[0], camera, ev))
    return out


def advance(engine: sa.Engine, output: str, camera: str, last_id: int, now_us: int) -> None:
    """Move `output`'s cursor for `camera` to `last_id` (never back)."""
    with engine.begin() as conn:
        insert_ignore(conn, outbox_cursors, [{"output": output, "camera_id": camera, "last_id": 0,
                                              "updated_us": now_us}])
        conn.execute(sa.update(outbox_cursors).where(
            outbox_cursors.c.output == output, outbox_cursors.c.camera_id == camera,
            outbox_cursors.c.last_id < last_id).values(last_id=last_id, updated_us=now_us))


def depth(engine: sa.Engine, output: str) -> dict[str, int]:
    """Rows not yet delivered by `output`, per camera."""
    cur = outbox_cursors.alias("cur")
    q = (sa.select(outbox.c.camera_id, sa.func.count())
         .select_from(outbox.outerjoin(cur, sa.and_(cur.c.output == output, cur.c.camera_id == outbox.c.camera_id)))
         .where(outbox.c.id > sa.func.coalesce(cur.c.last_id, 0)).group_by(outbox.c.camera_id))
    with engine.connect() as conn:
        return dict(conn.execute(q).all())


@dataclass
class Pruned:
    delivered: int = 0  # rows every output had delivered
    dropped: int = 0    # rows dropped by the bounds before every output had them


def prune(engine: sa.Engine, outputs: list[str], max_age_us: int, max_rows: int, now_us: int) -> Pruned:
    """Delete the rows every output in `outputs` delivered, then apply the bounds."""
    done = Pruned()
    with engine.begin() as conn:
        cams = conn.execute(sa.select(outbox.c.camera_id).distinct()).scalars().all()
        for cam in cams:
            got = dict(conn.execute(sa.select(outbox_cursors.c.output, outbox_cursors.c.last_id).where(
                outbox_cursors.c.camera_id == cam, outbox_cursors.c.output.in_(outputs))).all())
            low = min((got.get(o, 0) for o in outputs), default=0)
            if low > 0:
                done.delivered += conn.execute(sa.delete(outbox).where(outbox.c.camera_id == cam,
                                                                       outbox.c.id <= low)).rowcount
        done.dropped += conn.execute(sa.delete(outbox).where(outbox.c.created_us < now_us - max_age_us)).rowcount
        n = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
        if n > max_rows:
            cut = conn.execute(sa.select(outbox.c.id).order_by(outbox.c.id).offset(n - max_rows - 1)
                               .limit(1)).scalar_one()
            done.dropped += conn.execute(sa.delete(outbox).where(outbox.c.id <= cut)).rowcount
    return done

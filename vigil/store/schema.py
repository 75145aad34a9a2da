"""The tables. Times are integers (UTC epoch microseconds for events, epoch seconds for
aggregate buckets): bucket arithmetic is then plain integer SQL that runs the same, and
fast, on SQLite and PostgreSQL.

Layout is a small star: `series` holds each distinct (camera, kind, name, class, direction)
once; events and the pre-aggregated counts refer to it by integer id, which keeps the
10M-row tables narrow and the GROUP BYs on two integers.

Aggregates come in levels (minute, 15 minutes, hour). A query in a time zone whose UTC
offsets are whole hours can read the hour level exactly; 30/45-minute zones fall back to
the 15-minute level; the minute level also serves minute buckets and unaligned range edges.
The schema is created by the Alembic migrations in vigil/store/migrations; a test checks
that they match this metadata.
"""

from __future__ import annotations

import sqlalchemy as sa

# Alembic head: Store skips loading Alembic when the database is already here.
HEAD_REVISION = "0007"

# Aggregate levels in seconds, finest first.
LEVELS = (60, 900, 3600)

# SQLite only aliases the rowid for a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

cameras = sa.Table(
    "cameras", metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera_id", sa.String(128), sa.ForeignKey("cameras.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),          # replay | live
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),        # running | done | failed | replaced | ...
    sa.Column("frames", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("started_us", sa.BigInteger, nullable=False),
    sa.Column("finished_us", sa.BigInteger, nullable=True),
    sa.Column("heartbeat_us", sa.BigInteger, nullable=True),  # last sign of life while running
    sa.Index("ix_runs_camera_hash", "camera_id", "content_hash"),
)

# One row per EventWriter: the sequence number of its last committed batch, so a batch
# retried after an ambiguous failure, or re-imported from a spill file, is stored once.
writers = sa.Table(
    "writers", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)

# Camera leases (PostgreSQL, several workers on one site; see vigil/live/leases.py): who analyses
# which camera until when, by the database's clock, and which workers are alive.
camera_leases = sa.Table(
    "camera_leases", metadata,
    sa.Column("site", sa.String(128), primary_key=True),
    sa.Column("camera_id", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("acquired_us", sa.BigInteger, nullable=False),
    sa.Column("expires_us", sa.BigInteger, nullable=False),
)

lease_workers = sa.Table(
    "lease_workers", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("site", sa.String(128), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("seen_us", sa.BigInteger, nullable=False),
)

series = sa.Table(
    "series", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera_id", sa.String(128), sa.ForeignKey("cameras.id"), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),           # line | zone
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("class_name", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),      # in | out
    sa.UniqueConstraint("camera_id", "kind", "name", "class_name", "direction", name="uq_series_key"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("series_id", sa.Integer, sa.ForeignKey("series.id"), nullable=False),
    sa.Column("track_id", sa.BigInteger, nullable=False),
    sa.Column("t_us", sa.BigInteger, nullable=False),
    sa.Column("dwell_s", sa.Float, nullable=True),
    sa.Column("speed_kmh", sa.Float, nullable=True),          # line events with a ground plane
    sa.Index("ix_events_series_time", "series_id", "t_us"),
    sa.Index("ix_events_time", "t_us"),
    sa.Index("ix_events_run", "run_id"),
)

# Event snapshots (JPEG crops), one per event at most; apart from the events so that the hot
# table stays narrow, deleted with their events (aggregates.remove_runs).
snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("event_id", BigId, sa.ForeignKey("events.id"), primary_key=True),
    sa.Column("jpeg", sa.LargeBinary, nullable=False),
)


def _aggregate_table(seconds: int) -> sa.Table:
    # Keyed (bucket, series): SQLite stores a WITHOUT ROWID table in key order, so a time
    # range is one contiguous scan that already comes out ordered by bucket.
    return sa.Table(
        f"counts_{seconds}s", metadata,
        sa.Column("bucket_ts", sa.BigInteger, primary_key=True),  # epoch seconds, multiple of `seconds`
        sa.Column("series_id", sa.Integer, sa.ForeignKey("series.id"), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


aggregates: dict[int, sa.Table] = {s: _aggregate_table(s) for s in LEVELS}


def _pruned_table(seconds: int) -> sa.Table:
    # No foreign keys: retention inserts here while it holds the pruned events' row locks, and a
    # key-share lock on the run (begin_run holds it FOR UPDATE, then deletes those events) would
    # deadlock the two.
    return sa.Table(
        f"pruned_counts_{seconds}s", metadata,
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("series_id", sa.Integer, primary_key=True),
        sa.Column("bucket_ts", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Index(f"ix_pruned_counts_{seconds}s_bucket", "bucket_ts"),
        sqlite_with_rowid=False,
    )


# What retention's deleted events of a replay (a run with a content hash) had added to each level,
# per run: replacing that run (the same file replayed again, begin_run) subtracts it along with
# the events still there, so its counts never double. Pruned with the level's own counts.
pruned_counts: dict[int, sa.Table] = {s: _pruned_table(s) for s in LEVELS}


# Events waiting for the outputs (MQTT, webhooks): written in the transaction that stores the
# events, only by writers of a site with outputs. No foreign key on event_id: an event deleted
# (its run replaced, retention) is simply not delivered.
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("camera_id", sa.String(128), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),  # with event_id: an id SQLite reused is told apart
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Index("ix_outbox_camera", "camera_id", "id"),
    # AUTOINCREMENT: SQLite would otherwise reuse the ids of delivered (deleted) rows, and
    # the outputs' cursors, already past them, would skip the new events.
    sqlite_autoincrement=True,
)

# How far each output got, per camera: the last outbox id it delivered.
outbox_cursors = sa.Table(
    "outbox_cursors", metadata,
    sa.Column("output", sa.String(64), primary_key=True),
    sa.Column("camera_id", sa.String(128), primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)

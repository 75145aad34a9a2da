"""First schema: cameras, runs, series, events, minute/15-minute/hour aggregates.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LEVELS = (60, 900, 3600)  # frozen copy of schema.LEVELS at this revision
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(128), sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("frames", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_runs_camera_hash", "runs", ["camera_id", "content_hash"])
    op.create_table(
        "series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(128), sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("class_name", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.UniqueConstraint("camera_id", "kind", "name", "class_name", "direction", name="uq_series_key"),
    )
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("series_id", sa.Integer, sa.ForeignKey("series.id"), nullable=False),
        sa.Column("track_id", sa.BigInteger, nullable=False),
        sa.Column("t_us", sa.BigInteger, nullable=False),
        sa.Column("dwell_s", sa.Float, nullable=True),
    )
    op.create_index("ix_events_series_time", "events", ["series_id", "t_us"])
    op.create_index("ix_events_time", "events", ["t_us"])
    op.create_index("ix_events_run", "events", ["run_id"])
    for s in LEVELS:
        op.create_table(
            f"counts_{s}s",
            sa.Column("bucket_ts", sa.BigInteger, primary_key=True),
            sa.Column("series_id", sa.Integer, sa.ForeignKey("series.id"), primary_key=True),
            sa.Column("count", sa.BigInteger, nullable=False),
            sqlite_with_rowid=False,
        )


def downgrade() -> None:
    for s in reversed(LEVELS):
        op.drop_table(f"counts_{s}s")
    op.drop_table("events")
    op.drop_table("series")
    op.drop_table("runs")
    op.drop_table("cameras")

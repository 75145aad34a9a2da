"""Outbox for the outputs (MQTT, webhooks).

outbox: one row per stored event while outputs are configured, written in the same
transaction as the event; deleted once every output delivered it (or dropped by the
outbox bounds). outbox_cursors: per output and camera, the last outbox id delivered.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,  # never reuse a delivered row's id (the cursors are past it)
    )
    op.create_index("ix_outbox_camera", "outbox", ["camera_id", "id"])
    op.create_table(
        "outbox_cursors",
        sa.Column("output", sa.String(64), primary_key=True),
        sa.Column("camera_id", sa.String(128), primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_cursors")
    op.drop_index("ix_outbox_camera", "outbox")
    op.drop_table("outbox")

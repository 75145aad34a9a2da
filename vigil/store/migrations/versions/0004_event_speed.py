"""Speeds on line events.

events.speed_kmh: the track's ground-plane speed when it crossed a line, for cameras with a
`ground:` section (NULL otherwise, and for zone events).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("speed_kmh", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("speed_kmh")

"""Run heartbeats and writer high-water marks.

runs.heartbeat_us: the last sign of life of a running run (its writer commits or pings it);
runs left `running` with an old heartbeat are marked `interrupted` when a Store opens.
writers: one row per EventWriter, the sequence number of its last committed batch, so a
batch retried after an ambiguous failure (connection lost during COMMIT) or re-imported
from a spill file is never stored twice.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("heartbeat_us", sa.BigInteger, nullable=True))
    op.execute("UPDATE runs SET heartbeat_us = COALESCE(finished_us, started_us)")
    op.create_table(
        "writers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("writers")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_us")

"""Camera leases: several `vigil run` workers share one site's cameras on PostgreSQL.

camera_leases: one row per (site, camera), the worker holding it and when the lease runs out
(PostgreSQL's clock, so workers' clocks never matter). lease_workers: each worker's last sign
of life and capacity, so a worker knows how many others share the cameras (its fair share).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_leases",
        sa.Column("site", sa.String(128), primary_key=True),
        sa.Column("camera_id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("acquired_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "lease_workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("seen_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lease_workers")
    op.drop_table("camera_leases")

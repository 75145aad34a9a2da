"""Pruned counts: what retention's deleted events of a replay had added to each aggregate level,
per run, so that replaying the same file again still subtracts the earlier run in full.

pruned_counts_60s / _900s / _3600s: (run_id, series_id, bucket_ts) -> count, pruned with the
level's own counts.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEVELS = (60, 900, 3600)


def upgrade() -> None:
    for s in LEVELS:
        op.create_table(
            f"pruned_counts_{s}s",
            sa.Column("run_id", sa.Integer, primary_key=True),
            sa.Column("series_id", sa.Integer, primary_key=True),
            sa.Column("bucket_ts", sa.BigInteger, primary_key=True),
            sa.Column("count", sa.BigInteger, nullable=False),
            sqlite_with_rowid=False,
        )
        op.create_index(f"ix_pruned_counts_{s}s_bucket", f"pruned_counts_{s}s", ["bucket_ts"])


def downgrade() -> None:
    for s in LEVELS:
        op.drop_index(f"ix_pruned_counts_{s}s_bucket", f"pruned_counts_{s}s")
        op.drop_table(f"pruned_counts_{s}s")

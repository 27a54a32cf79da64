"""API replicas on one database: replica heartbeats, cluster holders, task claims.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicas")),
    )
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=True))
        batch.create_index(batch.f("ix_clusters_holder"), ["holder"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=256), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("cancel_requested")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("clusters") as batch:
        batch.drop_index(batch.f("ix_clusters_holder"))
        batch.drop_column("summary")
        batch.drop_column("holder")
    op.drop_table("replicas")

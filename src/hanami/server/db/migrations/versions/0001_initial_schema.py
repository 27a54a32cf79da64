"""Initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.String(length=256), nullable=False, **kwargs)


def _resource_columns() -> list[sa.Column]:
    return [
        sa.Column("uuid", sa.String(length=36), nullable=False),
        _id("project_id"),
        _id("owner_id"),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        _id("name"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    ]


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(op.f(f"ix_{table}_{columns[0]}"), table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "users",
        _id("id"),
        _id("name"),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        _id("creator_id"),
        _id("password_hash"),
        sa.Column("security_stamp", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "projects",
        _id("id"),
        _id("name"),
        _id("creator_id"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_table(
        "user_project_roles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _id("user_id"),
        _id("project_id"),
        _id("role"),
        sa.Column("is_project_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_user_project_roles_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_project_roles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_project_roles")),
        sa.UniqueConstraint(
            "user_id", "project_id", name=op.f("uq_user_project_roles_user_id_project_id")
        ),
    )
    _index("user_project_roles", "project_id")
    _index("user_project_roles", "user_id")

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        _id("user_id"),
        _id("project_id"),
        _id("name"),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    _index("api_tokens", "user_id")

    op.create_table(
        "clusters",
        *_resource_columns(),
        sa.Column("template", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_clusters")),
    )
    op.create_table(
        "tasks",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("cluster_uuid", sa.String(length=36), nullable=False),
        _id("project_id"),
        _id("owner_id"),
        _id("name"),
        sa.Column("task_type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("current_cycle", sa.BigInteger(), nullable=False),
        sa.Column("total_number_of_cycles", sa.BigInteger(), nullable=False),
        sa.Column("time_length", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster_uuid"],
            ["clusters.uuid"],
            name=op.f("fk_tasks_cluster_uuid_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_tasks")),
    )
    _index("tasks", "cluster_uuid")
    op.create_table(
        "datasets",
        *_resource_columns(),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_datasets")),
    )
    op.create_table(
        "checkpoints",
        *_resource_columns(),
        sa.Column("cluster_uuid", sa.String(length=36), nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "tempfiles",
        *_resource_columns(),
        sa.Column("related_resource_type", sa.String(length=16), nullable=False),
        sa.Column("related_resource_uuid", sa.String(length=36), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_tempfiles")),
    )
    _index("tempfiles", "related_resource_uuid")
    for table in ("clusters", "datasets", "checkpoints", "tempfiles"):
        _index(table, "owner_id")
        _index(table, "project_id")

    op.create_table(
        "audit_log",
        sa.Column("id", LOG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _id("user_id"),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("request_type", sa.String(length=16), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    _index("audit_log", "created_at")
    _index("audit_log", "user_id")
    op.create_table(
        "error_log",
        sa.Column("id", LOG_ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _id("user_id"),
        sa.Column("component", sa.String(length=128), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("input_values", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_log")),
    )
    _index("error_log", "correlation_id")
    _index("error_log", "created_at")
    _index("error_log", "user_id")


def downgrade() -> None:
    for table in (
        "error_log",
        "audit_log",
        "tempfiles",
        "checkpoints",
        "datasets",
        "tasks",
        "clusters",
        "api_tokens",
        "user_project_roles",
        "projects",
        "users",
    ):
        op.drop_table(table)

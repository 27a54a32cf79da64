"""SQLAlchemy models of the service database.

Table and column names follow the original OpenHanami schema where one exists (``users``,
``projects``, ``clusters``, ``audit_log``, ...). Differences on purpose:

- real primary and foreign keys; project assignments are rows of ``user_project_roles``
  instead of a JSON column;
- rows are really deleted (no ``status``/``deleted_at``); the audit and error logs keep the
  history;
- ``tasks`` and ``api_tokens`` are new; timestamps are ``DateTime`` (naive UTC).

Resource tables (clusters, datasets, checkpoints, tempfiles) carry ``owner_id`` and
``project_id`` as plain strings without foreign keys: they hold the ids from the creator's
token (``admin`` is a pseudo-project) and outlive user and project deletion, like in the
original. :mod:`hanami.server.security.tenancy` filters them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hanami.protocol.timestamps import utcnow

__all__ = [
    "ApiToken",
    "AuditLog",
    "AuthState",
    "Base",
    "Checkpoint",
    "Cluster",
    "Dataset",
    "ErrorLog",
    "LoginAttempt",
    "Project",
    "Replica",
    "ResourceMixin",
    "Task",
    "Tempfile",
    "User",
    "UserProjectRole",
]

ID_LENGTH = 256
UUID_LENGTH = 36

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
LogId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(ID_LENGTH))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    creator_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(ID_LENGTH))
    security_stamp: Mapped[str] = mapped_column(String(64))
    """Random value copied into every token; a new stamp invalidates all tokens of the user."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    projects: Mapped[list[UserProjectRole]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="UserProjectRole.id",
        lazy="selectin",
    )


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(ID_LENGTH))
    creator_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UserProjectRole(Base):
    """One project assignment of a user; the first one (lowest ``id``) is the login project."""

    __tablename__ = "user_project_roles"
    __table_args__ = (UniqueConstraint("user_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(ID_LENGTH))
    is_project_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="projects")

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "role": self.role,
            "is_project_admin": self.is_project_admin,
        }


class ResourceMixin:
    """Columns shared by every tenant-scoped resource (original base columns minus status)."""

    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True, sort_order=-1)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True, sort_order=-1)
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True, sort_order=-1)
    visibility: Mapped[str] = mapped_column(String(10), default="private", sort_order=-1)
    name: Mapped[str] = mapped_column(String(ID_LENGTH), sort_order=-1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, sort_order=-1)


class Cluster(ResourceMixin, Base):
    __tablename__ = "clusters"

    template: Mapped[str | None] = mapped_column(Text, default=None)
    """Decoded cluster-template text the cluster was built from."""
    mode: Mapped[str] = mapped_column(String(16), default="TASK", server_default="TASK")
    """``TASK`` (tasks run) or ``DIRECT`` (websocket I/O; tasks wait); kept over restarts."""
    holder: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None, index=True)
    """The replica whose memory holds the cluster (:mod:`hanami.server.runtime.replicas`)."""
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """Widths and metrics as of the last autosave: what other replicas show of it."""

    tasks: Mapped[list[Task]] = relationship(
        back_populates="cluster", cascade="all, delete-orphan", passive_deletes=True
    )


class Task(Base):
    """A queued unit of work on one cluster (train, request, checkpoint save/restore)."""

    __tablename__ = "tasks"

    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    cluster_uuid: Mapped[str] = mapped_column(
        ForeignKey("clusters.uuid", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(ID_LENGTH))
    task_type: Mapped[str] = mapped_column(String(32))
    """``train``, ``request``, ``checkpoint_save`` or ``checkpoint_restore``."""
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued``, ``active``, ``aborted``, ``finished`` or ``failed``."""
    current_cycle: Mapped[int] = mapped_column(BigInteger, default=0)
    total_number_of_cycles: Mapped[int] = mapped_column(BigInteger, default=0)
    time_length: Mapped[int] = mapped_column(Integer, default=1)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Task inputs as given (inputs/outputs/results bindings, checkpoint uuid and location)."""
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    """The replica that runs (or last ran) the task; its writes are fenced by this."""
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """``DELETE /task`` through a replica that does not run the task."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    """Queue timestamp."""
    started_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)

    cluster: Mapped[Cluster] = relationship(back_populates="tasks")


class Dataset(ResourceMixin, Base):
    __tablename__ = "datasets"

    kind: Mapped[str | None] = mapped_column(String(16), default=None)
    """``mnist``, ``csv`` or ``request_result``."""
    location: Mapped[str] = mapped_column(Text, default="")
    """Server path of the dataset file (hidden from the API)."""


class Checkpoint(ResourceMixin, Base):
    __tablename__ = "checkpoints"

    cluster_uuid: Mapped[str | None] = mapped_column(String(UUID_LENGTH), default=None)
    """Cluster the checkpoint was saved from (no foreign key: checkpoints outlive clusters)."""
    location: Mapped[str] = mapped_column(Text, default="")


class Tempfile(ResourceMixin, Base):
    """Pre-allocated upload target that receives data over a websocket."""

    __tablename__ = "tempfiles"

    related_resource_type: Mapped[str] = mapped_column(String(16), default="dataset")
    related_resource_uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), index=True)
    file_size: Mapped[int] = mapped_column(BigInteger)
    location: Mapped[str] = mapped_column(Text, default="")


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024))
    request_type: Mapped[str] = mapped_column(String(16))
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)


class ErrorLog(Base):
    __tablename__ = "error_log"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="", index=True)
    component: Mapped[str] = mapped_column(String(128), default="")
    context: Mapped[str] = mapped_column(Text, default="")
    input_values: Mapped[str] = mapped_column(Text, default="{}")
    """JSON of the request input, passphrases removed."""
    message: Mapped[str] = mapped_column(Text, default="")
    correlation_id: Mapped[str] = mapped_column(String(UUID_LENGTH), index=True)


class LoginAttempt(Base):
    """A login that failed or is still being checked (:mod:`hanami.server.security.ratelimit`).

    Kept in the database so that every server process sharing it counts the same attempts.
    Rows older than the limiter's window are deleted as new attempts come in.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_address_attempted_at", "address", "attempted_at"),)

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    """Client address, IPv6 cut to its /64 (one host usually holds a whole /64)."""
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    attempted_at: Mapped[float] = mapped_column(Float, index=True)
    """Unix time in seconds (the processes share no monotonic clock)."""


class Replica(Base):
    """One ``hanami serve`` process among those sharing the database: alive while its
    heartbeat is younger than the task lease (:mod:`hanami.server.runtime.replicas`)."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    """Unix time in seconds (replicas share no monotonic clock: keep their clocks in sync)."""


class ApiToken(Base):
    """Long-lived bearer token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(ID_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class AuthState(Base):
    """One row (``id`` 1) whose ``generation`` moves with every committed change to users,
    projects, project assignments and API tokens: servers that keep verified principals for
    a while poll it (:mod:`hanami.server.security.principals`)."""

    __tablename__ = "auth_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)

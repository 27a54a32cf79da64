"""Persistence: models, engine/session factory and migrations."""

from hanami.server.db.migrate import upgrade
from hanami.server.db.models import (
    ApiToken,
    AuditLog,
    AuthState,
    Base,
    Checkpoint,
    Cluster,
    Dataset,
    ErrorLog,
    LoginAttempt,
    Project,
    ResourceMixin,
    Task,
    Tempfile,
    User,
    UserProjectRole,
)
from hanami.server.db.session import Database

__all__ = [
    "ApiToken",
    "AuditLog",
    "AuthState",
    "Base",
    "Checkpoint",
    "Cluster",
    "Database",
    "Dataset",
    "ErrorLog",
    "LoginAttempt",
    "Project",
    "ResourceMixin",
    "Task",
    "Tempfile",
    "User",
    "UserProjectRole",
    "upgrade",
]

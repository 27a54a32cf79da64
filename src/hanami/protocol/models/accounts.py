"""Login, users, projects and API tokens."""

from __future__ import annotations

from pydantic import Field

from hanami.protocol.models.base import Model
from hanami.protocol.timestamps import OptionalTimestamp, Timestamp

__all__ = [
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenRow",
    "Project",
    "ProjectAssignment",
    "ProjectRow",
    "Token",
    "User",
    "UserProjects",
    "UserRow",
]


class Token(Model):
    """Answer of POST/PUT ``/token``: the user and a JWT for ``X-Auth-Token``."""

    id: str
    name: str
    is_admin: bool
    token: str


class ProjectAssignment(Model):
    project_id: str
    role: str
    is_project_admin: bool


class User(Model):
    created_at: Timestamp
    id: str
    name: str
    is_admin: bool
    creator_id: str
    projects: list[ProjectAssignment] = Field(default_factory=list)


class UserProjects(Model):
    """Answer of ``GET /user/project``."""

    projects: list[ProjectAssignment]


class UserRow(Model):
    created_at: Timestamp
    id: str
    name: str
    creator_id: str
    projects: list[ProjectAssignment] = Field(default_factory=list)
    is_admin: bool


class Project(Model):
    created_at: Timestamp
    id: str
    name: str
    creator_id: str


class ProjectRow(Project):
    pass


class ApiToken(Model):
    """A long-lived API token (the secret is only in :class:`ApiTokenCreated`)."""

    created_at: Timestamp
    id: str
    user_id: str
    project_id: str
    name: str
    expires_at: OptionalTimestamp = Field(description="unset: the token does not expire")
    last_used_at: OptionalTimestamp


class ApiTokenCreated(ApiToken):
    token: str = Field(description="the secret; shown only in this answer")


class ApiTokenRow(Model):
    created_at: Timestamp
    id: str
    user_id: str
    project_id: str
    expires_at: OptionalTimestamp
    last_used_at: OptionalTimestamp
    name: str

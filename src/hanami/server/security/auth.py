"""Who is calling: turn a bearer credential into a :class:`Principal`, checked against the DB.

Used by the HTTP dependencies in :mod:`hanami.server.api.deps` and, later, by websocket
handlers (pass the token from the init message to :func:`authenticate`).

Every call re-reads the user, its project assignment and (for API tokens) the token row,
so deleting a user, unassigning a project, changing a role or revoking an API token takes
effect on the next request. The HTTP API keeps what this returns for a short while
(:mod:`hanami.server.security.principals`), dropped whenever such a change is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from hanami.protocol.timestamps import utcnow
from hanami.server.db.models import ApiToken, User, UserProjectRole
from hanami.server.errors import Unauthorized
from hanami.server.security.credentials import (
    API_TOKEN_PREFIX,
    InvalidToken,
    decode_access_token,
    hash_api_token,
)

__all__ = [
    "ADMIN_PROJECT",
    "ADMIN_ROLE",
    "Principal",
    "authenticate",
    "principal_for",
    "resolve",
]

ADMIN_PROJECT = "admin"
"""Pseudo-project of admins; admins' own resources are stored with this project id."""
ADMIN_ROLE = "admin"

_LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """The caller of one request, as the database says now."""

    user_id: str
    name: str
    is_admin: bool
    project_id: str
    role: str
    is_project_admin: bool
    api_token_id: str | None = None
    """Set when the request authenticated with a long-lived API token instead of a JWT."""

    @property
    def via_api_token(self) -> bool:
        return self.api_token_id is not None


def principal_for(
    session: Session, user: User, project_id: str, api_token_id: str | None = None
) -> Principal:
    """Build the principal of ``user`` acting in ``project_id``; raises 401 if not assigned.

    Admins always have the role ``admin`` and count as project admins. Other users take role
    and project-admin flag from their assignment to ``project_id``.
    """
    if user.is_admin:
        return Principal(user.id, user.name, True, project_id, ADMIN_ROLE, True, api_token_id)
    assignment = session.scalar(
        select(UserProjectRole).where(
            UserProjectRole.user_id == user.id, UserProjectRole.project_id == project_id
        )
    )
    if assignment is None:
        raise Unauthorized(
            f"Project '{project_id}' is no longer assigned to user '{user.id}'; log in again"
        )
    return Principal(
        user.id,
        user.name,
        False,
        project_id,
        assignment.role,
        assignment.is_project_admin,
        api_token_id,
    )


def authenticate(session: Session, token_key: bytes, token: str) -> Principal:
    """Resolve a JWT or an API token (``hnm_...``); raises :class:`Unauthorized`."""
    return resolve(session, token_key, token)[0]


def resolve(session: Session, token_key: bytes, token: str) -> tuple[Principal, float | None]:
    """:func:`authenticate`, and the Unix time at which the credential itself expires
    (``None``: never), for callers that keep the principal for a while."""
    if token.startswith(API_TOKEN_PREFIX):
        return _authenticate_api_token(session, token)
    try:
        claims = decode_access_token(token_key, token)
    except InvalidToken as exc:
        raise Unauthorized(f"Failed to validate JWT-Token: {exc}") from exc
    # the project assignments are not needed here (principal_for reads the one that counts)
    user = session.get(User, claims.user_id, options=[lazyload(User.projects)])
    if user is None or user.security_stamp != claims.security_stamp:
        raise Unauthorized(
            "Failed to validate JWT-Token: the user no longer exists or the token was revoked"
        )
    return principal_for(session, user, claims.project_id), float(claims.expires_at)


def _authenticate_api_token(session: Session, token: str) -> tuple[Principal, float | None]:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_api_token(token)))
    now = utcnow()
    if row is None:
        raise Unauthorized("Invalid API token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("API token has expired")
    user = session.get(User, row.user_id, options=[lazyload(User.projects)])
    if user is None:  # pragma: no cover - rows cascade with the user
        raise Unauthorized("Invalid API token")
    principal = principal_for(session, user, row.project_id, api_token_id=row.id)
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.commit()
    expires = None if row.expires_at is None else row.expires_at.replace(tzinfo=UTC).timestamp()
    return principal, expires

"""The list endpoints' reads: plain rows in one query each, no ORM objects.

A list answer is a :class:`~hanami.server.api.schemas.Table`; loading full ORM objects
(identity map, attribute state, a second query for relationships) only to copy a few
columns out of them cost more than the query itself. The statements are built once (with
bound parameters): building one per request and computing its cache key cost more than
running it on SQLite (``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, select

from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.schemas import table
from hanami.server.db.models import Project, ResourceMixin, User, UserProjectRole
from hanami.server.db.reader import AnyReader
from hanami.server.security.auth import Principal

__all__ = ["RESOURCE_LIST_HEADER", "project_table", "resource_table", "user_table"]

RESOURCE_LIST_HEADER = ("created_at", "uuid", "project_id", "owner_id", "visibility", "name")
USER_LIST_HEADER = ("created_at", "id", "name", "creator_id", "projects", "is_admin")
PROJECT_LIST_HEADER = ("created_at", "id", "name", "creator_id")


def resource_table(connection: AnyReader, principal: Principal, model: type[ResourceMixin]) -> Any:
    """The rows of ``model`` that ``principal`` may see, oldest first (the scope of
    :mod:`hanami.server.security.tenancy`)."""
    if principal.is_admin:
        scope = "all"
    elif principal.is_project_admin:
        scope = "project"
    else:
        scope = "own"
    values = {"project_id": principal.project_id, "owner_id": principal.user_id}
    rows = connection.execute(_resource_rows(model, scope), values)
    return table(RESOURCE_LIST_HEADER, _timestamped(rows))


@cache
def _resource_rows(model: type[ResourceMixin], scope: str) -> Select[Any]:
    query = select(model.created_at, model.uuid, model.project_id, model.owner_id,
                   model.visibility, model.name)  # fmt: skip
    in_project = model.project_id == bindparam("project_id")
    if scope == "project":
        query = query.where(in_project)
    elif scope == "own":
        query = query.where(and_(model.owner_id == bindparam("owner_id"), in_project))
    return query.order_by(model.created_at, model.uuid)


_USER_ROWS = (
    select(User.created_at, User.id, User.name, User.creator_id, User.is_admin,
           UserProjectRole.project_id, UserProjectRole.role, UserProjectRole.is_project_admin)
    .outerjoin(UserProjectRole, UserProjectRole.user_id == User.id)
    .order_by(User.created_at, User.id, UserProjectRole.id)
)  # fmt: skip


def user_table(connection: AnyReader) -> Any:
    """Every user with its project assignments, oldest first (one query, outer join)."""
    users: dict[str, list[Any]] = {}
    rows = connection.execute(_USER_ROWS)
    for created, user_id, name, creator, is_admin, project, role, project_admin in rows:
        if user_id not in users:
            users[user_id] = [format_timestamp(created), user_id, name, creator, [], is_admin]
        if project is not None:
            users[user_id][4].append(
                {"project_id": project, "role": role, "is_project_admin": project_admin}
            )
    return table(USER_LIST_HEADER, users.values())


_PROJECT_ROWS = select(Project.created_at, Project.id, Project.name, Project.creator_id).order_by(
    Project.created_at, Project.id
)


def project_table(connection: AnyReader) -> Any:
    """Every project, oldest first."""
    return table(PROJECT_LIST_HEADER, _timestamped(connection.execute(_PROJECT_ROWS)))


def _timestamped(rows: Iterable[Sequence[Any]]) -> Iterable[list[Any]]:
    """Rows whose first column is a timestamp, formatted as the API shows it."""
    return ([format_timestamp(row[0]), *row[1:]] for row in rows)

"""The list endpoints' reads: plain rows in one query each, no ORM objects.

A list answer is a :class:`~hanami.server.api.schemas.Table`; loading full ORM objects
(identity map, attribute state, a second query for relationships) only to copy a few
columns out of them cost more than the query itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.schemas import table
from hanami.server.db.models import ResourceMixin, User, UserProjectRole
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import scope_filter

__all__ = ["RESOURCE_LIST_HEADER", "resource_table", "user_table"]

RESOURCE_LIST_HEADER = ("created_at", "uuid", "project_id", "owner_id", "visibility", "name")
USER_LIST_HEADER = ("created_at", "id", "name", "creator_id", "projects", "is_admin")


def resource_table(session: Session, principal: Principal, model: type[ResourceMixin]) -> Any:
    """The rows of ``model`` that ``principal`` may see, oldest first."""
    rows = session.execute(
        select(model.created_at, model.uuid, model.project_id, model.owner_id,
               model.visibility, model.name)
        .where(scope_filter(principal, model))
        .order_by(model.created_at, model.uuid)
    )  # fmt: skip
    return table(RESOURCE_LIST_HEADER, _timestamped(rows))


def user_table(session: Session) -> Any:
    """Every user with its project assignments, oldest first (one query, outer join)."""
    rows = session.execute(
        select(User.created_at, User.id, User.name, User.creator_id, User.is_admin,
               UserProjectRole.project_id, UserProjectRole.role,
               UserProjectRole.is_project_admin)
        .outerjoin(UserProjectRole, UserProjectRole.user_id == User.id)
        .order_by(User.created_at, User.id, UserProjectRole.id)
    )  # fmt: skip
    users: dict[str, list[Any]] = {}
    for created, user_id, name, creator, is_admin, project, role, project_admin in rows:
        if user_id not in users:
            users[user_id] = [format_timestamp(created), user_id, name, creator, [], is_admin]
        if project is not None:
            users[user_id][4].append(
                {"project_id": project, "role": role, "is_project_admin": project_admin}
            )
    return table(USER_LIST_HEADER, users.values())


def _timestamped(rows: Iterable[Sequence[Any]]) -> Iterable[list[Any]]:
    """Rows whose first column is a timestamp, formatted as the API shows it."""
    return ([format_timestamp(row[0]), *row[1:]] for row in rows)

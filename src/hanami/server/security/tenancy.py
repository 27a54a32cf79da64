"""Multi-tenancy scope filter for resources (clusters, datasets, checkpoints, tempfiles).

=========================  ==============================================================
caller                     sees and may modify
=========================  ==============================================================
admin                      every row
project admin              rows of the current project
anyone else                own rows (``owner_id``) of the current project
=========================  ==============================================================

A row outside the scope behaves exactly like a missing row: :func:`get_in_scope` (an ORM
object), :func:`row_in_scope` (a plain row, for GET endpoints) and :func:`joined_in_scope`
(a row with the rows of another table joined to it, in one statement) raise 404 for both.
Typical use in a router::

    cluster = get_in_scope(session, user, Cluster, uuid, "Cluster")
    rows = session.scalars(select(Cluster).where(scope_filter(user, Cluster)))
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Label,
    Row,
    Select,
    and_,
    bindparam,
    select,
    true,
)
from sqlalchemy.orm import Session

from hanami.server.db.models import ResourceMixin
from hanami.server.db.reader import AnyReader
from hanami.server.errors import NotFound
from hanami.server.security.auth import Principal

__all__ = [
    "get_in_scope",
    "in_scope",
    "joined_in_scope",
    "owner_fields",
    "row_in_scope",
    "scope_columns",
    "scope_filter",
]

R = TypeVar("R", bound=ResourceMixin)


def scope_filter(principal: Principal, model: type[ResourceMixin]) -> ColumnElement[bool]:
    """WHERE clause restricting ``model`` rows to what ``principal`` may see."""
    if principal.is_admin:
        return true()
    if principal.is_project_admin:
        return model.project_id == principal.project_id
    return and_(model.owner_id == principal.user_id, model.project_id == principal.project_id)


def in_scope(principal: Principal, row: ResourceMixin | Row[Any]) -> bool:
    return _allowed(principal, row.project_id, row.owner_id)


def _allowed(principal: Principal, project_id: Any, owner_id: Any) -> bool:
    if principal.is_admin:
        return True
    if project_id != principal.project_id:
        return False
    return principal.is_project_admin or owner_id == principal.user_id


def get_in_scope(
    session: Session, principal: Principal, model: type[R], uuid: str, label: str | None = None
) -> R:
    """Load ``model`` by primary key or raise 404 "<label> with uuid 'X' not found"."""
    row = session.execute(select_by_uuid(model), {"uuid": uuid}).scalar_one_or_none()
    return _visible(principal, row, model, uuid, label)


def row_in_scope(
    connection: AnyReader, principal: Principal, model: type[ResourceMixin], uuid: str,
    label: str | None = None,
) -> Row[Any]:  # fmt: skip
    """As :func:`get_in_scope`, but the table's row (its columns as attributes) read without
    an ORM session, for endpoints that only read."""
    row = connection.execute(select_row_by_uuid(model), {"uuid": uuid}).one_or_none()
    return _visible(principal, row, model, uuid, label)


def scope_columns(model: type[ResourceMixin]) -> tuple[Label[Any], Label[Any]]:
    """``model``'s scope columns under names of their own, for a statement that joins the
    rows of another table (with scope columns of the same names) to a ``model`` row."""
    columns = model.__table__.c  # type: ignore[attr-defined]
    return columns.project_id.label("scope_project_id"), columns.owner_id.label("scope_owner_id")


def joined_in_scope(
    connection: AnyReader, principal: Principal, statement: Select[Any],
    params: dict[str, Any], uuid: str, label: str,
) -> list[Row[Any]]:  # fmt: skip
    """The rows of ``statement``: one resource row (its :func:`scope_columns` selected) outer
    joined to rows of another table, or the 404 of ``label`` with ``uuid`` when there are
    none or the resource is outside the scope. One statement where :func:`row_in_scope` and
    a query for the joined rows are two: on PostgreSQL each is a round trip."""
    rows = connection.execute(statement, params).all()
    if not rows or not _allowed(principal, rows[0].scope_project_id, rows[0].scope_owner_id):
        raise _missing(label, uuid)
    return rows


def _visible(principal: Principal, row: Any, model: type[Any], uuid: str, label: str | None) -> Any:
    """``row`` if ``principal`` may see it, else the 404 of a missing row."""
    if row is None or not in_scope(principal, row):
        raise _missing(label or model.__name__, uuid)
    return row


def _missing(label: str, uuid: str) -> NotFound:
    return NotFound(f"{label} with uuid '{uuid}' not found")


def owner_fields(principal: Principal) -> dict[str, Any]:
    """Column values for a new resource created by ``principal``."""
    return {
        "owner_id": principal.user_id,
        "project_id": principal.project_id,
        "visibility": "private",
    }


@cache
def select_by_uuid(model: type[R]) -> Select[tuple[R]]:
    """``SELECT model WHERE uuid = :uuid``, built once: ``session.get`` builds its statement
    anew every time, which costs more than running it."""
    return select(model).where(model.uuid == bindparam("uuid"))


@cache
def select_row_by_uuid(model: type[Any]) -> Select[Any]:
    """The same as a Core statement: every column of the table, no ORM entity."""
    table = model.__table__  # type: ignore[attr-defined]
    return select(table).where(table.c.uuid == bindparam("uuid"))

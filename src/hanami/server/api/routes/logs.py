"""Audit log (own entries; admins may pick a user) and error log (admins), 100 rows a page."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import AdminUser, CurrentUser, Payload, SessionDep
from hanami.server.api.inputs import PayloadRoute
from hanami.server.api.schemas import PAGE_SIZE, Table, table
from hanami.server.api.schemas.logs import (
    LogQuery,
)
from hanami.server.db.models import AuditLog, ErrorLog
from hanami.server.errors import Forbidden

__all__ = ["router"]

router = APIRouter(tags=["logs"], route_class=PayloadRoute)

AUDIT_LOG_HEADER = ("created_at", "user_id", "endpoint", "request_type")
ERROR_LOG_HEADER = ("created_at", "user_id", "component", "context", "input_values", "message")


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@router.get("/audit_log", response_model=Table, summary="List audit log")
def list_audit_log(user: CurrentUser, data: Payload[LogQuery], session: SessionDep) -> Any:
    """Non-GET requests of the caller, oldest first; admins may set ``user_id``."""
    target = data.user_id or user.user_id
    if target != user.user_id and not user.is_admin:
        raise Forbidden("'user_id' can only be set by an admin")
    rows = session.scalars(
        select(AuditLog)
        .where(AuditLog.user_id == target)
        .order_by(AuditLog.id)
        .offset(data.page * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return table(
        AUDIT_LOG_HEADER,
        ([format_timestamp(r.created_at), r.user_id, r.endpoint, r.request_type] for r in rows),
    )


@router.get("/error_log", response_model=Table, summary="List error log")
def list_error_log(admin: AdminUser, data: Payload[LogQuery], session: SessionDep) -> Any:
    """Unhandled errors, oldest first; all users unless ``user_id`` is set.

    ``context`` holds method, endpoint and the correlation id that the 500 answer showed.
    """
    query = select(ErrorLog)
    if data.user_id is not None:
        query = query.where(ErrorLog.user_id == data.user_id)
    rows = session.scalars(
        query.order_by(ErrorLog.id).offset(data.page * PAGE_SIZE).limit(PAGE_SIZE)
    )
    return table(
        ERROR_LOG_HEADER,
        (
            [
                format_timestamp(r.created_at),
                r.user_id,
                r.component,
                r.context,
                _json_or_text(r.input_values),
                r.message,
            ]
            for r in rows
        ),
    )

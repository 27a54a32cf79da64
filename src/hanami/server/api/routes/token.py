"""Login (``POST /token``) and token renewal / project switch (``PUT /token``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, SessionDep, client_address
from hanami.server.api.inputs import PayloadRoute
from hanami.server.api.schemas.token import (
    TokenCreate,
    TokenRenew,
)
from hanami.server.context import AppContext
from hanami.server.db.models import AuditLog, User, UserProjectRole
from hanami.server.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from hanami.server.security.auth import ADMIN_PROJECT, principal_for
from hanami.server.security.credentials import (
    create_access_token,
    decode_passphrase,
    verify_password,
)
from hanami.server.security.ratelimit import LoginThrottled

__all__ = ["public_router", "router"]

logger = logging.getLogger("hanami.server")

public_router = APIRouter(tags=["token"], route_class=PayloadRoute)
router = APIRouter(tags=["token"], route_class=PayloadRoute)

ACCESS_DENIED = "ACCESS DENIED! User or passphrase is incorrect."


def issue_token(ctx: AppContext, session: Session, user: User, project_id: str) -> dict[str, Any]:
    principal = principal_for(session, user, project_id)
    token = create_access_token(
        ctx.token_key,
        user={
            "id": user.id,
            "name": user.name,
            "is_admin": user.is_admin,
            "creator_id": user.creator_id,
            "created_at": format_timestamp(user.created_at),
        },
        project_id=project_id,
        role=principal.role,
        is_project_admin=principal.is_project_admin,
        security_stamp=user.security_stamp,
        expires_in=ctx.settings.token_expire_time,
    )
    return {"id": user.id, "name": user.name, "is_admin": user.is_admin, "token": token}


@public_router.post("/token", response_model=wire.Token, summary="Log in")
def create_token(
    data: Payload[TokenCreate], request: Request, ctx: ContextDep, session: SessionDep
) -> dict[str, Any]:
    """Exchange user id and base64 passphrase for a JWT.

    Admins get the pseudo-project ``admin``; other users their first assigned project.
    Attempts are rate limited per user id and client address and per client address (429),
    in all server processes sharing the database.
    """
    try:
        passphrase = decode_passphrase(data.passphrase)
    except ValueError as exc:
        raise BadRequest(f"Validation failed, because {exc}") from exc
    address = client_address(request)
    try:
        ctx.login_limiter.begin(data.id, address)
    except LoginThrottled as exc:
        ctx.metrics.login_throttled.inc()
        raise TooManyRequests(
            f"Too many failed logins for user '{data.id}'; try again in {exc.retry_after} seconds.",
            retry_after=exc.retry_after,
        ) from None
    user = session.get(User, data.id)
    ok, new_hash = verify_password(user.password_hash if user else None, passphrase)
    if not ok or user is None:
        ctx.metrics.login_failures.inc()
        logger.warning("failed login for user %r from %s", data.id, address)
        raise Unauthorized(ACCESS_DENIED)
    ctx.login_limiter.succeeded(data.id, address)
    if new_hash is not None:
        user.password_hash = new_hash
    if user.is_admin:
        project_id = ADMIN_PROJECT
    elif user.projects:
        project_id = user.projects[0].project_id
    else:
        raise Unauthorized(f"User with id '{user.id}' has no project assigned.")
    session.add(
        AuditLog(
            user_id=user.id, endpoint="v1.0alpha/token", request_type="POST", client_address=address
        )
    )
    session.commit()
    return issue_token(ctx, session, user, project_id)


@router.put("/token", response_model=wire.Token, summary="Renew token / switch project")
def renew_token(
    user: CurrentUser, data: Payload[TokenRenew], ctx: ContextDep, session: SessionDep
) -> dict[str, Any]:
    """A fresh token for the caller, scoped to ``project_id`` (one of the caller's projects;
    admins may also choose ``admin``)."""
    if user.via_api_token:
        raise Forbidden("API tokens can not be exchanged for access tokens")
    db_user = session.get(User, user.user_id)
    assert db_user is not None  # authenticated just now
    allowed = (data.project_id == ADMIN_PROJECT and db_user.is_admin) or session.scalar(
        select(UserProjectRole.id).where(
            UserProjectRole.user_id == db_user.id, UserProjectRole.project_id == data.project_id
        )
    ) is not None
    if not allowed:
        raise NotFound(
            f"Project with id '{data.project_id}' is not assigned to user '{db_user.id}'"
        )
    return issue_token(ctx, session, db_user, data.project_id)

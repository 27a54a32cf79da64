"""Long-lived API tokens (new): create, show, list, revoke.

The secret is shown once, at creation; only its SHA-256 is stored. A token acts as its user
in one project and is accepted wherever a JWT is (``X-Auth-Token`` or ``Authorization:
Bearer``). Users see and revoke their own tokens; admins see and revoke all. Deleting the
user deletes its tokens.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp, utcnow
from hanami.server.api.deps import CurrentUser, Payload, SessionDep
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.schemas import Empty, Table, table
from hanami.server.api.schemas.api_tokens import (
    ApiTokenCreate,
    ApiTokenRef,
)
from hanami.server.db.models import ApiToken, User, UserProjectRole
from hanami.server.errors import Forbidden, NotFound
from hanami.server.security.auth import ADMIN_PROJECT, Principal
from hanami.server.security.credentials import new_api_token

__all__ = ["router"]

router = APIRouter(tags=["api_token"], route_class=PayloadRoute)

API_TOKEN_LIST_HEADER = (
    "created_at",
    "id",
    "user_id",
    "project_id",
    "expires_at",
    "last_used_at",
    "name",
)


def token_public(row: ApiToken) -> dict[str, Any]:
    return {
        "created_at": format_timestamp(row.created_at),
        "id": row.id,
        "user_id": row.user_id,
        "project_id": row.project_id,
        "name": row.name,
        "expires_at": format_timestamp(row.expires_at),
        "last_used_at": format_timestamp(row.last_used_at),
    }


def _visible(user: Principal, row: ApiToken | None) -> bool:
    return row is not None and (user.is_admin or row.user_id == user.user_id)


@router.post("/api_token", response_model=wire.ApiTokenCreated, summary="Create API token")
def create_api_token(user: CurrentUser, data: Payload[ApiTokenCreate], session: SessionDep) -> Any:
    if user.via_api_token:
        raise Forbidden("API tokens can not create API tokens; log in with a passphrase")
    project_id = data.project_id or user.project_id
    db_user = session.get(User, user.user_id)
    assert db_user is not None
    assigned = (project_id == ADMIN_PROJECT and db_user.is_admin) or session.scalar(
        select(UserProjectRole.id).where(
            UserProjectRole.user_id == db_user.id, UserProjectRole.project_id == project_id
        )
    ) is not None
    if not assigned:
        raise NotFound(f"Project with id '{project_id}' is not assigned to user '{db_user.id}'")
    secret, digest = new_api_token()
    now = utcnow()
    row = ApiToken(
        id=str(uuid.uuid4()),
        user_id=user.user_id,
        project_id=project_id,
        name=data.name,
        token_hash=digest,
        token_prefix=secret[:12],
        created_at=now,
        expires_at=now + timedelta(seconds=data.expires_in) if data.expires_in else None,
    )
    session.add(row)
    session.commit()
    return {**token_public(row), "token": secret}


@router.get("/api_token", response_model=wire.ApiToken, summary="Show API token")
def get_api_token(user: CurrentUser, data: Payload[ApiTokenRef], session: SessionDep) -> Any:
    row = session.get(ApiToken, data.id)
    if not _visible(user, row):
        raise NotFound(f"API token with id '{data.id}' not found")
    assert row is not None
    return token_public(row)


@router.get("/api_token/all", response_model=Table, summary="List API tokens")
def list_api_tokens(user: CurrentUser, data: Payload[NoInput], session: SessionDep) -> Any:
    query = select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)
    if not user.is_admin:
        query = query.where(ApiToken.user_id == user.user_id)
    return table(
        API_TOKEN_LIST_HEADER,
        (
            [
                format_timestamp(r.created_at),
                r.id,
                r.user_id,
                r.project_id,
                format_timestamp(r.expires_at),
                format_timestamp(r.last_used_at),
                r.name,
            ]
            for r in session.scalars(query)
        ),
    )


@router.delete("/api_token", response_model=Empty, summary="Revoke API token")
def delete_api_token(user: CurrentUser, data: Payload[ApiTokenRef], session: SessionDep) -> Any:
    row = session.get(ApiToken, data.id)
    if not _visible(user, row):
        raise NotFound(f"API token with id '{data.id}' not found")
    session.delete(row)
    session.commit()
    return {}

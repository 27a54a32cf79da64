"""FastAPI dependencies as typed aliases.

=================  ============================================================================
``ContextDep``     the :class:`~hanami.server.context.AppContext` of this app
``SettingsDep``    its :class:`~hanami.server.config.ServerSettings`
``SessionDep``     a SQLAlchemy session for this request (commit explicitly)
``ReaderDep``      what a GET that only reads runs its Core statements on
``CurrentUser``    the authenticated, policy-checked :class:`~hanami.server.security.auth.Principal`
``AdminUser``      same, and 403 unless the user is an admin
``Payload[M]``     the validated request input (:mod:`hanami.server.api.inputs`)
=================  ============================================================================

:func:`get_current_user` runs as a router-level dependency for every protected route (see
:mod:`hanami.server.api.main`), so routes are authenticated, policy-checked and audited
before their own parameters are validated, even if they never ask for ``CurrentUser``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hanami.server.api.inputs import Payload
from hanami.server.config import ServerSettings
from hanami.server.context import AppContext
from hanami.server.db.models import AuditLog
from hanami.server.db.reader import AnyReader, Reader
from hanami.server.errors import Forbidden, Unauthorized
from hanami.server.routing import route_template
from hanami.server.security.auth import Principal

__all__ = [
    "AdminUser",
    "ContextDep",
    "CurrentUser",
    "Payload",
    "ReaderDep",
    "SessionDep",
    "SettingsDep",
    "client_address",
    "endpoint_key",
    "get_current_user",
]

_token_header = APIKeyHeader(
    name="X-Auth-Token",
    auto_error=False,
    scheme_name="X-Auth-Token",
    description="JWT from POST /v1.0alpha/token, or an API token (hnm_...)",
)
_bearer = HTTPBearer(
    auto_error=False, scheme_name="Bearer", description="Same tokens as X-Auth-Token"
)


# The cheap dependencies are ``async def`` on purpose: FastAPI runs every plain ``def``
# dependency in a worker thread, and each thread hop costs more than these functions.


async def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_settings(ctx: ContextDep) -> ServerSettings:
    return ctx.settings


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]


async def get_session(ctx: ContextDep) -> AsyncIterator[Session]:
    """A session for this request (commit explicitly).

    Opening a session does no I/O, and the endpoint has normally ended its transaction when
    it returned (see :class:`~hanami.server.api.inputs.PayloadRoute`), so closing it does
    none either: only a session still holding a connection is closed in a worker thread.
    """
    session = ctx.database.sessionmaker()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_reader(ctx: ContextDep) -> AsyncIterator[Reader]:
    """A connection for a GET that reads rows with Core statements: no session, no identity
    map, no ORM objects, which cost more than the queries of a GET
    (``docs/performance.md``). A :class:`~hanami.server.db.reader.Reader`: no I/O here,
    the endpoint's thread checks the connection out and gives it back when it returns
    (see :class:`~hanami.server.api.inputs.PayloadRoute`)."""
    reader = Reader(ctx.database.read)
    try:
        yield reader
    finally:
        reader.close()


ReaderDep = Annotated[AnyReader, Depends(get_reader)]
"""A :class:`~hanami.server.db.reader.Reader` here; in the hot path's event loop on
PostgreSQL a :class:`~hanami.server.db.reader.LoopReader` (``execute`` and the rows alike)."""


def endpoint_key(request: Request) -> str:
    """The policy key of the matched route: its path without the leading ``/``."""
    return (route_template(request.scope) or request.url.path).lstrip("/")


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def get_current_user(
    request: Request,
    ctx: ContextDep,
    x_auth_token: Annotated[str | None, Security(_token_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """Authenticate, apply the policy for (endpoint, method, role), audit non-GET requests.

    A token verified a moment ago is answered from memory
    (:class:`~hanami.server.security.principals.PrincipalCache`); the database is asked,
    in a worker thread, only for other tokens and for the audit row of a change.
    """
    token = x_auth_token or (bearer.credentials if bearer else None)
    if not token:
        raise Unauthorized(
            "Missing token: send it in the 'X-Auth-Token' header or as 'Authorization: Bearer'"
        )
    key, method = endpoint_key(request), request.method
    audit = None
    if method != "GET":
        audit = AuditLog(endpoint=key, request_type=method, client_address=client_address(request))
    principal = ctx.principals.get(token)
    if principal is None or audit is not None:
        principal = await anyio.to_thread.run_sync(_authenticate, ctx, token, principal, audit)
    request.state.principal = principal
    if not ctx.policy.allows(key, method, principal.role):
        raise Forbidden(f"Access denied by policy: role '{principal.role}' may not {method} {key}")
    return principal


def _authenticate(
    ctx: AppContext, token: str, principal: Principal | None, audit: AuditLog | None
) -> Principal:
    """The database half of :func:`get_current_user`: resolve the token unless ``principal``
    is known already, and write the ``audit`` row if there is one (when the policy lets the
    request through or not, as before)."""
    with ctx.database.session() as session:
        if principal is None:
            principal = ctx.principals.authenticate(session, token)
        if audit is not None and ctx.policy.allows(audit.endpoint, audit.request_type,
                                                   principal.role):  # fmt: skip
            audit.user_id = principal.user_id
            session.add(audit)
        session.commit()
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_admin(user: CurrentUser) -> Principal:
    if not user.is_admin:
        raise Forbidden("Only admins may use this endpoint")
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]

"""An admitted websocket: how it is closed (codes, reasons), its token's expiry and re-checks.

Both protocols behind the endpoint (file upload and direct cluster I/O) talk through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

import anyio.to_thread
from starlette.websockets import WebSocket, WebSocketDisconnect

from hanami.server.context import AppContext
from hanami.server.errors import ApiError
from hanami.server.security.auth import Principal, authenticate

__all__ = ["REAUTH_INTERVAL", "CloseCode", "WsClose", "WsSession", "truncate_reason"]

REAUTH_INTERVAL = 0.5
"""Seconds between re-checks of the user and token behind an open session: revocation must
reach a training session within a second, and a check per message would cost a query per
step."""
MAX_REASON_BYTES = 123

T = TypeVar("T")


class CloseCode(IntEnum):
    """Close codes: 4000 + the HTTP status the same problem gets on the REST API."""

    BAD_REQUEST = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    TIMEOUT = 4408
    CONFLICT = 4409
    TOO_LARGE = 4413
    UNAVAILABLE = 4503
    INTERNAL_ERROR = 1011

    @classmethod
    def for_error(cls, error: ApiError) -> CloseCode:
        try:
            return cls(4000 + error.status_code)
        except ValueError:
            return cls.BAD_REQUEST


class WsClose(Exception):
    """Close the socket with ``code`` and ``reason`` (after the init reply, if any)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = int(code)
        self.reason = reason

    @classmethod
    def from_error(cls, error: ApiError) -> WsClose:
        return cls(CloseCode.for_error(error), error.message)


def truncate_reason(reason: str) -> str:
    """``reason`` on one line, cut to what a close frame can carry."""
    raw = reason.replace("\n", " ").encode("utf-8")
    if len(raw) <= MAX_REASON_BYTES:
        return reason.replace("\n", " ")
    return raw[: MAX_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."


@dataclass
class WsSession:
    """An initialised websocket: who is calling, until when, and how to talk to them."""

    websocket: WebSocket
    ctx: AppContext
    token: str
    principal: Principal
    expires_at: float | None
    """Unix time at which the token expires (None: never)."""
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    last_auth: float = field(default_factory=time.monotonic)

    async def run_sync(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args)

    async def receive(self, idle_timeout: float | None = None) -> bytes | str:
        """The next message; closes with 4408 after ``idle_timeout`` seconds of silence.
        Raises :class:`WebSocketDisconnect` when the client went away. (Token expiry while
        waiting is :meth:`expiry`'s job: one timer per session, not one per message.)"""
        await self.check_token()
        if idle_timeout is None:  # direct I/O: nothing to arm per message
            message = await self.websocket.receive()
        else:
            try:
                async with asyncio.timeout(idle_timeout):
                    message = await self.websocket.receive()
            except TimeoutError:
                raise WsClose(
                    CloseCode.TIMEOUT, f"No message for {idle_timeout:g} seconds; closing"
                ) from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        await self.check_token()
        if message.get("bytes") is not None:
            return message["bytes"]
        return message.get("text") or ""

    @contextlib.asynccontextmanager
    async def expiry(self) -> AsyncIterator[None]:
        """Close with 4401 when the token expires, whatever the session is doing then."""
        if self.expires_at is None:
            yield
            return
        loop = asyncio.get_running_loop()
        deadline = asyncio.timeout_at(loop.time() + self.expires_at - time.time())
        try:
            async with deadline:
                yield
        except TimeoutError:
            if deadline.expired():
                raise WsClose(CloseCode.UNAUTHORIZED, "Token has expired") from None
            raise

    async def check_token(self) -> None:
        """Close with 4401 once the token has expired or the user/token was revoked."""
        if self.expires_at is not None and time.time() >= self.expires_at:
            raise WsClose(CloseCode.UNAUTHORIZED, "Token has expired")
        if time.monotonic() - self.last_auth >= REAUTH_INTERVAL:
            try:
                self.principal = await self.run_sync(_reauthenticate, self.ctx, self.token)
            except ApiError as exc:
                raise WsClose.from_error(exc) from exc
            self.last_auth = time.monotonic()

    def token_fresh(self) -> bool:
        """Whether :meth:`check_token` would pass now without a query."""
        if self.expires_at is not None and time.time() >= self.expires_at:
            return False
        return time.monotonic() - self.last_auth < REAUTH_INTERVAL

    def allows(self, endpoint: str, method: str) -> bool:
        return self.ctx.policy.allows(endpoint, method, self.principal.role)

    def require_policy(self, endpoint: str, method: str) -> None:
        if not self.allows(endpoint, method):
            raise WsClose(
                CloseCode.FORBIDDEN,
                f"Access denied by policy: role '{self.principal.role}' may not "
                f"{method} {endpoint}",
            )

    async def send_bytes(self, data: bytes) -> None:
        await self.websocket.send_bytes(data)


def _reauthenticate(ctx: AppContext, token: str) -> Principal:
    with ctx.database.session() as session:
        return authenticate(session, ctx.token_key, token)

"""The websocket endpoint: init message, file-upload protocol, hand-off to direct cluster I/O.

Served at ``/`` (where the SDKs connect) and ``/v1.0alpha/ws``. Wire format as in the
original (spec 3): the first client message is a JSON object
``{"token": ..., "target": "file_upload" | "cluster", "uuid": ...}`` (text or binary frame);
the server answers with a binary frame holding ``{"success": true, "uuid": <session uuid>}``
or ``{"success": false, "error": <text>}``.

Differences from the original (docs/websocket.md has the full protocol):

- The token (JWT or API token) is validated like on HTTP, including the database checks,
  and its **expiry is enforced** for the whole session: when it expires the socket is
  closed with 4401. The user is re-checked (a database query) when a message arrives at
  least :data:`REAUTH_INTERVAL` seconds after the last check, so a deleted user or a
  changed role reaches a session that is still sending within a second.
- The **policy** is checked: ``file_upload`` needs ``POST`` on
  ``v1.0alpha/dataset/upload/<mnist|csv>`` (the endpoint that created the tempfile);
  ``cluster`` needs ``PUT v1.0alpha/cluster/set_mode``, and each train or request step
  ``POST v1.0alpha/task/train`` or ``POST v1.0alpha/task/request``.
- Every failure is answered instead of leaving both sides hanging: a failed init gets the
  ``success: false`` reply and then a close frame; protocol errors close the socket. Close
  codes are 4000 + the HTTP status of the same error (:class:`CloseCode`), or 1011.
- Upload chunks must lie inside the declared file size; bad chunks get an error reply
  (``FileUploadResponse_Message.success = false``) and the socket stays usable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC
from enum import IntEnum
from typing import Any, Literal, TypeVar

import anyio.to_thread
from google.protobuf.message import DecodeError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hanami.protocol.proto import FileUpload_Message, FileUploadResponse_Message
from hanami.server.api.schemas import UuidStr
from hanami.server.context import AppContext
from hanami.server.db.models import ApiToken, AuditLog, Cluster, Dataset, Tempfile
from hanami.server.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    format_validation_errors,
)
from hanami.server.runtime.uploads import UploadError, UploadHandle
from hanami.server.security.auth import Principal, authenticate
from hanami.server.security.credentials import (
    API_TOKEN_PREFIX,
    InvalidToken,
    decode_access_token,
    hash_api_token,
)
from hanami.server.security.tenancy import in_scope

__all__ = [
    "INIT_TIMEOUT",
    "REAUTH_INTERVAL",
    "WEBSOCKET_PATHS",
    "CloseCode",
    "InitMessage",
    "WsClose",
    "WsSession",
    "reject_websocket",
    "websocket_endpoint",
]

logger = logging.getLogger("hanami.server.websocket.endpoint")

WEBSOCKET_PATHS = ("/", "/v1.0alpha/ws")
INIT_TIMEOUT = 30.0
"""Seconds a client has to send its init message."""
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


class InitMessage(BaseModel):
    """The first message of every websocket."""

    model_config = ConfigDict(extra="forbid", strict=True)

    token: str = Field(min_length=1, max_length=8192)
    target: Literal["cluster", "file_upload"]
    uuid: UuidStr
    batched: bool = Field(
        False, description="extension: batched direct I/O (target cluster only, opt-in)"
    )


def _truncate_reason(reason: str) -> str:
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

    def require_policy(self, endpoint: str, method: str) -> None:
        if not self.ctx.policy.allows(endpoint, method, self.principal.role):
            raise WsClose(
                CloseCode.FORBIDDEN,
                f"Access denied by policy: role '{self.principal.role}' may not "
                f"{method} {endpoint}",
            )

    async def send_bytes(self, data: bytes) -> None:
        await self.websocket.send_bytes(data)


# --------------------------------------------------------------------------- init


def _reauthenticate(ctx: AppContext, token: str) -> Principal:
    with ctx.database.session() as session:
        return authenticate(session, ctx.token_key, token)


def _token_expiry(session: Session, ctx: AppContext, token: str) -> float | None:
    if token.startswith(API_TOKEN_PREFIX):
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_api_token(token)))
        if row is None or row.expires_at is None:
            return None
        return row.expires_at.replace(tzinfo=UTC).timestamp()
    try:
        return float(decode_access_token(ctx.token_key, token).expires_at)
    except InvalidToken as exc:  # pragma: no cover - authenticate() checked it already
        raise Unauthorized(f"Failed to validate JWT-Token: {exc}") from exc


@dataclass
class _Admission:
    principal: Principal
    expires_at: float | None
    upload: UploadHandle | None = None


def _admit(ctx: AppContext, init: InitMessage, client_address: str | None) -> _Admission:
    """Authenticate, look the target up in the caller's scope, check the policy, audit."""
    with ctx.database.session() as session:
        principal = authenticate(session, ctx.token_key, init.token)
        expires_at = _token_expiry(session, ctx, init.token)
        admission = _Admission(principal, expires_at)

        def allow(endpoint: str, method: str) -> None:
            if not ctx.policy.allows(endpoint, method, principal.role):
                raise Forbidden(
                    f"Access denied by policy: role '{principal.role}' may not {method} {endpoint}"
                )

        if init.target == "file_upload":
            tempfile = session.get(Tempfile, init.uuid)
            if tempfile is None or not in_scope(principal, tempfile):
                raise NotFound(f"Tempfile with UUID '{init.uuid}' not found")
            dataset = session.get(Dataset, tempfile.related_resource_uuid)
            if dataset is None:
                raise NotFound(f"Tempfile with UUID '{init.uuid}' not found")
            allow(f"v1.0alpha/dataset/upload/{dataset.kind}", "POST")
            if init.batched:
                raise BadRequest("'batched' is only available for target 'cluster'")
            admission.upload = ctx.uploads.attach(init.uuid, principal)
        else:
            cluster = session.get(Cluster, init.uuid)
            if cluster is None or not in_scope(principal, cluster):
                raise NotFound(f"Cluster with UUID '{init.uuid}' not found")
            allow("v1.0alpha/cluster/set_mode", "PUT")
            from hanami.server.websocket.direct_io import require_direct_mode

            require_direct_mode(ctx, init.uuid)
        session.add(
            AuditLog(
                user_id=principal.user_id,
                endpoint=f"websocket/{init.target}",
                request_type="WEBSOCKET",
                client_address=client_address,
            )
        )
        try:
            session.commit()
        except BaseException:
            if admission.upload is not None:
                ctx.uploads.detach(admission.upload)
            raise
        return admission


def _parse_init(raw: bytes | str) -> InitMessage:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"json-parser error: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("json-parser error: the init message must be a JSON object")
    if not data.get("token"):  # like HTTP: no credentials is 401 before any 400
        raise Unauthorized("Missing token: send it as 'token' in the init message")
    try:
        return InitMessage.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(format_validation_errors(list(exc.errors()))) from exc


def _init_reply(success: bool, **fields: Any) -> bytes:
    return json.dumps({"success": success, **fields}).encode()


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one websocket: init, then the file upload or the direct cluster I/O."""
    await websocket.accept()
    ctx: AppContext = websocket.app.state.ctx
    session: WsSession | None = None
    upload: UploadHandle | None = None
    try:
        try:
            message = await asyncio.wait_for(websocket.receive(), INIT_TIMEOUT)
        except TimeoutError:
            raise WsClose(
                CloseCode.TIMEOUT, f"No init message within {INIT_TIMEOUT:g} seconds"
            ) from None
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("bytes") if message.get("bytes") is not None else message.get("text")
        try:
            init = _parse_init(raw or "")
            address = websocket.client.host if websocket.client else None
            admission = await anyio.to_thread.run_sync(_admit, ctx, init, address)
        except ApiError as exc:
            if isinstance(exc, Unauthorized):
                logger.info("websocket init refused: %s", exc.message)
            await websocket.send_bytes(_init_reply(False, error=exc.message))
            raise WsClose.from_error(exc) from exc
        upload = admission.upload
        session = WsSession(websocket, ctx, init.token, admission.principal, admission.expires_at)
        extra: dict[str, Any] = {}
        if init.batched:
            from hanami.server.websocket.direct_io import batched_capabilities

            extra["batched"] = batched_capabilities()
        await websocket.send_bytes(_init_reply(True, uuid=session.session_id, **extra))
        async with session.expiry():
            if upload is not None:
                await serve_upload(session, upload)
            else:
                from hanami.server.websocket.direct_io import serve_direct_io

                await serve_direct_io(session, init.uuid, batched=init.batched)
    except WebSocketDisconnect:
        pass
    except WsClose as exc:
        await _close(websocket, exc.code, exc.reason)
    except Exception:
        logger.exception("websocket session failed")
        await _close(websocket, CloseCode.INTERNAL_ERROR, "Internal error")
    finally:
        if upload is not None:
            ctx.uploads.detach(upload)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        await websocket.close(code, _truncate_reason(reason))


async def reject_websocket(websocket: WebSocket) -> None:
    """Any other path: close at once with 4404 (the original upgraded every path)."""
    await websocket.accept()
    await _close(
        websocket,
        CloseCode.NOT_FOUND,
        f"No websocket endpoint at '{websocket.url.path}'; use "
        + " or ".join(repr(p) for p in WEBSOCKET_PATHS),
    )


# --------------------------------------------------------------------------- file upload


def _upload_reply(success: bool, error: str = "") -> bytes:
    return FileUploadResponse_Message(success=success, errorMessage=error).SerializeToString()


async def serve_upload(session: WsSession, handle: UploadHandle) -> None:
    """Spec 3.3: one ``FileUpload_Message`` in, one ``FileUploadResponse_Message`` out."""
    uploads = session.ctx.uploads
    while True:
        data = await session.receive(idle_timeout=uploads.timeout)
        message = FileUpload_Message()
        try:
            if isinstance(data, str):
                raise DecodeError("text frame")
            message.ParseFromString(data)
        except DecodeError:
            await session.send_bytes(_upload_reply(False, "Got invalid FileUpload-Message"))
            continue
        try:
            await session.run_sync(uploads.write, handle, message.position, message.data)
        except UploadError as exc:
            await session.send_bytes(_upload_reply(False, str(exc)))
            if handle.removed:
                raise WsClose(
                    CloseCode.NOT_FOUND, f"Tempfile with UUID '{handle.uuid}' no longer exists"
                ) from exc
            continue
        await session.send_bytes(_upload_reply(True))

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
import logging
from typing import Any

import anyio.to_thread
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hanami.server.context import AppContext
from hanami.server.errors import ApiError, Unauthorized
from hanami.server.runtime.upload_handles import UploadHandle
from hanami.server.websocket.admission import admit, init_reply, parse_init
from hanami.server.websocket.direct_io import batched_capabilities, serve_direct_io
from hanami.server.websocket.file_upload import serve_upload
from hanami.server.websocket.session import CloseCode, WsClose, WsSession, truncate_reason

__all__ = ["INIT_TIMEOUT", "WEBSOCKET_PATHS", "reject_websocket", "websocket_endpoint"]

logger = logging.getLogger("hanami.server.websocket.endpoint")

WEBSOCKET_PATHS = ("/", "/v1.0alpha/ws")
INIT_TIMEOUT = 30.0
"""Seconds a client has to send its init message."""


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
            init = parse_init(raw or "")
            address = websocket.client.host if websocket.client else None
            admission = await anyio.to_thread.run_sync(admit, ctx, init, address)
        except ApiError as exc:
            if isinstance(exc, Unauthorized):
                logger.info("websocket init refused: %s", exc.message)
            await websocket.send_bytes(init_reply(False, error=exc.message))
            raise WsClose.from_error(exc) from exc
        upload = admission.upload
        session = WsSession(websocket, ctx, init.token, admission.principal, admission.expires_at)
        extra: dict[str, Any] = {}
        if init.batched:
            extra["batched"] = batched_capabilities()
        await websocket.send_bytes(init_reply(True, uuid=session.session_id, **extra))
        async with session.expiry():
            if upload is not None:
                await serve_upload(session, upload)
            else:
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
        await websocket.close(code, truncate_reason(reason))


async def reject_websocket(websocket: WebSocket) -> None:
    """Any other path: close at once with 4404 (the original upgraded every path)."""
    await websocket.accept()
    await _close(
        websocket,
        CloseCode.NOT_FOUND,
        f"No websocket endpoint at '{websocket.url.path}'; use "
        + " or ".join(repr(p) for p in WEBSOCKET_PATHS),
    )

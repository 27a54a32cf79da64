"""What every SDK websocket does first (TLS, the init message and its answer) and its errors.

Shared by the dataset upload (spec §3.3) and direct cluster I/O (spec §3.4).
"""

from __future__ import annotations

import json
import ssl
from typing import Any

from hanami.sdk._exceptions import HanamiError, TransportError, WebsocketError

__all__ = [
    "WEBSOCKET_MIN_VALIDITY",
    "check_init_reply",
    "describe_ws_error",
    "init_message",
    "ssl_context",
]

WEBSOCKET_MIN_VALIDITY = 600.0
"""Renew the token before opening a websocket if it expires sooner (Hanami closes a
session when its token expires)."""


def init_message(token: str, target: str, uuid: str, **extra: Any) -> str:
    """The first message of every websocket (sent as a text frame, like the original SDKs)."""
    return json.dumps({"token": token, "target": target, "uuid": uuid, **extra})


def check_init_reply(raw: str | bytes) -> dict[str, Any]:
    """Parse the server's init answer (``{"success": true, "uuid": ...}``); raises
    WebsocketError when the server refused."""
    try:
        reply = json.loads(raw)
    except ValueError as exc:
        raise WebsocketError(f"websocket init: unexpected answer {raw[:80]!r}") from exc
    if not isinstance(reply, dict) or not reply.get("success"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise WebsocketError(f"websocket init refused: {error or 'no reason given'}")
    return reply


def ssl_context(url: str, verify: bool) -> ssl.SSLContext | None:
    if not url.startswith("wss:"):
        return None
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_ws_error(exc: BaseException, url: str) -> HanamiError:
    """Turn a websockets/OS exception into an SDK error with one readable line."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return WebsocketError(f"{url} refused the websocket upgrade (HTTP {status})")
    if isinstance(exc, ConnectionClosed):
        reason = f": {exc.rcvd.reason}" if exc.rcvd and exc.rcvd.reason else ""
        code = exc.rcvd.code if exc.rcvd else None
        return WebsocketError(
            f"the server closed the websocket (code {code or 'none'}){reason}", code=code
        )
    if isinstance(exc, TimeoutError):
        return TransportError(f"{url}: no websocket answer in time")
    if isinstance(exc, WebSocketException):
        return WebsocketError(f"websocket error: {exc}")
    return TransportError(f"cannot reach {url}: {exc}")

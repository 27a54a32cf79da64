"""Exceptions raised by the SDK.

The hierarchy::

    HanamiError
    ├── TransportError            (no HTTP answer: connection refused, DNS, timeouts)
    ├── ProtocolError             (an answer the SDK cannot use)
    │   ├── InvalidResponse       (a 2xx body that is not the documented JSON)
    │   └── WebsocketError        (websocket init refused, unexpected or missing reply)
    │       └── UploadError       (a file chunk was refused by the server)
    ├── TaskError                 (``wait``: the task did not finish)
    │   ├── TaskFailed            (state ``failed``, ``cancelled`` or ``aborted``)
    │   └── WaitTimeout           (also a builtin ``TimeoutError``)
    ├── NotLoggedIn               (no token and no credentials to get one)
    └── StatusError               (the server answered 4xx/5xx; has request, response)
        ├── BadRequest            400
        ├── Unauthorized          401
        ├── Forbidden             403
        ├── NotFound              404
        ├── Conflict              409
        ├── TooManyRequests       429 (``retry_after`` seconds)
        └── ServerError           5xx (``correlation_id`` when the server gave one)

A status without its own class (405, 413, ...) raises :class:`StatusError` itself.
``str(error)`` is the server's message, which is plain text (or the ``error`` field of a JSON
error body).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HanamiError",
    "InvalidResponse",
    "NotFound",
    "NotLoggedIn",
    "ProtocolError",
    "ServerError",
    "StatusError",
    "TaskError",
    "TaskFailed",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UploadError",
    "WaitTimeout",
    "WebsocketError",
    "error_for_response",
]


class HanamiError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransportError(HanamiError):
    """The request did not get an HTTP answer (connection refused, timeout, TLS, DNS)."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class ProtocolError(HanamiError):
    """The server answered something the SDK cannot interpret."""


class InvalidResponse(ProtocolError):
    """A successful answer whose body is not the documented JSON."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response
        self.request = response.request if response is not None else None


class WebsocketError(ProtocolError):
    """A websocket that refused the init message, closed early or sent an unexpected reply.

    ``code`` is the close code when the server closed the socket (Hanami uses 4000 + the
    HTTP status of the same problem, e.g. 4404, 4409, 4401 for an expired token).
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class UploadError(WebsocketError):
    """The server refused a chunk of a file upload."""


class TaskError(HanamiError):
    """A task that :meth:`~hanami.sdk.HanamiClient.wait` gave up on; ``task`` is its last state."""

    def __init__(self, message: str, *, task: Any = None) -> None:
        super().__init__(message)
        self.task = task


class TaskFailed(TaskError):
    """The task ended in ``failed``, ``cancelled`` or ``aborted`` instead of ``finished``."""


class WaitTimeout(TaskError, TimeoutError):
    """The task did not finish within the timeout."""


class NotLoggedIn(HanamiError):
    """The client has neither a token nor credentials to log in with."""


class StatusError(HanamiError):
    """The server answered with a 4xx or 5xx status.

    ``message`` is the server's text, ``status_code`` the status, and ``request`` /
    ``response`` the httpx objects of the exchange.
    """

    status_code: int = 0

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response) -> None:
        super().__init__(message)
        self.request = request
        self.response = response
        self.status_code = response.status_code

    def __str__(self) -> str:
        return self.message or f"HTTP {self.status_code}"


class BadRequest(StatusError):
    """400: invalid input (field validation, malformed uuid, bad template, ...)."""


class Unauthorized(StatusError):
    """401: missing, invalid or expired credentials."""


class Forbidden(StatusError):
    """403: authenticated, but not allowed (the original server answers 401 instead)."""


class NotFound(StatusError):
    """404: unknown resource, or one outside the caller's projects."""


class Conflict(StatusError):
    """409: duplicate name or id, deleting yourself, impossible mode switch, ..."""


class TooManyRequests(StatusError):
    """429: too many failed logins; ``retry_after`` is the server's wait time in seconds."""

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response) -> None:
        super().__init__(message, request=request, response=response)
        try:
            self.retry_after: int | None = int(response.headers.get("retry-after", ""))
        except ValueError:
            self.retry_after = None


class ServerError(StatusError):
    """5xx: the server failed; ``correlation_id`` finds the matching ``error_log`` row."""

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response) -> None:
        super().__init__(message, request=request, response=response)
        self.correlation_id: str | None = response.headers.get("x-correlation-id")


_STATUS_CLASSES: dict[int, type[StatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: TooManyRequests,
}


def _message_of(response: httpx.Response) -> str:
    try:
        text = response.text.strip()
    except Exception:  # undecodable body
        return ""
    if text.startswith("{"):
        try:
            import json

            data = json.loads(text)
        except ValueError:
            return text
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"]
    return text


def error_for_response(response: httpx.Response) -> StatusError:
    """The exception for a 4xx/5xx ``response`` (the one place statuses map to classes)."""
    status = response.status_code
    cls = _STATUS_CLASSES.get(status) or (ServerError if status >= 500 else StatusError)
    message = _message_of(response) or f"HTTP {status} {response.reason_phrase}".strip()
    return cls(message, request=response.request, response=response)

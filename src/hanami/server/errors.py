"""Error types, their HTTP rendering, and the boundary that turns crashes into a logged 500.

Client errors are plain text (as the original), or ``{"error": ..., "status": ...}`` when the
client asks for JSON only (``Accept: application/json``). An unhandled exception answers
500 with a correlation id in the body and the ``X-Correlation-ID`` header, and writes an
``error_log`` row carrying the same id.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hanami.server.routing import allowed_methods

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "ErrorBody",
    "ErrorBoundaryMiddleware",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "api_error_response",
    "install_error_handlers",
    "openapi_errors",
]

logger = logging.getLogger("hanami.server")

REDACTED_KEYS = frozenset({"passphrase", "password", "token", "template_data"})
MAX_MESSAGE_BYTES = 2000
"""Longest error message sent; with JSON escaping the body stays under 4 KB."""
MAX_LISTED_ERRORS = 10
MAX_NAME_BYTES = 100
_CONTROL = {c: "?" for c in range(32) if chr(c) not in "\n\t"}


class ApiError(Exception):
    """An error with a status code and a message meant for the client."""

    status_code = 400

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    """Missing, malformed, forged or expired credentials."""

    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """Authenticated, but not allowed (rendered with ``settings.forbidden_status``)."""

    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class PayloadTooLarge(ApiError):
    status_code = 413


class TooManyRequests(ApiError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class ErrorBody(BaseModel):
    """An error for a client that accepts only JSON; everyone else gets the message as text."""

    error: str
    status: int


_ERROR_DESCRIPTIONS = {
    400: "Invalid input; the message names the field or the row and column",
    401: "No token, or a malformed, forged, expired or revoked one",
    403: "The policy or the caller's role does not allow this",
    404: "No such resource in the caller's scope",
    409: "The resource is in a state that does not allow this (busy, in use, exists), or the "
    "project has as many datasets or clusters as its quota allows",
    413: "The request body is too large, or the project's storage quota would be exceeded",
    429: "Too many failed logins from this address, or too many uploads in progress in the "
    "project; see Retry-After",
    500: "A server bug; the text and the X-Correlation-ID header carry the error_log id",
}


def openapi_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route answers (see the module doc)."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"description": _ERROR_DESCRIPTIONS[status], "content": text}
        if status != 500:  # the 500 answer is always text
            entry["model"] = ErrorBody
        responses[status] = entry
    return responses


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/plain" not in accept and "*/*" not in accept


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, marked with ``...`` where cut."""
    if len(text.encode()) <= limit:
        return text
    return text.encode()[: limit - 3].decode("utf-8", "ignore") + "..."


def error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The error as text, or as JSON for a client that asks only for JSON; short either way
    (messages may quote input: names, paths), control characters replaced."""
    message = _clip(message.translate(_CONTROL), MAX_MESSAGE_BYTES)
    if _wants_json(request):
        return JSONResponse({"error": message, "status": status}, status, headers=headers)
    return PlainTextResponse(message, status, headers=headers)


def format_validation_errors(errors: list[Any]) -> str:
    """Turn pydantic errors into the original's one-line-per-problem messages (the first
    :data:`MAX_LISTED_ERRORS`; a body of unknown keys could otherwise ask for megabytes)."""
    lines = []
    for error in errors[:MAX_LISTED_ERRORS]:
        loc = _format_loc([p for p in error.get("loc", ()) if p not in ("body", "query")])
        kind = error.get("type", "")
        ctx = error.get("ctx") or {}
        if kind == "extra_forbidden":
            lines.append(
                f"Validation failed, because item '{loc}' is not in the list of allowed keys"
            )
        elif kind == "missing":
            lines.append(f"Validation failed, because variable '{loc}' is required, but is not set")
        elif kind == "string_pattern_mismatch":
            lines.append(f"Validation failed, because variable '{loc}' has an invalid format")
        elif kind == "string_too_short":
            lines.append(
                f"Validation failed, because variable '{loc}' must be at least "
                f"{ctx.get('min_length')} characters long"
            )
        elif kind == "string_too_long":
            lines.append(
                f"Validation failed, because variable '{loc}' must be at most "
                f"{ctx.get('max_length')} characters long"
            )
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            lines.append(
                f"Validation failed, because variable '{loc}' is out of range: "
                f"{error.get('msg', '').lower()}"
            )
        elif kind.endswith("_type") or kind.endswith("_parsing"):
            lines.append(
                f"Validation failed, because variable '{loc}' has the wrong type: "
                f"{error.get('msg', '').lower()}"
            )
        else:
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            lines.append(f"Validation failed, because variable '{loc}' is invalid: {message}")
    if len(errors) > MAX_LISTED_ERRORS:
        lines.append(f"... and {len(errors) - MAX_LISTED_ERRORS} more problems")
    return "\n".join(lines) or "Validation failed"


def _format_loc(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return _clip(text, MAX_NAME_BYTES)


def redact(values: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of request input without secrets, for logs."""
    return {k: ("***" if k in REDACTED_KEYS else v) for k, v in values.items()}


def api_error_response(request: Request, exc: ApiError, forbidden_status: int) -> Response:
    """How an :class:`ApiError` is answered (a 403 with ``forbidden_status``)."""
    status = forbidden_status if isinstance(exc, Forbidden) else exc.status_code
    return error_response(request, status, exc.message, exc.headers)


def install_error_handlers(app: FastAPI, *, forbidden_status: int = 403) -> None:
    """Render :class:`ApiError`, FastAPI validation errors and routing errors as text."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return api_error_response(request, exc, forbidden_status)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, 400, format_validation_errors(list(exc.errors())))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            message = f"No endpoint found for path '{request.url.path}'"
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed for path '{request.url.path}'"
            headers["Allow"] = ", ".join(allowed_methods(request.app.routes, request.url.path))
        else:
            message = str(exc.detail)
        return error_response(request, exc.status_code, message, headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


ErrorRecorder = Callable[[str, str, str, str, str], None]
"""``(correlation_id, user_id, context, input_values_json, message) -> None``."""


class ErrorBoundaryMiddleware:
    """Catch anything the app let escape: log it, record it, answer 500 with a correlation id.

    The user id and the (redacted) request input are read from ``scope["state"]``, where the
    auth and input dependencies leave them (``principal``, ``input_values``).
    """

    def __init__(self, app: ASGIApp, record: ErrorRecorder) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            correlation_id = str(uuid.uuid4())
            endpoint = scope.get("path", "")
            logger.exception(
                "unhandled error %s in %s %s", correlation_id, scope["method"], endpoint
            )
            if started:
                raise
            state = scope.get("state") or {}
            principal = state.get("principal")
            user_id = getattr(principal, "user_id", "") or ""
            inputs = json.dumps(state.get("input_values") or {}, default=str)
            context = f"{scope['method']} {endpoint.lstrip('/')} correlation_id={correlation_id}"
            message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            try:
                await anyio.to_thread.run_sync(
                    self.record, correlation_id, user_id, context, inputs, message
                )
            except Exception:
                logger.exception("could not write error_log row for %s", correlation_id)
            body = f"Internal server error (correlation id: {correlation_id})".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-correlation-id", correlation_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

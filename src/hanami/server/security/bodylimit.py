"""A size limit on request bodies, enforced before anything parses them.

JSON is parsed whole, and a parsed object takes many times its text (a 12 MB body of
unknown keys took the server to 1.5 GB). Bodies over the limit are refused with 413: at
once when ``Content-Length`` says so, else as soon as the bytes read pass the limit. The
upload routes that stream large files to disk have their own limits and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hanami.server.errors import PayloadTooLarge, error_response

__all__ = ["BodyLimitMiddleware"]

_CLOSE = (b"connection", b"close")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, self._too_large())
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()  # the app's handler answers 413 (see errors.py)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if received > self.max_bytes:  # close rather than read the rest of the body
                    message["headers"] = [*message.get("headers", ()), _CLOSE]
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge as exc:  # raised where no handler caught it
            if started:
                raise
            await self._refuse(scope, receive, send, exc)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"Request body is larger than {self.max_bytes} bytes")

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, exc: PayloadTooLarge) -> None:
        response = error_response(Request(scope), exc.status_code, exc.message)
        response.raw_headers.append(_CLOSE)  # the rest of the body is not read
        await response(scope, receive, send)

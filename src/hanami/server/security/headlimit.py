"""Limits on the request head (request line and headers) for uvicorn's httptools protocol.

llhttp enforces none, and httptools keeps a header in memory until it ends: a request with
a 1 MB token header or with 100,000 headers was read and answered. uvicorn's other
protocol, h11, has a limit (``h11_max_incomplete_event_size``) but cost about 30% more
server CPU per request here (GET load on 2 shared cores: 2.3 and 2.7 ms of server CPU a
request against 1.7 and 1.7 ms with httptools). So this protocol feeds the
parser no more head bytes than allowed, counts the headers, and answers 431 and closes the
connection when a head is too large. Bytes are counted per read, so a head may pass the
limit by the rest of a read that also ended the previous request.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["BoundedHttpToolsProtocol", "bounded_http_protocol"]


class _TooManyHeaders(Exception):
    """Raised in the parser callback to stop the parser."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = 16 * 1024
    max_headers = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_left: int | None = self.max_head_bytes
        """Head bytes the parser may still get; ``None`` while a body is read."""
        self._refused = False

    def data_received(self, data: bytes) -> None:
        while self._head_left is not None and len(data) > self._head_left:
            part, data = data[: self._head_left], data[self._head_left :]
            self._head_left = 0
            super().data_received(part)
            if self.transport.is_closing():
                return
            if self._head_left == 0:  # still in the head, and it goes on
                self._refuse("Request header fields too large")
                return
        if self._head_left is not None:
            self._head_left -= len(data)
        super().data_received(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.max_headers:
            self._refused = True
            raise _TooManyHeaders
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_left = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_left = self.max_head_bytes

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, which is how :class:`_TooManyHeaders` ends."""
        if self._refused:
            self._refuse(f"More than {self.max_headers} request headers")
        else:
            super().send_400_response(msg)

    def _refuse(self, message: str) -> None:
        body = message.encode()
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: text/plain; charset=utf-8\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def bounded_http_protocol(max_head_bytes: int, max_headers: int) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for these limits."""
    limits = {"max_head_bytes": max_head_bytes, "max_headers": max_headers}
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), limits)

"""Streaming ``multipart/form-data``: file parts go to disk as they arrive, never into memory.

Starlette's ``request.form()`` spools files to the system temp folder without a size cap
while the body streams (only ``Content-Length`` can be checked up front, and chunked
requests have none). :func:`receive_form` feeds the body to the same parser
(``python-multipart``) itself, so it can

- write each file part to its own file under ``directory`` (the server's tempfile folder,
  named by a fresh UUID so a start-up after a crash purges what a killed request left),
- count the body while it streams and answer 413 as soon as it passes ``max_bytes``,
- bound what is held in memory: text fields (64 KiB each, ``max_fields`` of them), part
  headers (the parser's own limits) and file data not yet written (about 1 MiB),
- delete the files when the ``async with`` block ends, whatever happened.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from hanami.server.errors import BadRequest, PayloadTooLarge

__all__ = ["Form", "receive_form"]

MAX_FIELD_BYTES = 64 * 1024
"""Longest text field (the form's names and types are short)."""
_FLUSH_BYTES = 1 << 20
_SHOWN_CHARS = 60


@dataclass
class Form:
    """A received form: text fields, and the path of each file part's data."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


@asynccontextmanager
async def receive_form(
    request: Request,
    directory: Path,
    *,
    file_fields: Collection[str],
    max_bytes: int,
    max_fields: int = 8,
) -> AsyncIterator[Form]:
    """Receive a multipart body whose file parts may only be ``file_fields``.

    400 for a malformed body, a field given twice, a file part under another name or a
    text field under a file's name; 413 once the body passes ``max_bytes``.
    """
    too_large = PayloadTooLarge(
        f"Upload is larger than {max_bytes} bytes; use the websocket upload"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("Malformed multipart body: the Content-Type has no boundary")
    sink = _FormSink(directory, frozenset(file_fields), max_fields)
    try:
        try:
            parser = MultipartParser(boundary, sink.callbacks())
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise too_large
                parser.write(chunk)
                if sink.buffered >= _FLUSH_BYTES:
                    await anyio.to_thread.run_sync(sink.flush)
        except FormParserError as exc:
            raise BadRequest(f"Malformed multipart body: {exc}") from exc
        except ClientDisconnect as exc:
            raise BadRequest("The client closed the connection during the upload") from exc
        if not sink.ended:
            raise BadRequest("Malformed multipart body: it ends before the closing boundary")
        await anyio.to_thread.run_sync(sink.flush)
        sink.close_files()
        yield sink.form
    finally:
        sink.discard()


class _FormSink:
    """The parser's callbacks: collect text fields, append file data to files."""

    def __init__(self, directory: Path, file_fields: frozenset[str], max_fields: int) -> None:
        self.directory = directory
        self.file_fields = file_fields
        self.max_fields = max_fields
        self.form = Form()
        self.ended = False
        self.buffered = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._name = ""
        self._text: bytearray | None = None
        self._file: BinaryIO | None = None
        self._pending: list[tuple[BinaryIO, bytes]] = []
        self._open: list[BinaryIO] = []

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._text = None
        self._file = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if not name:
            raise BadRequest("Malformed multipart body: a part has no name")
        shown = _show(name)
        if name in self.form.fields or name in self.form.files:
            raise BadRequest(f"Field '{shown}' is given twice")
        self._name = name
        # a file field is a file with or without a filename (RFC 7578 makes it optional)
        if b"filename" in options or name in self.file_fields:
            if name not in self.file_fields:
                raise BadRequest(
                    f"Validation failed, because item '{shown}' is not in the list of allowed keys"
                )
            path = self.directory / str(uuid.uuid4())
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file = path.open("xb")
            self._open.append(self._file)
            self.form.files[name] = path
        elif len(self.form.fields) >= self.max_fields:
            raise BadRequest(f"Malformed multipart body: more than {self.max_fields} fields")
        else:
            self._text = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._pending.append((self._file, data[start:end]))
            self.buffered += end - start
        elif self._text is not None:
            if len(self._text) + end - start > MAX_FIELD_BYTES:
                raise BadRequest(
                    f"Field '{_show(self._name)}' is longer than {MAX_FIELD_BYTES} bytes"
                )
            self._text += data[start:end]

    def on_part_end(self) -> None:
        if self._text is not None:
            self.form.fields[self._name] = self._text.decode("utf-8", "replace")

    def on_end(self) -> None:
        self.ended = True

    def flush(self) -> None:
        """Write the file data received so far (in a worker thread: it is disk I/O)."""
        pending, self._pending, self.buffered = self._pending, [], 0
        for file, data in pending:
            file.write(data)

    def close_files(self) -> None:
        for file in self._open:
            file.close()

    def discard(self) -> None:
        """Close and delete every file part."""
        self.close_files()
        for path in self.form.files.values():
            path.unlink(missing_ok=True)


def _show(name: str) -> str:
    """A field name for an error message, shortened so the message stays short."""
    return name if len(name) <= _SHOWN_CHARS else name[:_SHOWN_CHARS] + "..."

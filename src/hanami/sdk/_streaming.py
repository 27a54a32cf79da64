"""Upload sources opened as byte streams and sent as streamed request bodies, with progress.

Dataset and checkpoint uploads read files this way, so that no upload is held in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from hanami.sdk._exceptions import UploadError
from hanami.sdk._wire import Call, Op, parse_model

if TYPE_CHECKING:
    from hanami.sdk._datasets import FileSource, UploadProgressCallback

__all__ = [
    "CHUNK_SIZE",
    "counting",
    "open_source",
    "post_streamed",
    "read_exactly",
    "stream_chunks",
]

CHUNK_SIZE = 128 * 1024
"""Bytes per upload chunk; the server tracks segments of exactly this size."""

M = TypeVar("M", bound=BaseModel)


@contextlib.contextmanager
def open_source(source: FileSource) -> Iterator[tuple[IO[bytes], int, str]]:
    """Yield ``(binary stream, size in bytes, label)`` for an upload source."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        yield io.BytesIO(data), len(data), "<bytes>"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as stream:
            yield stream, os.fstat(stream.fileno()).st_size, str(path)
    else:
        start = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(start)
        yield source, end - start, str(getattr(source, "name", "<stream>"))


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes, fewer only where the stream ends (a short read is not the end)."""
    parts = []
    missing = size
    while missing > 0:
        part = stream.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def stream_chunks(stream: IO[bytes], size: int, on_chunk: Callable[[int], None]) -> Iterator[bytes]:
    """``size`` bytes of ``stream`` in chunks of at most ``CHUNK_SIZE``, each reported."""
    left = size
    while left > 0:
        chunk = stream.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise UploadError(f"the file ended {left} bytes early")
        left -= len(chunk)
        on_chunk(len(chunk))
        yield chunk


def counting(progress: UploadProgressCallback | None, total: int) -> Callable[[int], None]:
    """An ``on_chunk`` callback that adds up the bytes sent and calls ``progress(sent, total)``."""
    sent = 0

    def on_chunk(count: int) -> None:
        nonlocal sent
        sent += count
        if progress is not None:
            progress(sent, total)

    return on_chunk


def post_streamed(
    path: str,
    params: dict[str, str],
    body: Iterator[bytes],
    content_type: str,
    length: int,
    model: type[M],
) -> Op[M]:
    """POST ``body`` (streamed, ``length`` bytes) and parse the answer as ``model``."""
    headers = {"Content-Type": content_type, "Content-Length": str(length)}
    data = yield Call("POST", path, params=params, content=body, headers=headers)
    return parse_model(model, data)

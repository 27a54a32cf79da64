"""Checkpoint files to and from the server as streamed bodies (Hanami only)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING

from hanami.protocol.models import Checkpoint
from hanami.sdk._streaming import counting, open_source, post_streamed, stream_chunks
from hanami.sdk._wire import Call, Op

if TYPE_CHECKING:
    from hanami.sdk._datasets import FileSource, UploadProgressCallback

__all__ = ["download_checkpoint", "upload_checkpoint"]


def upload_checkpoint(
    name: str,
    source: FileSource,
    *,
    progress: UploadProgressCallback | None = None,
) -> Op[Checkpoint]:
    """``POST /checkpoint/upload?name=`` with the raw file as the body (Hanami only)."""
    with open_source(source) as (stream, size, label):
        if size <= 0:
            raise ValueError(f"{label} is empty")
        body = stream_chunks(stream, size, counting(progress, size))
        return (yield from post_streamed(
            "checkpoint/upload", {"name": name}, body, "application/octet-stream", size, Checkpoint
        ))  # fmt: skip


def download_checkpoint(
    uuid: str,
    target: str | os.PathLike[str] | IO[bytes],
    *,
    progress: UploadProgressCallback | None = None,
) -> Op[int]:
    """``GET /checkpoint/download?uuid=`` into ``target`` (a path is written to a ``.part``
    file first, renamed when complete); returns the byte count."""
    written = 0
    with contextlib.ExitStack() as stack:
        if isinstance(target, str | os.PathLike):
            path = Path(target)
            temp = path.with_name(f".{path.name}.part")
            out: IO[bytes] = stack.enter_context(temp.open("wb"))
            stack.callback(temp.unlink, missing_ok=True)
        else:
            path = temp = None
            out = target

        def sink(chunk: bytes, total: int) -> None:
            nonlocal written
            out.write(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written, total or written)

        yield Call("GET", "checkpoint/download", params={"uuid": uuid}, sink=sink)
        if temp is not None and path is not None:
            out.close()
            os.replace(temp, path)
    return written

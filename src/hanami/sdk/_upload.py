"""Dataset uploads: the websocket protocol of spec §3.3, and multipart/form-data (Hanami only).

Websocket flow: ``POST /dataset/upload/{mnist|csv}`` with the byte sizes gives the dataset
uuid and one tempfile uuid per file; each file goes over its own websocket (init message
``{"token", "target": "file_upload", "uuid": <tempfile>}``, then ``FileUpload_Message``
chunks of exactly 128 KiB at ``position = index * 131072``, one
``FileUploadResponse_Message`` awaited per chunk); ``GET /dataset/progress`` is polled until
``complete``; ``PUT /dataset/upload/...`` converts the files.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hanami.protocol.models import Dataset
from hanami.sdk._datasets import Datasets
from hanami.sdk._exceptions import HanamiError, UploadError
from hanami.sdk._streaming import (
    CHUNK_SIZE,
    counting,
    open_source,
    post_streamed,
    read_exactly,
    stream_chunks,
)
from hanami.sdk._websocket import (
    WEBSOCKET_MIN_VALIDITY,
    check_init_reply,
    describe_ws_error,
    init_message,
    ssl_context,
)
from hanami.sdk._wire import Blocking, Op, Sleep

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

    from hanami.sdk._core import BaseClient
    from hanami.sdk._datasets import FileSource, UploadProgressCallback

__all__ = ["MULTIPART_PATH", "send_file", "upload"]

MULTIPART_PATH = "dataset/upload"
"""Hanami's one-request upload: form fields ``name``, ``type`` (mnist/csv), files
``input_file`` and (mnist) ``label_file``; answers like ``GET /dataset``."""


def send_file(
    url: str,
    token: str,
    verify: bool,
    tempfile_uuid: str,
    stream: IO[bytes],
    size: int,
    *,
    on_chunk: Callable[[int], None] | None = None,
    timeout: float | None = 60.0,
) -> None:
    """Send one file to a tempfile over its own websocket, awaiting one reply per chunk."""
    from websockets.sync.client import connect

    from hanami.protocol.proto import FileUpload_Message, FileUploadResponse_Message

    try:
        with connect(
            url,
            open_timeout=timeout,
            close_timeout=5,
            compression=None,
            max_size=None,
            ssl=ssl_context(url, verify),
        ) as ws:
            ws.send(init_message(token, "file_upload", tempfile_uuid))
            check_init_reply(_recv(ws, timeout))
            position = 0
            while position < size:
                chunk = read_exactly(stream, min(CHUNK_SIZE, size - position))
                if not chunk:
                    raise UploadError(f"the file ended after {position} of {size} bytes")
                message = FileUpload_Message(position=position, data=chunk)
                ws.send(message.SerializeToString())
                answer = FileUploadResponse_Message()
                try:
                    answer.ParseFromString(_as_bytes(_recv(ws, timeout)))
                except Exception as exc:  # protobuf DecodeError
                    raise UploadError(f"unreadable upload answer at byte {position}") from exc
                if not answer.success:
                    raise UploadError(
                        f"the server refused the chunk at byte {position}: "
                        f"{answer.errorMessage or 'no reason given'}"
                    )
                position += len(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
    except HanamiError:
        raise
    except Exception as exc:
        raise describe_ws_error(exc, url) from exc


def _recv(ws: ClientConnection, timeout: float | None) -> str | bytes:
    return ws.recv(timeout=timeout)


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def wait_until_complete(
    client: BaseClient[Any], dataset_uuid: str, timeout: float | None
) -> Op[None]:
    """Poll ``GET /dataset/progress`` until the server has every chunk."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.05
    while not (yield from Datasets.progress.op(client.datasets, dataset_uuid)).complete:
        if deadline is not None and time.monotonic() >= deadline:
            raise UploadError(
                f"the server did not confirm the upload of dataset {dataset_uuid} "
                f"within {timeout:g} s"
            )
        yield Sleep(pause)
        pause = min(0.5, pause * 2)


def upload(
    client: BaseClient[Any],
    kind: str,
    name: str,
    sources: list[FileSource],
    *,
    progress: UploadProgressCallback | None,
    transport: str,
    timeout: float | None,
) -> Op[Dataset]:
    """Upload ``sources`` as a dataset of ``kind`` (mnist or csv) over ``transport``."""
    if transport not in ("websocket", "multipart"):
        raise ValueError(f"unknown transport {transport!r} (websocket or multipart)")
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(open_source(s)) for s in sources]
        for _, size, label in opened:
            if size <= 0:
                raise ValueError(f"{label} is empty")
        total = sum(size for _, size, _ in opened)
        on_chunk = counting(progress, total)
        if progress is not None:
            progress(0, total)
        if transport == "multipart":
            return (yield from _upload_multipart(kind, name, opened, on_chunk))
        uuid = yield from _upload_websocket(client, kind, name, opened, on_chunk, timeout)
    return (yield from Datasets.get.op(client.datasets, uuid))


def _upload_websocket(
    client: BaseClient[Any],
    kind: str,
    name: str,
    opened: list[tuple[IO[bytes], int, str]],
    on_chunk: Callable[[int], None],
    timeout: float | None,
) -> Op[str]:
    datasets = client.datasets
    if kind == "mnist":
        init = yield from Datasets.init_mnist_upload.op(datasets, name, opened[0][1], opened[1][1])
        tempfiles = [init.uuid_input_file, init.uuid_label_file or ""]
    else:
        init = yield from Datasets.init_csv_upload.op(datasets, name, opened[0][1])
        tempfiles = [init.uuid_input_file]
    try:
        for (stream, size, _), tempfile in zip(opened, tempfiles, strict=True):
            token = yield from client._token_op(WEBSOCKET_MIN_VALIDITY)
            url = client.websocket_url
            yield Blocking(
                functools.partial(
                    send_file, url, token, client.verify, tempfile, stream, size, on_chunk=on_chunk
                )
            )
        yield from wait_until_complete(client, init.uuid, timeout)
        if kind == "mnist":
            yield from Datasets.finalize_mnist_upload.op(
                datasets, init.uuid, tempfiles[0], tempfiles[1]
            )
        else:
            yield from Datasets.finalize_csv_upload.op(datasets, init.uuid, tempfiles[0])
    except BaseException:
        with contextlib.suppress(Exception):  # do not leave a half-uploaded dataset behind
            yield from Datasets.delete.op(datasets, init.uuid)
        raise
    return init.uuid


def _upload_multipart(
    kind: str,
    name: str,
    opened: list[tuple[IO[bytes], int, str]],
    on_chunk: Callable[[int], None],
) -> Op[Dataset]:
    boundary = "hanami-" + secrets.token_hex(16)
    parts: list[bytes | tuple[IO[bytes], int]] = []
    for key, value in (("name", name), ("type", kind)):
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for key, (stream, size, label) in zip(("input_file", "label_file"), opened, strict=False):
        filename = Path(label).name.replace('"', "").replace("\r", "").replace("\n", "")
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
        )
        parts.append((stream, size))
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    length = sum(p[1] if isinstance(p, tuple) else len(p) for p in parts)

    def body() -> Iterator[bytes]:
        for part in parts:
            if isinstance(part, bytes):
                yield part
            else:
                yield from stream_chunks(*part, on_chunk)

    return (
        yield from post_streamed(
            MULTIPART_PATH,
            [],
            body(),
            f"multipart/form-data; boundary={boundary}",
            length,
            Dataset,
        )
    )

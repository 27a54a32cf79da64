"""Helpers for the dataset, upload and websocket tests: IDX/CSV builders and protocol clients."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from server_helpers import MEMBER_PASSPHRASE, Api, Member, b64, login, unique
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from hanami.protocol.proto import FileUpload_Message, FileUploadResponse_Message

CHUNK = 128 * 1024
WS_TIMEOUT = 30.0


def idx_bytes(array: Any, code: int = 0x08) -> bytes:
    """An IDX file for a uint8 array (MNIST images ``[n, rows, cols]`` or labels ``[n]``)."""
    data = np.asarray(array, dtype=np.uint8)
    return (
        bytes([0, 0, code, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape) + data.tobytes()
    )


@dataclass
class Mnist:
    images: np.ndarray
    labels: np.ndarray

    @property
    def image_file(self) -> bytes:
        return idx_bytes(self.images)

    @property
    def label_file(self) -> bytes:
        return idx_bytes(self.labels)


def make_mnist(n: int = 300, side: int = 28, seed: int = 0) -> Mnist:
    """Random pixels and labels ``0..9`` repeating; 300 28x28 images span two 128 KiB chunks."""
    rng = np.random.default_rng(seed)
    return Mnist(rng.integers(0, 256, (n, side, side), dtype=np.uint8), np.arange(n) % 10)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def ws_url(base_url: str, path: str = "/") -> str:
    return "ws" + base_url.removeprefix("http") + path


@contextmanager
def ws_connect(base_url: str, path: str = "/") -> Iterator[ClientConnection]:
    with connect(
        ws_url(base_url, path), open_timeout=WS_TIMEOUT, close_timeout=5, proxy=None
    ) as ws:
        yield ws


def ws_init(ws: ClientConnection, token: str, target: str, uuid: str, **extra: Any) -> dict:
    ws.send(json.dumps({"token": token, "target": target, "uuid": uuid, **extra}))
    return json.loads(ws.recv(timeout=WS_TIMEOUT))


def expect_close(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; return its close code and reason."""
    try:
        while True:
            ws.recv(timeout=WS_TIMEOUT)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, "closed without a close frame"
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("unreachable")


def send_chunk(ws: ClientConnection, position: int, data: bytes) -> FileUploadResponse_Message:
    ws.send(FileUpload_Message(position=position, data=data).SerializeToString())
    reply = FileUploadResponse_Message()
    reply.ParseFromString(ws.recv(timeout=WS_TIMEOUT))
    return reply


def ws_upload(base_url: str, token: str, tempfile_uuid: str, data: bytes) -> None:
    """The SDK's upload: init, then 128 KiB chunks, one reply each."""
    with ws_connect(base_url) as ws:
        reply = ws_init(ws, token, "file_upload", tempfile_uuid)
        assert reply["success"] is True, reply
        for position in range(0, len(data), CHUNK):
            answer = send_chunk(ws, position, data[position : position + CHUNK])
            assert answer.success, answer.errorMessage


def start_upload(api: Api, kind: str, name: str, *sizes: int) -> dict:
    body: dict[str, Any] = {"name": name, "input_data_size": sizes[0]}
    if kind == "mnist":
        body["label_data_size"] = sizes[1]
    response = api.post(f"dataset/upload/{kind}", body)
    assert response.status_code == 200, response.text
    return response.json()


def finalize(api: Api, kind: str, created: dict) -> httpx.Response:
    body = {"uuid": created["uuid"], "uuid_input_file": created["uuid_input_file"]}
    if kind == "mnist":
        body["uuid_label_file"] = created["uuid_label_file"]
    return api.put(f"dataset/upload/{kind}", body)


def upload_mnist_ws(api: Api, base_url: str, name: str, mnist: Mnist) -> str:
    images, labels = mnist.image_file, mnist.label_file
    created = start_upload(api, "mnist", name, len(images), len(labels))
    ws_upload(base_url, api.token or "", created["uuid_input_file"], images)
    ws_upload(base_url, api.token or "", created["uuid_label_file"], labels)
    response = finalize(api, "mnist", created)
    assert response.status_code == 200, response.text
    return created["uuid"]


def upload_csv_ws(api: Api, base_url: str, name: str, text: str) -> str:
    data = text.encode()
    created = start_upload(api, "csv", name, len(data))
    ws_upload(base_url, api.token or "", created["uuid_input_file"], data)
    response = finalize(api, "csv", created)
    assert response.status_code == 200, response.text
    return created["uuid"]


def multipart(api: Api, name: str, kind: str, **files: bytes) -> httpx.Response:
    return api.http.post(
        "/v1.0alpha/dataset/upload",
        data={"name": name, "type": kind},
        files={key: (f"{key}.bin", value) for key, value in files.items()},
        headers=api.headers(),
    )


def content(api: Api, uuid: str, column: str, offset: int = 0, rows: int = 1) -> httpx.Response:
    return api.get(
        "dataset/content", uuid=uuid, column_name=column, row_offset=offset, number_of_rows=rows
    )


def new_member(
    admin: Api,
    http: httpx.Client,
    project_id: str | None = None,
    *,
    is_project_admin: bool = False,
) -> Member:
    """Like the ``make_member`` fixture, usable from module-scoped fixtures."""
    if project_id is None:
        project_id = unique("proj")
        response = admin.post("project", {"id": project_id, "name": "Dataset Project"})
        assert response.status_code == 200, response.text
    user_id = unique("user")
    body = {"id": user_id, "name": "Dataset User", "passphrase": b64(MEMBER_PASSPHRASE)}
    assert admin.post("user", body).status_code == 200
    assignment = {
        "id": user_id,
        "project_id": project_id,
        "role": "member",
        "is_project_admin": is_project_admin,
    }
    assert admin.post("user/project", assignment).status_code == 200
    return Member(user_id, project_id, Api(http, login(http, user_id, MEMBER_PASSPHRASE)))

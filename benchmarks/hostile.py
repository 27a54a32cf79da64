"""Hostile requests: the server's peak memory for each one, over the idle server.

The reliability campaign found single requests that multiplied the server's memory. Each is
sent here once to a fresh server (SQLite, default limits) while the server's RSS is sampled
every 5 ms (psutil):

- ``multipart_1gib``: a multipart MNIST upload of 1,022 MiB (1,021 MiB of pixels), streamed
  by the client (accepted: just under the 1 GiB default upload and dataset limits);
- ``gzip_bomb``: a gzip file of about 1 MB that decompresses to a 971 MiB IDX file;
- ``json_15mb``: ``POST cluster`` with a 15 MB JSON body of 900,000 unknown keys;
- ``direct_buffers``: 60 direct-I/O buffers of 8 MB under distinct names in one step.

Reported for each: the answer (status or websocket close code), its size in bytes, seconds,
and the peak RSS over the idle server in MB. The targets (issue 9): ≤ 200 MB each, answers
≤ 4 KB.

``python benchmarks/hostile.py`` prints JSON.
"""

from __future__ import annotations

import json
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed

import loadgen
from hanami.protocol.proto import ClusterIO_Message
from loadgen import Client, RssPeak, ServerProcess, ws_connect, ws_init

MB = 1_000_000
MIB = 1 << 20
BOUNDARY = "hanami-hostile-boundary"


def peak_rss(pid: int, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` while sampling the RSS of ``pid``; its result plus the peak over idle."""
    started = time.perf_counter()
    with RssPeak(pid) as rss:
        result = work()
    idle, peak = rss.idle, rss.peak
    return {
        **result,
        "seconds": round(time.perf_counter() - started, 2),
        "idle_rss_mb": round(idle / MB, 1),
        "peak_over_idle_mb": round((peak - idle) / MB, 1),
    }


def idx_header(shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def form_part(name: str, value: str) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    return f"--{BOUNDARY}\r\n{disposition}\r\n\r\n{value}\r\n".encode()


def file_part(name: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    disposition = f'Content-Disposition: form-data; name="{name}"; filename="{name}.bin"'
    kind = "Content-Type: application/octet-stream"
    yield f"--{BOUNDARY}\r\n{disposition}\r\n{kind}\r\n\r\n".encode()
    yield from chunks
    yield b"\r\n"


def mnist_upload(client: Client, name: str, images: Iterator[bytes], rows: int) -> dict:
    """A multipart MNIST upload whose image file the client streams chunk by chunk."""

    def body() -> Iterator[bytes]:
        yield form_part("name", name) + form_part("type", "mnist")
        yield from file_part("input_file", images)
        yield from file_part("label_file", iter([idx_header((rows,)) + bytes(rows)]))
        yield f"--{BOUNDARY}--\r\n".encode()

    headers = {**client.api.headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = client.http.post(
        "/v1.0alpha/dataset/upload", content=body(), headers=headers, timeout=600
    )
    return {
        "status": response.status_code,
        "answer": response.text[:200],
        "answer_bytes": len(response.content),
    }


def zero_chunks(total: int, chunk: int = 4 * MIB) -> Iterator[bytes]:
    block = bytes(chunk)
    while total > 0:
        yield block[: min(chunk, total)]
        total -= chunk


def multipart_1gib(client: Client) -> dict:
    rows = (1021 * MIB) // 784
    images = iter([idx_header((rows, 28, 28)), *zero_chunks(rows * 784)])
    return mnist_upload(client, "hostile_large", images, rows)


def gzip_bomb(client: Client) -> dict:
    rows = (971 * MIB) // 784
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    bomb = packer.compress(idx_header((rows, 28, 28)))
    for chunk in zero_chunks(rows * 784):
        bomb += packer.compress(chunk)
    bomb += packer.flush()
    result = mnist_upload(client, "hostile_bomb", iter([bomb]), rows)
    return {**result, "compressed_bytes": len(bomb)}


def json_15mb(client: Client) -> dict:
    body = json.dumps({f"k{n:06d}": n for n in range(900_000)}).encode()
    headers = {**client.api.headers(), "Content-Type": "application/json"}
    response = client.http.post("/v1.0alpha/cluster", content=body, headers=headers)
    return {
        "status": response.status_code,
        "answer_bytes": len(response.content),
        "body_bytes": len(body),
    }


def direct_buffers(client: Client) -> dict:
    cluster = loadgen.create_cluster(client.api, "hostile_direct")
    assert client.set_mode(cluster, "DIRECT") == 200
    values = np.ones(2 * MIB, dtype=np.float32)  # 8 MiB per buffer
    sent, code, reason = 0, None, ""
    with ws_connect(client.server.url) as ws:
        assert ws_init(ws, client.api.token or "", "cluster", cluster)["success"] is True
        try:
            for n in range(60):
                message = ClusterIO_Message(
                    bufferName=f"buffer_{n}", isLast=False, numberOfValues=values.size
                )
                message.values.extend(values)
                ws.send(message.SerializeToString())
                sent += 1
                ws.recv(timeout=60)
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                code, reason = closed.rcvd.code, closed.rcvd.reason
    return {"close_code": code, "answer_bytes": len(reason.encode()), "buffers_sent": sent}


REQUESTS: dict[str, Callable[[Client], dict]] = {
    "multipart_1gib": multipart_1gib,
    "gzip_bomb": gzip_bomb,
    "json_15mb": json_15mb,
    "direct_buffers": direct_buffers,
}


def main() -> dict[str, Any]:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hanami-hostile-") as folder:
        for name, request in REQUESTS.items():
            server = ServerProcess(Path(folder) / name)
            server.data_dir.mkdir()
            server.start()
            client = Client(server)
            try:
                client.api.get("cluster/all")  # warm: the routes and the database touched once
                report[name] = peak_rss(server.proc.pid, partial(request, client))
            finally:
                client.close()
                server.terminate()
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

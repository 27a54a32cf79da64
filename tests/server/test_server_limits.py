"""Upload limits over a real server: refused quickly, memory flat, no leftovers, quick stop.

The module's server caps decompressed files at 300 MiB (``HANAMI_DATASET_MAX_BYTES``); the
SIGTERM tests start servers of their own with the defaults. Durations are printed (``-s``)
and asserted only with generous bounds, so a busy machine does not fail them.
"""

from __future__ import annotations

import contextlib
import gzip
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from dataset_helpers import finalize, idx_bytes, multipart, start_upload, ws_upload
from server_helpers import ADMIN_ID, ADMIN_NAME, ADMIN_PASSPHRASE, TOKEN_KEY, Api, login
from server_process import RssPeak, free_port, server_env, start_server, stop_server

MAX_BYTES = 300 << 20
MAX_ERROR_BODY = 4096


def env(**extra: str) -> dict[str, str]:
    return server_env(
        admin_id=ADMIN_ID,
        admin_name=ADMIN_NAME,
        admin_passphrase=ADMIN_PASSPHRASE,
        token_key=TOKEN_KEY,
        extra=extra,
    )


class Server:
    """A server process of this module, with an admin client."""

    def __init__(self, data_dir: Path, **extra: str) -> None:
        self.data_dir = data_dir
        port = free_port()
        self.proc = start_server(data_dir, port, env(**extra))
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        self.api = Api(self.http, login(self.http, ADMIN_ID, ADMIN_PASSPHRASE))

    def files(self) -> set[str]:
        """What the upload and dataset folders hold."""
        folders = (self.data_dir / "tempfiles", self.data_dir / "datasets")
        return {str(p.relative_to(self.data_dir)) for f in folders for p in f.iterdir()}

    def close(self) -> None:
        self.http.close()
        stop_server(self.proc)


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("limits"), HANAMI_DATASET_MAX_BYTES=str(MAX_BYTES))
    try:
        yield server
    finally:
        server.close()


def mnist_files(rows: int) -> tuple[bytes, bytes]:
    pixels = np.resize(np.arange(251, dtype=np.uint8), (rows, 28, 28))
    return idx_bytes(pixels), idx_bytes(np.arange(rows) % 10)


def test_csv_header_of_a_million_columns_is_refused_at_once(capped):
    header = (",".join(f"column{i}" for i in range(1_000_000)) + "\n1\n").encode()
    assert len(header) > 11_000_000
    started = time.perf_counter()
    response = multipart(capped.api, "wide_csv", "csv", input_file=header)
    seconds = time.perf_counter() - started
    print(f"\n{len(header) / 1e6:.1f} MB header of 10^6 columns: {response.status_code} in "
          f"{seconds:.3f} s (multipart)")  # fmt: skip
    assert response.status_code == 400
    assert response.text.startswith("input_file: row 1 is longer than")
    assert len(response.content) <= MAX_ERROR_BODY
    assert seconds < 10

    created = start_upload(capped.api, "csv", "wide_csv_ws", len(header))
    ws_upload(str(capped.http.base_url), capped.api.token or "", created["uuid_input_file"], header)
    started = time.perf_counter()
    response = finalize(capped.api, "csv", created)
    print(f"finalize after the websocket upload: {response.status_code} in "
          f"{time.perf_counter() - started:.3f} s")  # fmt: skip
    assert response.status_code == 400 and response.text.startswith("input file: row 1 is")
    assert capped.api.delete("dataset", uuid=created["uuid"]).status_code == 200


def test_gzip_bomb_is_refused_with_413_and_leaves_no_files(capped):
    before = capped.files()
    rows = (MAX_BYTES >> 10) + 1024  # rows of 1 KiB: 1 MiB past the cap
    bomb = gzip.compress(idx_bytes(np.zeros((rows, 32, 32), np.uint8)), compresslevel=9)
    labels = idx_bytes(np.zeros(rows, np.uint8))
    assert len(bomb) < 1 << 20
    response = multipart(capped.api, "bomb", "mnist", input_file=bomb, label_file=labels)
    assert response.status_code == 413, response.text
    assert (
        response.text
        == f"input_file: more than {MAX_BYTES} bytes (after decompression) are not allowed"
    )
    assert capped.files() == before

    created = start_upload(capped.api, "mnist", "bomb_ws", len(bomb), len(labels))
    token = capped.api.token or ""
    ws_upload(str(capped.http.base_url), token, created["uuid_input_file"], bomb)
    ws_upload(str(capped.http.base_url), token, created["uuid_label_file"], labels)
    response = finalize(capped.api, "mnist", created)
    assert response.status_code == 413 and response.text.startswith("input file: more than")
    assert capped.api.delete("dataset", uuid=created["uuid"]).status_code == 200
    assert capped.files() == before

    # A declared size over the cap is refused before anything is sent.
    body = {"name": "too_big", "input_data_size": MAX_BYTES + 1}
    response = capped.api.post("dataset/upload/csv", body)
    assert response.status_code == 413 and "the limit is" in response.text


def test_malformed_multipart_bodies_get_short_answers_and_leave_no_files(capped):
    before = capped.files()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\ncut_off\r\n'
        b'--b\r\nContent-Disposition: form-data; name="type"\r\n\r\ncsv\r\n'
        b'--b\r\nContent-Disposition: form-data; name="input_file"; filename="a"\r\n\r\n'
        b"a\n1\n"
    )
    headers = {**capped.api.headers(), "Content-Type": "multipart/form-data; boundary=b"}
    response = capped.http.post("/v1.0alpha/dataset/upload", content=body, headers=headers)
    assert response.status_code == 400
    assert response.text == "Malformed multipart body: it ends before the closing boundary"

    long_name = "n" * 4000  # the parser takes part headers of up to 4 KiB
    disposition = f'form-data; name="{long_name}"; filename="a"'
    body = f"--b\r\nContent-Disposition: {disposition}\r\n\r\nx\r\n--b--\r\n"
    response = capped.http.post("/v1.0alpha/dataset/upload", content=body, headers=headers)
    assert response.status_code == 400 and len(response.content) < 200, response.text
    assert capped.files() == before


def test_large_multipart_upload_keeps_the_server_rss_flat(capped):
    images, labels = mnist_files(1000)
    assert multipart(
        capped.api, "warm_up", "mnist", input_file=images, label_file=labels
    ).is_success
    images, labels = mnist_files(320_000)  # 251 MB of pixels
    started = time.perf_counter()
    with RssPeak(capped.proc.pid) as rss:
        response = multipart(capped.api, "large", "mnist", input_file=images, label_file=labels)
    baseline, peak = rss.idle, rss.peak
    print(f"\n{len(images) / 1e6:.0f} MB multipart upload in {time.perf_counter() - started:.1f} s:"
          f" server RSS {baseline / 1e6:.0f} MB before, peak {peak / 1e6:.0f} MB")  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["number_of_rows"] == 320_000
    assert peak - baseline < 200_000_000
    assert not any(name.startswith("tempfiles/") for name in capped.files())


def stop_gracefully(server: Server) -> float:
    """SIGTERM; the seconds until the process ended, after a complete lifespan shutdown."""
    started = time.perf_counter()
    server.proc.terminate()
    server.proc.wait(timeout=30)
    seconds = time.perf_counter() - started
    # uvicorn raises the signal again once it has shut down, so the status is -SIGTERM.
    assert server.proc.returncode == -signal.SIGTERM
    assert "Application shutdown complete" in (server.data_dir / "server.log").read_text()
    return seconds


def test_sigterm_during_a_slow_upload_stops_the_server(tmp_path):
    server = Server(tmp_path)
    sent = threading.Event()

    def trickle() -> Iterator[bytes]:
        boundary = b"--slow\r\n"
        yield boundary + b'Content-Disposition: form-data; name="name"\r\n\r\nslow\r\n'
        yield boundary + b'Content-Disposition: form-data; name="type"\r\n\r\ncsv\r\n'
        yield boundary + b'Content-Disposition: form-data; name="input_file"; filename="a"\r\n\r\n'
        yield b"a\n"
        sent.set()
        for _ in range(600):  # a minute, if nobody stops it
            time.sleep(0.1)
            yield b"1\n"

    def upload() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server goes away mid-request
            server.http.post(
                "/v1.0alpha/dataset/upload",
                content=trickle(),
                headers={
                    **server.api.headers(),
                    "Content-Type": "multipart/form-data; boundary=slow",
                },
            )

    client = threading.Thread(target=upload)
    client.start()
    try:
        assert sent.wait(30)
        time.sleep(1)
        assert any(server.files()), "the upload's file part was not written"
        seconds = stop_gracefully(server)
        print(f"\nstopped {seconds:.2f} s after SIGTERM during a slow upload")
        assert seconds < 10
        assert not server.files()
    finally:
        client.join(timeout=70)
        server.close()


def test_sigterm_during_a_long_conversion_stops_the_server(tmp_path):
    server = Server(tmp_path)
    content = b"a,b,c,d\n" + b"0.5,1,2,3\n" * 4_000_000  # 40 MB: about 10 s of parsing
    threading.Thread(
        target=multipart, args=(server.api, "long", "csv"), kwargs={"input_file": content}
    ).start()
    try:
        deadline = time.monotonic() + 30
        while sum(p.stat().st_size for p in (tmp_path / "tempfiles").iterdir()) < len(content):
            assert time.monotonic() < deadline, "the upload did not arrive"
            time.sleep(0.05)
        time.sleep(1)  # well into the conversion (about 10 s)
        seconds = stop_gracefully(server)
        print(f"\nstopped {seconds:.2f} s after SIGTERM during a conversion")
        assert seconds < 10
        assert not server.files()
    finally:
        server.close()

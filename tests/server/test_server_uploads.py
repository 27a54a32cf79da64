"""The tempfile registry: exact byte tracking, expiry of abandoned uploads, start-up purge.

The registry tests run in-process on a SQLite file with a fake clock; the last tests start
a real server with a tempfile timeout of a second and a half.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from dataset_helpers import expect_close, send_chunk, start_upload, ws_connect, ws_init
from server_helpers import (
    ADMIN_ID,
    ADMIN_PASSPHRASE,
    STARTUP_TIMEOUT,
    TOKEN_KEY,
    Api,
    free_port,
    login,
)

from hanami.server.db import Database, Dataset, Tempfile, upgrade
from hanami.server.errors import Conflict, NotFound
from hanami.server.runtime.upload_handles import UploadError, UploadHandle
from hanami.server.runtime.uploads import UploadRegistry
from hanami.server.security.auth import Principal

TIMEOUT = 1.5


# --------------------------------------------------------------------------- byte tracking


def test_received_ranges_are_exact():
    handle = UploadHandle("t", "d", "u", "p", 1000, Path("/nonexistent"), 0.0)
    rng = np.random.default_rng(5)
    chunks = [(start, min(start + 97, 1000)) for start in range(0, 1000, 97)]
    for index in rng.permutation(len(chunks)):
        assert not handle.complete
        handle.mark(*chunks[index])
        handle.mark(*chunks[index])  # a re-sent chunk counts once
    assert (handle.received, handle.complete) == (1000, True)

    gaps = UploadHandle("t", "d", "u", "p", 100, Path("/nonexistent"), 0.0)
    for start, end in [(10, 20), (30, 40), (15, 35), (0, 5), (99, 100), (40, 41), (5, 5)]:
        gaps.mark(start, end)
    assert gaps.received == 5 + 31 + 1
    assert (gaps._starts, gaps._ends) == ([0, 10, 99], [5, 41, 100])


# --------------------------------------------------------------------------- registry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


OWNER = Principal("owner", "Owner", False, "proj", "member", False)
OTHER = Principal("other", "Other", False, "proj", "member", False)


@pytest.fixture
def registry(tmp_path) -> Iterator[tuple[UploadRegistry, Database, Clock]]:
    database = Database(f"sqlite:///{tmp_path / 'hanami.db'}")
    upgrade(database)
    clock = Clock()
    yield UploadRegistry(tmp_path / "tempfiles", database, 60.0, clock=clock), database, clock
    database.dispose()


def _upload(registry: UploadRegistry, database: Database, sizes=(10,), location="") -> list[str]:
    with database.session() as session:
        dataset = Dataset(
            uuid=str(uuid.uuid4()),
            name="upload",
            kind="csv",
            location=location,
            owner_id=OWNER.user_id,
            project_id=OWNER.project_id,
        )
        session.add(dataset)
        rows = [registry.allocate(session, OWNER, dataset.uuid, "input_file", s) for s in sizes]
        session.commit()
        return [dataset.uuid, *(row.uuid for row in rows)]


def test_write_bounds_and_attach_rules(registry):
    uploads, database, _ = registry
    _, tempfile = _upload(uploads, database, (10,))
    with pytest.raises(NotFound):
        uploads.attach(tempfile, OTHER)
    handle = uploads.attach(tempfile, OWNER)
    with pytest.raises(Conflict):
        uploads.attach(tempfile, OWNER)
    with pytest.raises(UploadError, match="ends at byte 11, beyond the declared size of 10"):
        uploads.write(handle, 1, b"0123456789")
    uploads.write(handle, 0, b"0123456789")
    assert handle.complete and handle.path.read_bytes() == b"0123456789"
    with uploads.claim([handle]):
        with pytest.raises(UploadError, match="being finalized"):
            uploads.write(handle, 0, b"x")
        with pytest.raises(Conflict), uploads.claim([handle]):
            pass
    uploads.detach(handle)
    uploads.attach(tempfile, OWNER)


def test_sweep_removes_idle_tempfiles_and_their_unfinished_dataset(registry, tmp_path):
    uploads, database, clock = registry
    idle_dataset, idle = _upload(uploads, database, (10,))
    busy_dataset, busy = _upload(uploads, database, (10,))
    finished_file = tmp_path / "finished"
    finished_file.write_bytes(b"")
    done_dataset, done = _upload(uploads, database, (10,), location=str(finished_file))
    idle_path = uploads.get(idle).path

    clock.now += 50
    uploads.write(uploads.get(busy), 0, b"a")  # activity resets the idle time
    claimed = uploads.get(done)
    with uploads.claim([claimed]):
        clock.now += 20
        assert uploads.sweep() == [idle]
    assert not idle_path.exists() and uploads.get(idle) is None
    with database.session() as session:
        assert session.get(Tempfile, idle) is None
        assert session.get(Dataset, idle_dataset) is None  # never finalized: gone too
        assert session.get(Tempfile, busy) is not None

    clock.now += 61
    assert sorted(uploads.sweep()) == sorted([busy, done])
    with database.session() as session:
        assert session.get(Dataset, busy_dataset) is None
        assert session.get(Dataset, done_dataset) is not None  # its file exists: keep it
        assert session.query(Tempfile).count() == 0


def test_start_purges_what_a_previous_run_left(registry):
    uploads, database, _ = registry
    dataset, tempfile = _upload(uploads, database, (10,))
    orphan = uploads.directory / "00000000-1111-4000-8000-000000000000"
    orphan.write_bytes(b"x")
    keep = uploads.directory / "not-a-tempfile.txt"
    keep.write_bytes(b"x")

    fresh = UploadRegistry(uploads.directory, database, 60.0)  # a restarted server
    fresh.start()
    fresh.stop()
    assert not (uploads.directory / tempfile).exists() and not orphan.exists()
    assert keep.exists()
    with database.session() as session:
        assert session.get(Tempfile, tempfile) is None
        assert session.get(Dataset, dataset) is None


# --------------------------------------------------------------------------- real server


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A SQLite server whose tempfiles expire after TIMEOUT seconds of inactivity."""
    data_dir = tmp_path_factory.mktemp("quick-expiry")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANAMI_")}
    env.update(
        HANAMI_ADMIN_USER_ID=ADMIN_ID,
        HANAMI_ADMIN_PASSPHRASE=ADMIN_PASSPHRASE,
        HANAMI_TOKEN_KEY=TOKEN_KEY,
        HANAMI_ACCESS_LOG="false",
        HANAMI_TEMPFILE_TIMEOUT_SECONDS=str(TIMEOUT),
    )
    command = [sys.executable, "-m", "hanami.server", "--data-dir", str(data_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log_file = data_dir / "server.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert proc.poll() is None, log_file.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.1)
        yield url, data_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_abandoned_upload_is_removed_after_the_timeout(quick_server):
    url, data_dir = quick_server
    with httpx.Client(base_url=url, timeout=30) as http:
        api = Api(http, login(http, ADMIN_ID, ADMIN_PASSPHRASE))
        abandoned = start_upload(api, "csv", "abandoned_csv", 10)
        active = start_upload(api, "csv", "active_csv", 10)
        tempfiles = data_dir / "tempfiles"
        assert (tempfiles / abandoned["uuid_input_file"]).is_file()

        with ws_connect(url) as ws:
            assert ws_init(ws, api.token, "file_upload", abandoned["uuid_input_file"])["success"]
            assert send_chunk(ws, 0, b"a,b\n").success
            with ws_connect(url) as keeper:
                assert ws_init(keeper, api.token, "file_upload", active["uuid_input_file"])[
                    "success"
                ]
                for position in range(5):  # keeps writing for 2.5 s > TIMEOUT
                    assert send_chunk(keeper, position, b"x").success
                    time.sleep(0.5)
            # The idle socket is closed by the server as well.
            code, reason = expect_close(ws)
        assert code in (4404, 4408), reason

        deadline = time.monotonic() + 10
        while api.get("dataset/progress", uuid=abandoned["uuid"]).status_code != 404:
            assert time.monotonic() < deadline, "the abandoned upload was not removed"
            time.sleep(0.2)
        assert not (tempfiles / abandoned["uuid_input_file"]).exists()
        assert api.get("dataset", uuid=abandoned["uuid"]).status_code == 404
        body = {"uuid": abandoned["uuid"], "uuid_input_file": abandoned["uuid_input_file"]}
        assert api.put("dataset/upload/csv", body).status_code == 404
        with ws_connect(url) as ws:
            assert ws_init(ws, api.token, "file_upload", abandoned["uuid_input_file"]) == {
                "success": False,
                "error": f"Tempfile with UUID '{abandoned['uuid_input_file']}' not found",
            }
            assert expect_close(ws)[0] == 4404

        # The upload that kept writing survived the first expiry.
        progress = api.get("dataset/progress", uuid=active["uuid"])
        assert progress.status_code == 200 and progress.json()["complete"] is False

"""Crash safety: the service is killed with SIGKILL in the middle of work, then restarted.

Each scenario runs on SQLite and on PostgreSQL, with a server process of its own:

- :func:`test_kill_during_task_and_uploads`: one ``kill -9`` hits, at the same moment, a
  running train task (a request and a checkpoint save queued behind it), a websocket upload
  in the middle of its chunks and a multipart upload in the middle of its body. Files that a
  crash in the (too short to hit) window between publishing a file and committing its row
  would leave behind are planted while the server is down.
- :func:`test_kill_during_checkpoint_save`: ``kill -9`` while ``cluster/save`` writes the
  checkpoint of a large cluster, caught by watching for the checkpoint's temp file (a
  bounded number of tries).

After every restart :func:`assert_consistent` compares the database with the storage
folders: every row points at a complete, readable file, no file sits under a final name
without its row, no temp file or tempfile is left, and what was acknowledged before the
crash (users, datasets, checkpoints, results) is still there; the interrupted train task
runs again and the queued tasks still run; an interrupted checkpoint save is ``failed``
with a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from cluster_helpers import (
    ServerProcess,
    create_cluster,
    get_task,
    request,
    train,
    upload_mnist,
    wait_task,
)
from dataset_helpers import (
    CHUNK,
    WS_TIMEOUT,
    finalize,
    idx_bytes,
    make_mnist,
    multipart,
    new_member,
    send_chunk,
    start_upload,
    upload_mnist_ws,
    ws_connect,
    ws_init,
)
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, MEMBER_PASSPHRASE, Api, login
from sqlalchemy import select, update

from hanami.datasets import open_dataset
from hanami.server.db import Database
from hanami.server.db.models import Checkpoint, Cluster, Dataset, Task, Tempfile

ROWS = 200
WIDE = (200, 400)  # pictures of 80,000 pixels: a cluster whose checkpoint takes a while
WIDE_ROWS = 12
SAVE_TRIES = 4
ENDED = {"finished", "failed", "aborted"}
CKPT_PREFIX = struct.Struct("<8sIIQ32s")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def process(own_database_url, tmp_path) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path, own_database_url, env_extra={"HANAMI_CLUSTER_AUTOSAVE_INTERVAL": "1"}
    )
    try:
        yield server
    finally:
        server.kill()


class Life:
    """One run of the server process, with an admin session."""

    def __init__(self, server: ServerProcess) -> None:
        server.start()
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.api = Api(self.http, login(self.http, ADMIN_ID, ADMIN_PASSPHRASE))

    def crash(self) -> None:
        self.http.close()
        self.server.kill()

    def close(self) -> None:
        self.http.close()


def _database(server: ServerProcess) -> Database:
    return Database(server.target.database_url)


# --------------------------------------------------------------------------- consistency


def _checkpoint_intact(path: Path) -> bool:
    """The checkpoint file is complete: its size and SHA-256 match its own header."""
    data = path.read_bytes()
    if len(data) < CKPT_PREFIX.size:
        return False
    magic, _version, hlen, plen, digest = CKPT_PREFIX.unpack_from(data)
    return (
        magic == b"HNMCKPT\0"
        and len(data) == CKPT_PREFIX.size + hlen + plen
        and hashlib.sha256(data[CKPT_PREFIX.size :]).digest() == digest
    )


def assert_consistent(life: Life) -> None:
    """Database rows and storage folders agree (call while no task runs)."""
    server, api = life.server, life.api
    data_dir = server.data_dir
    database = _database(server)
    try:
        with database.session() as session:
            datasets = session.scalars(select(Dataset)).all()
            checkpoints = session.scalars(select(Checkpoint)).all()
            tempfiles = session.scalars(select(Tempfile)).all()
            clusters = session.scalars(select(Cluster)).all()
            tasks = {t.uuid: t for t in session.scalars(select(Task))}
    finally:
        database.dispose()

    assert not [t for t in tasks.values() if t.state == "active"], "a task is still active"
    # no tempfile survives a restart (upload progress is not persistent)
    assert tempfiles == []
    assert sorted(p.name for p in (data_dir / "tempfiles").iterdir()) == []

    # every dataset row points at a complete file that the API reads
    for dataset in datasets:
        task = tasks.get(dataset.uuid)
        if dataset.kind == "request_result" and task is not None and task.state == "queued":
            assert not Path(dataset.location).exists()
            continue
        if dataset.kind == "request_result":
            assert task is None or task.state == "finished", (dataset.uuid, task and task.state)
        assert Path(dataset.location).is_file(), f"dataset {dataset.uuid} lost its file"
        open_dataset(dataset.location)  # header, size and description check out
        shown = api.get("dataset", uuid=dataset.uuid)
        assert shown.status_code == 200, shown.text
    # every checkpoint row points at a complete checkpoint file
    for checkpoint in checkpoints:
        path = Path(checkpoint.location)
        assert path.is_file(), f"checkpoint {checkpoint.uuid} lost its file"
        assert _checkpoint_intact(path), f"checkpoint {checkpoint.uuid} is damaged"
        shown = api.get("checkpoint", uuid=checkpoint.uuid)
        assert shown.status_code == 200, shown.text
        assert shown.json()["size"] == path.stat().st_size
    for cluster in clusters:
        assert api.get("cluster", uuid=cluster.uuid).status_code == 200

    # no file under a final name without its row; no temp file left
    pinned = {
        Path(t.parameters["location"]).name
        for t in tasks.values()
        if t.state == "queued" and (t.parameters or {}).get("location")
    }
    dataset_files = {Path(d.location).name for d in datasets}
    checkpoint_files = {Path(c.location).name for c in checkpoints}
    cluster_files = {f"{c.uuid}{suffix}" for c in clusters for suffix in (".ckpt", ".journal")}
    for folder, known in (
        ("datasets", dataset_files),
        ("checkpoints", checkpoint_files | pinned),
        ("clusters", cluster_files),
    ):
        names = sorted(p.name for p in (data_dir / folder).iterdir())
        assert [n for n in names if n.endswith(".tmp")] == [], f"temp files left in {folder}"
        assert set(names) <= known, f"orphan files in {folder}: {set(names) - known}"
    listed = {row[1] for row in api.get("dataset/all").json()["body"]}
    assert listed == {d.uuid for d in datasets}
    listed = {row[1] for row in api.get("checkpoint/all").json()["body"]}
    assert listed == {c.uuid for c in checkpoints}


def wait_idle(api: Api, cluster: str, timeout: float = 300.0) -> None:
    """Wait until no task of the cluster is queued or active."""
    deadline = time.monotonic() + timeout
    while True:
        rows = api.get("task/all", cluster_uuid=cluster).json()["body"]
        if all(row[1] in ENDED for row in rows):
            return
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)


# --------------------------------------------------------------------------- half uploads


def _multipart_body(boundary: str, parts: dict[str, tuple[str | None, bytes]]) -> bytes:
    body = b""
    for name, (filename, value) in parts.items():
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def start_half_multipart(server: ServerProcess, token: str, name: str) -> socket.socket:
    """Send the headers and half the body of a 4 MB multipart upload; leave it hanging."""
    mnist = make_mnist(5000, seed=3)
    boundary = "crash-test-boundary"
    body = _multipart_body(
        boundary,
        {
            "name": (None, name.encode()),
            "type": (None, b"mnist"),
            "input_file": ("images.idx", mnist.image_file),
            "label_file": ("labels.idx", mnist.label_file),
        },
    )
    head = (
        f"POST /v1.0alpha/dataset/upload HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"X-Auth-Token: {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WS_TIMEOUT)
    sock.sendall(head + body[: len(body) // 2])
    return sock


# --------------------------------------------------------------------------- scenario (a), (b)


def test_kill_during_task_and_uploads(process):
    # ---- first life: acknowledged work, then a crash in the middle of several things
    life = Life(process)
    api = life.api
    member = new_member(api, life.http)
    digits = upload_mnist(api, process.target, "crash_digits", ROWS)  # multipart
    uploaded = upload_mnist_ws(member.api, process.url, "crash_ws", make_mnist(300, seed=1))
    cluster = create_cluster(api, "crash_cluster")
    trained = wait_task(api, cluster, train(api, cluster, digits)["uuid"])
    assert trained["state"] == "finished", trained
    first_result = request(api, cluster, digits, "first_request")["uuid"]
    done = wait_task(api, cluster, first_result)
    assert done["state"] == "finished", done
    saved = api.post("cluster/save", {"name": "crash_ckpt", "cluster_uuid": cluster})
    assert saved.status_code == 200 and saved.json()["state"] == "finished", saved.text
    checkpoint = saved.json()["uuid"]
    checkpoint_bytes = (process.data_dir / "checkpoints" / f"{checkpoint}.ckpt").read_bytes()
    result_before = np.asarray(open_dataset(process.data_dir / "datasets" / first_result)
                               .column("output"))  # fmt: skip

    long = train(api, cluster, digits, "long_train", epochs=100_000, shuffle=True)["uuid"]
    queued_request = request(api, cluster, digits, "queued_request")["uuid"]
    queued_save = api.post("cluster/save", {"name": "queued_ckpt", "cluster_uuid": cluster})
    assert queued_save.json()["state"] == "queued", queued_save.text
    queued_save_uuid = queued_save.json()["uuid"]
    wait_task(api, cluster, long, {"active"}, min_cycle=ROWS)

    # a websocket upload that stops after two of its chunks (both acknowledged)
    half = make_mnist(600, seed=2)
    created = start_upload(member.api, "mnist", "crash_half", len(half.image_file),
                           len(half.label_file))  # fmt: skip
    ws_cm = ws_connect(process.url)
    ws = ws_cm.__enter__()
    assert ws_init(ws, member.api.token or "", "file_upload", created["uuid_input_file"])["success"]
    for position in (0, CHUNK):
        assert send_chunk(ws, position, half.image_file[position : position + CHUNK]).success
    # a multipart upload that stops half-way through its body
    hanging = start_half_multipart(process, api.token or "", "crash_multipart")
    time.sleep(0.2)
    life.crash()
    hanging.close()
    with contextlib.suppress(Exception):
        ws_cm.__exit__(None, None, None)

    # files a crash between "file published" and "row committed" would leave behind
    orphans = [
        process.data_dir / "datasets" / str(uuid.uuid4()),
        process.data_dir / "datasets" / f".{uuid.uuid4()}.a1b2c3.tmp",
        process.data_dir / "checkpoints" / f"{uuid.uuid4()}.ckpt",
        process.data_dir / "checkpoints" / ".upload-x1y2z3.tmp",
        process.data_dir / "checkpoints" / f".{uuid.uuid4()}.ckpt.q9w8e7.tmp",
    ]
    shutil.copyfile(process.data_dir / "datasets" / digits, orphans[0])
    orphans[1].write_bytes(b"half a dataset")
    orphans[2].write_bytes(checkpoint_bytes)
    orphans[3].write_bytes(b"half an upload")
    orphans[4].write_bytes(checkpoint_bytes[: len(checkpoint_bytes) // 2])
    # a save whose checkpoint row was committed just before the crash: the task row still
    # says active although the checkpoint is complete
    database = _database(process)
    try:
        with database.session() as session:
            session.execute(update(Task).where(Task.uuid == checkpoint).values(
                state="active", finished_at=None, current_cycle=0))  # fmt: skip
            session.commit()
    finally:
        database.dispose()

    # ---- second life: the interrupted task runs again (cancelled here), the queue goes on
    life = Life(process)
    api = life.api
    resumed = wait_task(api, cluster, long, {"active"})
    assert resumed["error"] is None, resumed
    assert api.delete("task", uuid=long, cluster_uuid=cluster).status_code == 200
    assert wait_task(api, cluster, long)["state"] == "aborted"
    assert get_task(api, cluster, checkpoint)["state"] == "finished"  # the checkpoint exists
    for queued in (queued_request, queued_save_uuid):
        done = wait_task(api, cluster, queued)
        assert done["state"] == "finished", done
    wait_idle(api, cluster)
    states = [row[1] for row in api.get("task/all", cluster_uuid=cluster).json()["body"]]
    assert states == ["finished"] * 3 + ["aborted", "finished", "finished"], states
    assert_consistent(life)
    for orphan in orphans:
        assert not orphan.exists(), f"{orphan.name} survived the restart"

    # acknowledged users, datasets, checkpoints and results are all there and readable
    member_api = Api(life.http, login(life.http, member.id, MEMBER_PASSPHRASE))
    assert member_api.get("dataset", uuid=uploaded).json()["number_of_rows"] == 300
    rows = member_api.get("dataset/content", uuid=uploaded, column_name="label",
                          row_offset=299, number_of_rows=1)  # fmt: skip
    assert rows.status_code == 200 and rows.json()["data"][0][9] == 1.0, rows.text
    assert api.get("dataset", uuid=digits).json()["number_of_rows"] == ROWS
    np.testing.assert_array_equal(
        np.asarray(open_dataset(process.data_dir / "datasets" / first_result).column("output")),
        result_before,
    )
    for ckpt in (checkpoint, queued_save_uuid):
        download = api.get("checkpoint/download", uuid=ckpt)
        assert download.status_code == 200 and download.content[:8] == b"HNMCKPT\0"
    assert (process.data_dir / "checkpoints" / f"{checkpoint}.ckpt").read_bytes() == (
        checkpoint_bytes
    )
    # the half uploads left nothing: no dataset, no tempfile, the old tempfile is unknown
    assert member_api.get("dataset", uuid=created["uuid"]).status_code == 404
    assert member_api.get("dataset/progress", uuid=created["uuid"]).status_code == 404
    with ws_connect(process.url) as ws:
        reply = ws_init(ws, member_api.token or "", "file_upload", created["uuid_input_file"])
        assert reply["success"] is False, reply
    names = [row[5] for row in api.get("dataset/all").json()["body"]]
    assert "crash_multipart" not in names and "crash_half" not in names
    # the same uploads go through now, and the restored cluster still learns and saves
    assert finalize(member_api, "mnist", created).status_code in (404, 409)
    again = multipart(api, "crash_multipart", "mnist", input_file=half.image_file,
                      label_file=half.label_file)  # fmt: skip
    assert again.status_code == 200, again.text
    restore = api.post("cluster/load", {"cluster_uuid": cluster, "checkpoint_uuid": checkpoint})
    assert restore.status_code == 200 and restore.json()["state"] == "finished", restore.text
    trained = wait_task(api, cluster, train(api, cluster, digits)["uuid"])
    assert trained["state"] == "finished", trained
    assert_consistent(life)
    life.close()


# --------------------------------------------------------------------------- scenario (c)


def _wide_dataset(api: Api, name: str) -> str:
    rng = np.random.default_rng(5)
    pictures = rng.integers(0, 256, (WIDE_ROWS, *WIDE), dtype=np.uint8)
    labels = np.arange(WIDE_ROWS) % 10
    response = multipart(api, name, "mnist", input_file=idx_bytes(pictures),
                         label_file=idx_bytes(labels))  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["uuid"]


def _save_tasks(server: ServerProcess) -> list[Task]:
    database = _database(server)
    try:
        with database.session() as session:
            return list(session.scalars(
                select(Task).where(Task.task_type == "checkpoint_save").order_by(Task.created_at)
            ))  # fmt: skip
    finally:
        database.dispose()


def _kill_mid_save(life: Life, cluster: str, name: str) -> bool:
    """Start ``cluster/save`` and kill the server once the checkpoint's temp file appears;
    True if the kill came while the save was writing (no answer had arrived)."""
    folder = life.server.data_dir / "checkpoints"
    answered = threading.Event()

    def save() -> None:  # a client of its own: the kill breaks its connection
        client = httpx.Client(base_url=life.server.url, timeout=120)
        with contextlib.suppress(Exception), client as http:
            Api(http, life.api.token).post("cluster/save", {"name": name, "cluster_uuid": cluster})
            answered.set()

    thread = threading.Thread(target=save, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    caught = False
    while time.monotonic() < deadline and not answered.is_set():
        with os.scandir(folder) as entries:
            if any(e.name.startswith(".") and e.name.endswith(".tmp") for e in entries):
                caught = True
                break
        time.sleep(0.001)
    life.crash()
    thread.join(30)
    return caught and not answered.is_set()


def test_kill_during_checkpoint_save(process):
    life = Life(process)
    api = life.api
    wide = _wide_dataset(api, "wide_pictures")
    cluster = create_cluster(api, "wide_cluster")
    trained = wait_task(api, cluster, train(api, cluster, wide)["uuid"])
    assert trained["state"] == "finished", trained
    saved = api.post("cluster/save", {"name": "wide_ckpt", "cluster_uuid": cluster})
    assert saved.status_code == 200 and saved.json()["state"] == "finished", saved.text
    checkpoint = saved.json()["uuid"]
    size = (process.data_dir / "checkpoints" / f"{checkpoint}.ckpt").stat().st_size
    assert size > 20_000_000  # large enough to take a while to write

    caught = False
    for attempt in range(SAVE_TRIES):
        caught = _kill_mid_save(life, cluster, f"interrupted_{attempt}")
        life = Life(process)
        api = life.api
        interrupted = _save_tasks(process)[-1]
        shown = get_task(api, cluster, interrupted.uuid)
        if shown["state"] == "failed":  # no checkpoint, and the task says why
            assert shown["error"].startswith("Interrupted: the server stopped unexpectedly")
            assert api.get("checkpoint", uuid=interrupted.uuid).status_code == 404
        else:  # the save was complete (row committed) before the kill landed: all there
            assert shown["state"] == "finished", shown
            assert api.get("checkpoint", uuid=interrupted.uuid).status_code == 200
            caught = False
        assert_consistent(life)
        if caught:
            break
    assert caught, f"no kill landed inside the checkpoint write in {SAVE_TRIES} tries"

    # the acknowledged checkpoint is intact and restores; saving works again
    assert api.get("checkpoint", uuid=checkpoint).json()["size"] == size
    restore = api.post("cluster/load", {"cluster_uuid": cluster, "checkpoint_uuid": checkpoint})
    assert restore.status_code == 200 and restore.json()["state"] == "finished", restore.text
    again = api.post("cluster/save", {"name": "after_crash", "cluster_uuid": cluster})
    assert again.status_code == 200 and again.json()["state"] == "finished", again.text
    assert_consistent(life)
    life.close()

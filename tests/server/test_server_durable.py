"""Durable direct I/O: ``kill -9`` loses no acknowledged step, and saves never miss one.

Each scenario runs on SQLite and on PostgreSQL with a server process of its own. Steps go
through the SDK's direct sessions (ping-pong and batched); a local cluster of the same
seeded template takes the same steps, so the restarted server must answer exactly what
the local cluster answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from cluster_helpers import (
    TEMPLATE,
    ServerProcess,
    create_cluster,
    synthetic_digits,
    train,
    upload_mnist,
    wait_task,
)
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, Api, login

from hanami.core import Cluster
from hanami.sdk import HanamiClient
from hanami.server.db import Database
from hanami.server.db.models import Checkpoint

PING_PONG = 200
BATCHES = (40, 60)


@pytest.fixture
def process(own_database_url, tmp_path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path, own_database_url)  # autosaves only every 5 minutes
    try:
        yield server
    finally:
        server.kill()


class Life:
    """One run of the server process, with an admin session over HTTP and the SDK."""

    def __init__(self, server: ServerProcess) -> None:
        server.start()
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.api = Api(self.http, login(self.http, ADMIN_ID, ADMIN_PASSPHRASE))
        self.sdk = HanamiClient(server.url, token=self.api.token, timeout=60)

    def close(self) -> None:
        self.sdk.close()
        self.http.close()

    def set_mode(self, cluster: str, mode: str) -> int:
        body = {"uuid": cluster, "new_state": mode}
        return self.api.put("cluster/set_mode", body).status_code

    def save(self, cluster: str, name: str) -> dict:
        response = self.api.post("cluster/save", {"cluster_uuid": cluster, "name": name})
        assert response.status_code == 200, response.text
        return response.json()

    def train_direct(self, cluster: str, x: np.ndarray, y: np.ndarray) -> None:
        """Ping-pong steps, then batched frames: every one of them acknowledged."""

        async def run() -> None:
            ping_pong = self.sdk.direct(cluster, switch_mode=False, batched=False)
            async with ping_pong as session:
                for row in range(PING_PONG):
                    await session.train(x[row], y[row])
            async with self.sdk.direct(cluster, switch_mode=False, batched=True) as session:
                start = PING_PONG
                for rows in BATCHES:
                    await session.train_batch(x[start : start + rows], y[start : start + rows])
                    start += rows

        asyncio.run(run())

    def request_direct(self, cluster: str, x: np.ndarray) -> np.ndarray:
        async def run() -> np.ndarray:
            async with self.sdk.direct(cluster, switch_mode=False) as session:
                return await session.request_batch(x)

        return np.asarray(asyncio.run(run()))

    def crash(self) -> None:
        self.close()
        self.server.kill()


def _data() -> tuple[np.ndarray, np.ndarray]:
    pictures, labels = synthetic_digits(PING_PONG + sum(BATCHES), seed=5)
    x = pictures.reshape(len(pictures), -1).astype(np.float32)
    return x, np.eye(10, dtype=np.float32)[labels]


def _checkpoint_samples(server: ServerProcess, checkpoint: str) -> int:
    database = Database(server.target.database_url)
    try:
        with database.session() as session:
            location = session.get(Checkpoint, checkpoint).location
    finally:
        database.dispose()
    return Cluster.load(Path(location)).metrics()["samples_trained"]


def test_acknowledged_steps_survive_kill_9_and_a_queued_save_holds_them(process):
    x, y = _data()
    steps = len(x)
    reference = Cluster(TEMPLATE)
    reference.train({"picture_hex": x[:PING_PONG]}, {"label_hex": y[:PING_PONG]})
    reference.train({"picture_hex": x[PING_PONG:]}, {"label_hex": y[PING_PONG:]})

    life = Life(process)
    cluster = create_cluster(life.api, "durable")
    assert life.set_mode(cluster, "DIRECT") == 200
    life.train_direct(cluster, x, y)
    queued = life.save(cluster, "after_steps")  # tasks wait while the cluster is DIRECT
    assert queued["state"] == "queued"
    life.crash()

    life = Life(process)
    shown = life.api.get("cluster", uuid=cluster).json()
    assert shown["mode"] == "DIRECT" and shown["metrics"]["samples_trained"] == steps
    answers = life.request_direct(cluster, x[:50])
    np.testing.assert_array_equal(answers, reference.request({"picture_hex": x[:50]}))
    assert life.set_mode(cluster, "TASK") == 200
    assert wait_task(life.api, cluster, queued["uuid"])["state"] == "finished"
    assert _checkpoint_samples(process, queued["uuid"]) == steps
    life.close()


def test_a_queued_save_fails_when_the_acknowledged_steps_are_lost(process):
    x, y = _data()
    life = Life(process)
    cluster = create_cluster(life.api, "lost")
    assert life.set_mode(cluster, "DIRECT") == 200
    life.train_direct(cluster, x, y)
    queued = life.save(cluster, "lost_steps")
    life.crash()
    autosave = process.data_dir / "clusters" / f"{cluster}.ckpt"
    autosave.write_bytes(autosave.read_bytes()[:100])  # the autosave the journal builds on

    life = Life(process)
    assert life.api.get("cluster", uuid=cluster).json()["metrics"]["samples_trained"] == 0
    task = wait_task(life.api, cluster, queued["uuid"])
    assert task["state"] == "failed"
    assert "lost direct-I/O steps acknowledged before the server stopped" in task["error"]
    life.close()


def test_a_save_right_after_switching_to_task_runs_inline(process):
    life = Life(process)
    busy = [create_cluster(life.api, f"busy_{n}") for n in range(2)]
    dataset = upload_mnist(life.api, process.target, "busy_rows", 2000)
    tasks = [train(life.api, c, dataset, "keep_busy", epochs=50)["uuid"] for c in busy]
    cluster = create_cluster(life.api, "switching")
    x, y = _data()

    async def steps(rows: slice) -> None:
        async with life.sdk.direct(cluster, switch_mode=False, batched=False) as session:
            for row in range(rows.start, rows.stop):
                await session.train(x[row], y[row])

    for attempt in range(8):
        assert life.set_mode(cluster, "DIRECT") == 200
        asyncio.run(steps(slice(attempt * 10, attempt * 10 + 10)))
        assert life.set_mode(cluster, "TASK") == 200
        saved = life.save(cluster, f"switch_{attempt}")
        assert saved["state"] == "finished"
        assert _checkpoint_samples(process, saved["uuid"]) == attempt * 10 + 10
    for c, task in zip(busy, tasks, strict=True):
        life.api.delete("task", uuid=task, cluster_uuid=c)
    life.close()

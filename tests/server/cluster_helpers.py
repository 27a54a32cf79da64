"""Helpers for the cluster, task, checkpoint and restart tests.

Datasets are made with a tiny synthetic MNIST-like set (8x8 pictures, 4 classes) written
as IDX files and uploaded through ``POST dataset/upload`` (multipart). Where that endpoint
does not exist (404/405), :func:`upload_mnist` falls back to converting the files with
:func:`hanami.datasets.convert_mnist` straight into the server's dataset folder and
inserting the ``datasets`` row through SQLAlchemy (``server_database_url``).
"""

from __future__ import annotations

import base64
import signal
import struct
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from server_helpers import ADMIN_ID, ADMIN_NAME, ADMIN_PASSPHRASE, TOKEN_KEY, Api, free_port
from server_process import server_env, start_server

from hanami.core.templates import mnist_template
from hanami.datasets import convert_mnist
from hanami.server.db import Database, Dataset

TEMPLATE = mnist_template(seed=11).to_text()
"""The OpenHanami MNIST test template, seeded so runs repeat."""

SIDE = 8
CLASSES = 4
ENDED = frozenset({"finished", "aborted", "failed"})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def template_b64(template: str = TEMPLATE) -> str:
    return b64(template)


# --------------------------------------------------------------------------- data


def synthetic_digits(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` 8x8 uint8 pictures whose bright quadrant is the class (0-3), with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, rows).astype(np.uint8)
    pictures = rng.integers(0, 40, (rows, SIDE, SIDE)).astype(np.uint8)
    half = SIDE // 2
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        pictures[i, r * half : (r + 1) * half, c * half : (c + 1) * half] += 200
    return pictures, labels


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (uint8) holding ``array``."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def server_database_url(data_dir: Path, postgres_url: str | None) -> str:
    return postgres_url or f"sqlite:///{data_dir / 'hanami.db'}"


@dataclass
class Target:
    """Where a server keeps its data: enough to register a dataset without the API."""

    data_dir: Path
    database_url: str


def upload_mnist(
    api: Api,
    target: Target,
    name: str,
    rows: int,
    *,
    seed: int = 0,
    owner: tuple[str, str] = (ADMIN_ID, "admin"),
) -> str:
    """Upload a synthetic MNIST-like dataset (groups ``picture``: 64, ``label``: 10)."""
    pictures, labels = synthetic_digits(rows, seed)
    images, label_file = idx_bytes(pictures), idx_bytes(labels)
    response = api.http.post(
        "/v1.0alpha/dataset/upload",
        data={"name": name, "type": "mnist"},
        files={"input_file": ("images.idx", images), "label_file": ("labels.idx", label_file)},
        headers=api.headers(),
    )
    if response.status_code == 200:
        return response.json()["uuid"]
    assert response.status_code in (404, 405), response.text
    return register_dataset(target, name, images, label_file, owner)


def register_dataset(
    target: Target, name: str, images: bytes, labels: bytes, owner: tuple[str, str]
) -> str:
    """Fallback: write the dataset file into the server's folder and insert its row."""
    dataset_uuid = str(uuid.uuid4())
    location = target.data_dir / "datasets" / dataset_uuid
    location.parent.mkdir(parents=True, exist_ok=True)
    convert_mnist(images, labels, location, name=name)
    database = Database(target.database_url)
    try:
        with database.session() as session:
            session.add(
                Dataset(
                    uuid=dataset_uuid,
                    name=name,
                    owner_id=owner[0],
                    project_id=owner[1],
                    visibility="private",
                    kind="mnist",
                    location=str(location),
                )
            )
            session.commit()
    finally:
        database.dispose()
    return dataset_uuid


# --------------------------------------------------------------------------- API shortcuts


def create_cluster(api: Api, name: str, template: str = TEMPLATE) -> str:
    response = api.post("cluster", {"name": name, "template": template_b64(template)})
    assert response.status_code == 200, response.text
    return response.json()["uuid"]


def binding(hexagon: str, dataset: str, column: str) -> dict[str, str]:
    return {"hexagon_name": hexagon, "dataset_uuid": dataset, "dataset_column": column}


def train(api: Api, cluster: str, dataset: str, name: str = "train_task", **extra: Any) -> dict:
    response = api.post(
        "task/train",
        {
            "name": name,
            "cluster_uuid": cluster,
            "inputs": [binding("picture_hex", dataset, "picture")],
            "outputs": [binding("label_hex", dataset, "label")],
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def request(api: Api, cluster: str, dataset: str, name: str = "request_task", **extra: Any) -> dict:
    response = api.post(
        "task/request",
        {
            "name": name,
            "cluster_uuid": cluster,
            "inputs": [binding("picture_hex", dataset, "picture")],
            "results": [{"hexagon_name": "label_hex", "dataset_column": "output"}],
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def get_task(api: Api, cluster: str, task: str) -> dict:
    response = api.get("task", uuid=task, cluster_uuid=cluster)
    assert response.status_code == 200, response.text
    return response.json()


def wait_task(
    api: Api,
    cluster: str,
    task: str,
    states: Iterable[str] = ENDED,
    timeout: float = 300.0,
    *,
    min_cycle: int = 0,
) -> dict:
    """Poll GET /task until its state is one of ``states`` (and ``min_cycle`` is reached).

    The timeout is generous: a server whose engine kernels changed recompiles them (Numba)
    on its first task, which takes a while on a busy machine.
    """
    wanted = set(states)
    deadline = time.monotonic() + timeout
    while True:
        body = get_task(api, cluster, task)
        if body["state"] in wanted and body["current_cycle"] >= min_cycle:
            return body
        assert time.monotonic() < deadline, f"task still {body} after {timeout}s"
        time.sleep(0.05)


def accuracy(result: np.ndarray, rows: int, seed: int = 0) -> float:
    _, labels = synthetic_digits(rows, seed)
    return float((result.argmax(axis=1)[: len(labels)] == labels[: len(result)]).mean())


# --------------------------------------------------------------------------- own servers


@dataclass
class ServerProcess:
    """A service process of its own (for restarts); the session ``server`` stays untouched."""

    data_dir: Path
    database_url: str | None = None
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def target(self) -> Target:
        return Target(self.data_dir, server_database_url(self.data_dir, self.database_url))

    def start(self, timeout: float = 60.0) -> None:
        env = server_env(
            admin_id=ADMIN_ID,
            admin_name=ADMIN_NAME,
            admin_passphrase=ADMIN_PASSPHRASE,
            token_key=TOKEN_KEY,
            database_url=self.database_url,
            # one name over restarts (on new ports): the restarted server takes its clusters
            # back at once, as a replica restarted under its name does (docs/deploy.md)
            extra={"HANAMI_REPLICA_ID": f"test-{id(self)}", **self.env_extra},
        )
        for attempt in range(3):  # a free port may be taken by another process before we bind
            self.port = free_port()
            try:
                self.proc = start_server(
                    self.data_dir, self.port, env, append_log=True, timeout=timeout
                )
                return
            except pytest.fail.Exception as exc:
                if "address already in use" not in str(exc) or attempt == 2:
                    raise

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the graceful path (tasks suspended, clusters autosaved)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

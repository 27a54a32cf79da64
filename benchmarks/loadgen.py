"""Workload pieces shared by chaos.py and soak.py: a server of their own, clients, actors.

The server is the real ``python -m hanami.server`` started by the tests' own helpers
(``tests/server``: :class:`cluster_helpers.ServerProcess`); the clients are httpx and the
SDK. Actors run in threads until their ``stop`` event is set or the server goes away; the
direct-I/O ones count in a :class:`Tally` what they sent and what the server acknowledged.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))

from cluster_helpers import (
    ServerProcess,
    create_cluster,
    request,
    synthetic_digits,
    train,
    upload_mnist,
    wait_task,
)
from dataset_helpers import ws_connect, ws_init
from postgres import PostgresUnavailable, new_database, private_postgres
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, Api, login
from server_process import RssPeak

from hanami.sdk import HanamiClient

__all__ = [
    "Actor",
    "Client",
    "PostgresUnavailable",
    "RssPeak",
    "ServerProcess",
    "Tally",
    "batched_steps",
    "create_cluster",
    "digits",
    "new_database",
    "ping_pong_steps",
    "private_postgres",
    "request",
    "train",
    "upload_mnist",
    "wait_task",
    "ws_connect",
    "ws_init",
]


def digits(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` synthetic 8x8 digits as float rows of 64 and one-hot labels of 10."""
    pictures, labels = synthetic_digits(rows, seed)
    return pictures.reshape(rows, -1).astype(np.float32), np.eye(10, dtype=np.float32)[labels]


@dataclass
class Client:
    """An admin's HTTP session and SDK client on a running server."""

    server: ServerProcess
    http: httpx.Client = field(init=False)
    api: Api = field(init=False)
    sdk: HanamiClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.server.url, timeout=60)
        self.api = Api(self.http, login(self.http, ADMIN_ID, ADMIN_PASSPHRASE))
        self.sdk = HanamiClient(self.server.url, token=self.api.token, timeout=60)

    def close(self) -> None:
        self.sdk.close()
        self.http.close()

    def set_mode(self, cluster: str, mode: str) -> int:
        body = {"uuid": cluster, "new_state": mode}
        return self.api.put("cluster/set_mode", body).status_code

    def samples(self, cluster: str) -> int:
        response = self.api.get("cluster", uuid=cluster)
        response.raise_for_status()
        return int(response.json()["metrics"]["samples_trained"])


@dataclass
class Tally:
    """Counts of one direct-I/O actor: samples sent, and answered (acknowledged)."""

    sent: int = 0
    acked: int = 0


async def ping_pong_steps(
    client: Client,
    cluster: str,
    x: np.ndarray,
    y: np.ndarray,
    tally: Tally,
    *,
    stop: threading.Event | None = None,
    steps: int | None = None,
) -> None:
    """Compatible-mode train steps, one row each, until ``stop`` or ``steps`` steps."""
    async with client.sdk.direct(cluster, switch_mode=False, batched=False) as session:
        row = 0
        while not (stop is not None and stop.is_set()) and (steps is None or row < steps):
            tally.sent += 1
            await session.train(x[row % len(x)], y[row % len(y)])
            tally.acked += 1
            row += 1


async def batched_steps(
    client: Client,
    cluster: str,
    x: np.ndarray,
    y: np.ndarray,
    tally: Tally,
    *,
    stop: threading.Event,
    rows: int = 32,
) -> None:
    """Batched train frames of ``rows`` samples until ``stop``."""
    async with client.sdk.direct(cluster, switch_mode=False, batched=True) as session:
        start = 0
        while not stop.is_set():
            index = np.arange(start, start + rows) % len(x)
            tally.sent += rows
            await session.train_batch(x[index], y[index])
            tally.acked += rows
            start += rows


class Actor(threading.Thread):
    """Runs ``work()`` in a thread; an error ends it and is kept (a killed server ends every
    actor with one, which the caller then ignores)."""

    def __init__(self, name: str, work: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            result = self.work()
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        except BaseException as exc:
            self.error = exc

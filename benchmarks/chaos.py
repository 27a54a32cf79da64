"""Chaos: ``kill -9`` the server in the middle of a mixed workload, trial after trial, and
check that nothing it acknowledged was lost.

Each backend (SQLite; PostgreSQL in a private cluster) gets a server of its own, autosaving
every second (so kills also land between an autosave and the journal reset). A trial runs
these actors for a random 0.5-2.5 s, then kills the server and starts it again:

- direct I/O on cluster ``direct``: one ping-pong session and one batched session;
- uploads: multipart MNIST datasets of 20 rows;
- tasks: train and request tasks on cluster ``tasks``;
- saves on cluster ``saves``: DIRECT, five ping-pong steps, TASK, ``cluster/save`` (every
  third time the save is asked while still DIRECT, so that it is queued).

The ledger holds what the server acknowledged. After every restart: ``direct`` has learned
at least the acknowledged samples (at most the ones sent); every acknowledged dataset and
task exists; every save answered ``finished`` is a checkpoint holding at least the steps
acknowledged before it was asked; every queued save ends ``failed`` or ``finished`` with
those steps, never ``finished`` without them. ``lost`` counts every violation.

``python benchmarks/chaos.py [--trials 30] [--backends sqlite,postgresql]`` prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import loadgen
from hanami.core import Cluster
from hanami.server.db import Database
from hanami.server.db.models import Checkpoint
from loadgen import (
    Actor,
    Client,
    PostgresUnavailable,
    ServerProcess,
    Tally,
    new_database,
    private_postgres,
)

SAVE_STEPS = 5
WORK_S = (0.5, 2.5)
MOVE_S = 60.0
"""A trial's kill comes ``WORK_S`` after every kind of work was acknowledged once in it (at
most ``MOVE_S`` after the start): on a busy machine a kill after a fixed time could hit a
server that had not acknowledged some kind of work yet, and test nothing of it."""
SETTLE_S = 120.0


@dataclass
class Ledger:
    """What the server acknowledged, across all trials of one backend."""

    direct: list[Tally] = field(default_factory=list)
    save_steps: Tally = field(default_factory=Tally)
    datasets: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    saves: dict[str, int] = field(default_factory=dict)
    """Checkpoint uuid -> steps on ``saves`` acknowledged before the save was asked."""
    queued: dict[str, int] = field(default_factory=dict)

    KINDS = ("direct_samples", "save_steps", "datasets", "tasks", "finished_saves")

    def counts(self) -> tuple[int, ...]:
        """How much of each kind of work (:attr:`KINDS`) was acknowledged so far."""
        direct = sum(t.acked for t in self.direct)
        return direct, self.save_steps.acked, len(self.datasets), len(self.tasks), len(self.saves)


@dataclass
class Clusters:
    direct: str
    tasks: str
    saves: str
    dataset: str

    @classmethod
    def create(cls, client: Client) -> Clusters:
        api = client.api
        clusters = cls(
            direct=loadgen.create_cluster(api, "chaos_direct"),
            tasks=loadgen.create_cluster(api, "chaos_tasks"),
            saves=loadgen.create_cluster(api, "chaos_saves"),
            dataset=loadgen.upload_mnist(api, client.server.target, "chaos_rows", 200),
        )
        assert client.set_mode(clusters.direct, "DIRECT") == 200
        return clusters


def _actors(client: Client, clusters: Clusters, ledger: Ledger, stop: threading.Event):
    """The workload of one trial, as threads that write into ``ledger``."""
    x, y = loadgen.digits(500, seed=1)
    ping_pong, batched = Tally(), Tally()
    ledger.direct += [ping_pong, batched]

    def uploads() -> None:
        while not stop.is_set():
            name = f"chaos_{random.randrange(1 << 40):x}"
            ledger.datasets.append(loadgen.upload_mnist(client.api, client.server.target, name, 20))

    def tasks() -> None:
        while not stop.is_set():
            kind = random.choice((loadgen.train, loadgen.request))
            ledger.tasks.append(kind(client.api, clusters.tasks, clusters.dataset)["uuid"])
            time.sleep(0.2)

    def saves() -> None:
        for n in range(1 << 30):
            if stop.is_set():
                return
            assert client.set_mode(clusters.saves, "DIRECT") == 200
            asyncio.run(loadgen.ping_pong_steps(client, clusters.saves, x, y,
                                                ledger.save_steps, steps=SAVE_STEPS))  # fmt: skip
            queue_it = n % 3 == 2
            if not queue_it:
                assert client.set_mode(clusters.saves, "TASK") == 200
            asked_after = ledger.save_steps.acked
            response = client.api.post(
                "cluster/save", {"cluster_uuid": clusters.saves, "name": f"chaos_{n}"}
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            book = ledger.queued if answer["state"] == "queued" else ledger.saves
            book[answer["uuid"]] = asked_after
            if queue_it:
                assert client.set_mode(clusters.saves, "TASK") == 200

    return [
        Actor("ping_pong", lambda: loadgen.ping_pong_steps(client, clusters.direct, x, y,
                                                           ping_pong, stop=stop)),
        Actor("batched", lambda: loadgen.batched_steps(client, clusters.direct, x, y,
                                                       batched, stop=stop)),
        Actor("uploads", uploads),
        Actor("tasks", tasks),
        Actor("saves", saves),
    ]  # fmt: skip


def _checkpoint_samples(database: Database, checkpoint: str) -> int | None:
    with database.session() as session:
        row = session.get(Checkpoint, checkpoint)
        location = None if row is None else row.location
    if location is None or not Path(location).is_file():
        return None
    return Cluster.load(location).metrics()["samples_trained"]


def _check(client: Client, clusters: Clusters, ledger: Ledger, database: Database) -> dict:
    """Compare the restarted server with the ledger; returns the violations by kind."""
    api = client.api
    lost: dict[str, int] = {}

    def count(kind: str, n: int = 1) -> None:
        lost[kind] = lost.get(kind, 0) + n

    samples = client.samples(clusters.direct)
    acked = sum(t.acked for t in ledger.direct)
    if samples < acked:
        count("direct_samples", acked - samples)
    if samples > sum(t.sent for t in ledger.direct):
        count("direct_samples_never_sent")
    datasets = {row[1] for row in api.get("dataset/all").json()["body"]}
    if missing := set(ledger.datasets) - datasets:
        count("datasets", len(missing))
    listed = {row[0] for row in api.get("task/all", cluster_uuid=clusters.tasks).json()["body"]}
    if missing := set(ledger.tasks) - listed:
        count("tasks", len(missing))
    for checkpoint, steps in ledger.saves.items():
        held = _checkpoint_samples(database, checkpoint)
        if held is None or held < steps:
            count("finished_saves")
    if client.set_mode(clusters.saves, "TASK") not in (200, 409):  # 409: TASK already
        count("set_mode")
    deadline = time.monotonic() + SETTLE_S
    for checkpoint, steps in list(ledger.queued.items()):
        while (state := _task_state(client, clusters.saves, checkpoint)) not in (
            "finished", "failed", "missing"
        ) and time.monotonic() < deadline:  # fmt: skip
            time.sleep(0.1)
        if state == "finished":
            held = _checkpoint_samples(database, checkpoint)
            if held is None or held < steps:
                count("queued_saves_without_steps")
            del ledger.queued[checkpoint]
        elif state in ("failed", "missing"):
            del ledger.queued[checkpoint]
        else:
            count("queued_saves_stuck")
    return lost


def _until_every_kind_moved(ledger: Ledger, before: tuple[int, ...], actors: list[Actor]) -> None:
    """Wait until the trial's actors got every kind of work acknowledged at least once, or
    one of them failed, or ``MOVE_S`` passed."""
    deadline = time.monotonic() + MOVE_S
    while time.monotonic() < deadline and all(actor.error is None for actor in actors):
        if all(now > then for now, then in zip(ledger.counts(), before, strict=True)):
            return
        time.sleep(0.05)


def _task_state(client: Client, cluster: str, task: str) -> str:
    response = client.api.get("task", uuid=task, cluster_uuid=cluster)
    return response.json()["state"] if response.status_code == 200 else "missing"


def run_backend(folder: Path, database_url: str | None, trials: int, seed: int) -> dict:
    """``trials`` kill-and-restart trials on one server; the totals."""
    rng = random.Random(seed)
    server = ServerProcess(folder, database_url,
                           env_extra={"HANAMI_CLUSTER_AUTOSAVE_INTERVAL": "1"})  # fmt: skip
    database = Database(server.target.database_url)
    ledger = Ledger()
    lost: dict[str, int] = {}
    restart_s: list[float] = []
    try:
        server.start()
        client = Client(server)
        clusters = Clusters.create(client)
        for trial in range(trials):
            stop = threading.Event()
            actors = _actors(client, clusters, ledger, stop)
            before = ledger.counts()
            for actor in actors:
                actor.start()
            _until_every_kind_moved(ledger, before, actors)
            time.sleep(rng.uniform(*WORK_S))
            server.kill()
            stop.set()
            for actor in actors:
                actor.join(60)
            client.close()
            started = time.monotonic()
            server.start()
            restart_s.append(time.monotonic() - started)
            client = Client(server)
            found = _check(client, clusters, ledger, database)
            for kind, n in found.items():
                lost[kind] = lost.get(kind, 0) + n
            print(f"trial {trial + 1}/{trials}: restart {restart_s[-1]:.1f} s, lost {found}",
                  file=sys.stderr, flush=True)  # fmt: skip
        client.close()
    finally:
        server.kill()
        database.dispose()
    return {
        "trials": trials,
        "acknowledged": dict(zip(Ledger.KINDS, ledger.counts(), strict=True)),
        "lost": sum(lost.values()),
        "lost_by_kind": lost,
        "queued_saves_left": len(ledger.queued),
        "restart_s_mean": round(sum(restart_s) / len(restart_s), 2),
        "restart_s_max": round(max(restart_s), 2),
    }


@contextmanager
def _database_url(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    with private_postgres() as url:
        yield new_database(url)


def run(trials: int, backends: list[str], seed: int = 0) -> dict[str, Any]:
    """The chaos run on each backend (a backend that cannot start is reported, not run)."""
    result: dict[str, Any] = {}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix=f"hanami-chaos-{backend}-") as folder:
            try:
                with _database_url(backend) as url:
                    result[backend] = run_backend(Path(folder), url, trials, seed)
            except PostgresUnavailable as exc:
                result[backend] = {"skipped": str(exc)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30, help="kill -9 trials per backend")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.trials, args.backends.split(","), args.seed), indent=2))


if __name__ == "__main__":
    main()

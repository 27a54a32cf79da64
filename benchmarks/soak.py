"""Soak: a long mixed load on one server, watching its memory and descriptors.

The server (SQLite, a fresh folder) gets, all at once and for ``--duration`` seconds:

- direct I/O: ping-pong sessions of 200 steps and batched sessions of 20 frames of 32
  samples, one after the other, on one DIRECT cluster (500 rows, repeated);
- GETs: cluster, dataset and task lists and details, back to back;
- uploads: a 20-row MNIST dataset, uploaded and deleted again;
- tasks: a train and a request task on a TASK cluster, waited for, then deleted (the
  request result with them);
- checkpoints: ``cluster/save`` on that cluster, then the checkpoint deleted.

Every ``--sample`` seconds the server process's RSS, open descriptors and threads are read
(psutil). The report gives the RSS slope over the last two thirds of the run (MB per
minute, least squares: the first third is warm-up), the descriptor counts, the operations
done and the errors (any failed call).

``python benchmarks/soak.py [--duration 600] [--sample 2]`` prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

import loadgen
from loadgen import Actor, Client, ServerProcess, Tally

MB = 1024 * 1024


class Load:
    """The actors of the soak and what they did: operations and errors by kind."""

    def __init__(self, client: Client, stop: threading.Event) -> None:
        self.client = client
        self.stop = stop
        self.done: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.direct = loadgen.create_cluster(client.api, "soak_direct")
        self.tasks = loadgen.create_cluster(client.api, "soak_tasks")
        self.dataset = loadgen.upload_mnist(client.api, client.server.target, "soak_rows", 200)
        assert client.set_mode(self.direct, "DIRECT") == 200
        self.x, self.y = loadgen.digits(500, seed=2)

    def actors(self) -> list[Actor]:
        work = (self.ping_pong, self.batched, self.gets, self.upload, self.task, self.checkpoint)
        return [Actor(f.__name__, self.repeat(f)) for f in work]

    def repeat(self, operation: Callable[[], None]) -> Callable[[], None]:
        def loop() -> None:
            while not self.stop.is_set():
                try:
                    operation()
                    self.done[operation.__name__] += 1
                except Exception as exc:
                    self.errors[f"{operation.__name__}: {type(exc).__name__}: {exc}"[:200]] += 1
                    time.sleep(0.5)

        return loop

    def ping_pong(self) -> None:
        steps = loadgen.ping_pong_steps(self.client, self.direct, self.x, self.y, Tally(),
                                        steps=200)  # fmt: skip
        asyncio.run(steps)

    def batched(self) -> None:
        frames = threading.Event()
        timer = threading.Timer(0.5, frames.set)  # about 20 frames of 32 samples
        timer.start()
        asyncio.run(loadgen.batched_steps(self.client, self.direct, self.x, self.y, Tally(),
                                          stop=frames))  # fmt: skip

    def gets(self) -> None:
        api = self.client.api
        for path, params in (
            ("cluster/all", {}),
            ("dataset/all", {}),
            ("cluster", {"uuid": self.direct}),
            ("dataset", {"uuid": self.dataset}),
            ("task/all", {"cluster_uuid": self.tasks}),
        ):
            response = api.get(path, **params)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code}")

    def upload(self) -> None:
        api = self.client.api
        dataset = loadgen.upload_mnist(api, self.client.server.target, "soak_upload", 20)
        _ok(api.delete("dataset", uuid=dataset))

    def task(self) -> None:
        api = self.client.api
        for kind in (loadgen.train, loadgen.request):
            task = kind(api, self.tasks, self.dataset)["uuid"]
            state = loadgen.wait_task(api, self.tasks, task)["state"]
            if state != "finished":
                raise RuntimeError(f"{kind.__name__} task {state}")
            _ok(api.delete("task", uuid=task, cluster_uuid=self.tasks))
            if kind is loadgen.request:
                _ok(api.delete("dataset", uuid=task))

    def checkpoint(self) -> None:
        api = self.client.api
        saved = api.post("cluster/save", {"cluster_uuid": self.tasks, "name": "soak_ckpt"})
        _ok(saved)
        checkpoint = saved.json()["uuid"]
        state = loadgen.wait_task(api, self.tasks, checkpoint)["state"]
        if state != "finished":
            raise RuntimeError(f"checkpoint save {state}")
        _ok(api.delete("checkpoint", uuid=checkpoint))
        time.sleep(1.0)


def _ok(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: "
                           f"{response.status_code} {response.text[:100]}")  # fmt: skip


def _slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS (MB) over time (minutes) in the last two thirds."""
    tail = samples[len(samples) // 3 :]
    if len(tail) < 2:
        return float("nan")
    t = np.array([s[0] for s in tail]) / 60
    rss = np.array([s[1] for s in tail])
    return float(np.polyfit(t, rss, 1)[0])


def run(duration: float, sample: float = 2.0, folder: Path | None = None) -> dict[str, Any]:
    """Soak a fresh server for ``duration`` seconds; the report."""
    with tempfile.TemporaryDirectory(prefix="hanami-soak-") as scratch:
        server = ServerProcess(folder or Path(scratch))
        server.start()
        try:
            assert server.proc is not None
            process = psutil.Process(server.proc.pid)
            client = Client(server)
            stop = threading.Event()
            load = Load(client, stop)
            actors = load.actors()
            samples: list[tuple[float, float, int, int]] = []
            started = time.monotonic()
            for actor in actors:
                actor.start()
            while (now := time.monotonic() - started) < duration:
                samples.append((now, process.memory_info().rss / MB, process.num_fds(),
                                process.num_threads()))  # fmt: skip
                time.sleep(sample)
            stop.set()
            for actor in actors:
                actor.join(120)
            alive = server.proc.poll() is None
            client.close()
        finally:
            server.kill()
    rss = [s[1] for s in samples]
    fds = [s[2] for s in samples]
    return {
        "duration_s": duration,
        "samples": len(samples),
        "operations": dict(load.done),
        "errors": sum(load.errors.values()) + (0 if alive else 1),
        "error_kinds": dict(load.errors) | ({} if alive else {"server died": 1}),
        "rss_mb_first": round(rss[0], 1),
        "rss_mb_last": round(rss[-1], 1),
        "rss_mb_max": round(max(rss), 1),
        "rss_slope_mb_per_min": round(_slope_mb_per_min([(s[0], s[1]) for s in samples]), 2),
        "fds_first": fds[0],
        "fds_last": fds[-1],
        "fds_max": max(fds),
        "threads_first": samples[0][3],
        "threads_last": samples[-1][3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between samples")
    args = parser.parse_args()
    print(json.dumps(run(args.duration, args.sample), indent=2))


if __name__ == "__main__":
    main()

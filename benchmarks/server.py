"""Server benchmarks: what the service adds on top of the engine.

Starts a real server (``python -m hanami.server``, SQLite unless ``--database-url``, loopback)
in a fresh folder and measures, in one run on the same machine:

(a) ``train_task``: a 60,000-row MNIST train task through the REST API (dataset uploaded
    from the MNIST folder), wall time from ``POST task/train`` until ``GET task`` says
    ``finished``, against the engine's own epoch time (``Cluster(mnist_template()).train``
    in this process) measured in the same run: ``ratio`` (target <= 1.10);
(b) ``direct_compatible``: the original ping-pong websocket protocol, one MNIST sample per
    message (INPUT, then EXPECTED with ``isLast``), pre-encoded messages: train steps per
    second, best of :data:`RAW_RUNS` runs on fresh clusters (target >= 4,000/s), the server's
    CPU per step (target <= 150 µs) next to the engine's own CPU per step taking the same
    steps in this process (``engine_cpu_us_per_step``); also the SDK
    (``client.direct(batched=False)``) end to end;
(c) ``direct_batched``: the batched websocket mode through the SDK
    (``client.direct(batched=True).train_batch``): samples per second (target >= 20,000/s),
    next to the engine's own samples per second, in :data:`BATCHED_ROUNDS` alternating
    rounds (``rounds``, ``ratio_median``: the ratio taken within each round);
(d) ``get_load``: the GET mix (list and detail endpoints) from a minimal asyncio client
    (:mod:`get_load`): 100 keep-alive clients that each send one GET a second (errors,
    p50/p99 latency; target zero errors, p99 <= 20 ms), after a short warm-up, and the same
    on the bare anchor (``paced_bare_fastapi``: what the machine alone adds to the latency),
    then closed-loop rounds of 20
    clients on our server and, alternating with it, on two anchors (:mod:`anchors`: bare
    FastAPI, and FastAPI + PyJWT + SQLAlchemy ``Session.get``): the server CPU per GET and
    its ratio to each anchor (targets <= 0.5 ms and <= 0.5x the second).

Where the machine is shared, the server's own CPU time per request or step (from
``/proc/<pid>/stat``) is reported too: it says what the server costs, whatever the load.

``main(data_dir) -> dict`` (called by run_all.py); as a script it prints the JSON::

    python benchmarks/server.py [MNIST folder] [--quick] [--direct | --get]
        [--database-url URL] [--postgres]

``--direct`` runs only (b) and (c), the direct-I/O rates; ``--get`` only (d), on a few
clusters, one dataset, one task and one checkpoint made for it. ``--database-url`` puts the
server (and the SQLAlchemy anchor) on that database. ``--postgres`` also runs (d) on the
test suite's private PostgreSQL server (``tests/server/postgres.py``), as
``get_load_postgresql``, with its CPU per GET as a ratio to the first run's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, text

from get_load import Target, compare, free_port, process_cpu
from hanami.cli.bench import DEFAULT_DATA, load_mnist, warm_up
from hanami.core import Cluster
from hanami.core.templates import mnist_template

ADMIN_ID, ADMIN_PASSPHRASE = "bench_admin", "bench passphrase"
TOKEN_KEY = "benchmark-token-key-" + "x" * 40
RAW_RUNS = 3
"""Ping-pong runs on fresh clusters; the best counts (a busy host only ever slows a run)."""
BATCHED_ROUNDS = 3
"""Batched rounds, each served on a fresh cluster and then the engine alone on the same rows:
the first round gives ``samples_per_s`` and ``engine_samples_per_s`` as before; the ratio of
each round is taken within it (a busy host slows both of a round alike): ``ratio_median``."""
GET_SECONDS = 30.0
"""Seconds of the paced GET load (the closed-loop rounds take a sixth of it each)."""


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    url: str
    data_dir: Path
    database_url: str
    proc: subprocess.Popen[bytes]
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/"


@contextlib.contextmanager
def running_server(
    folder: Path,
    extra_env: dict[str, str] | None = None,
    database_url: str | None = None,
    launcher: list[str] | None = None,
) -> Iterator[Server]:
    """A fresh server in ``folder``; ``extra_env`` adds settings (e.g. the Ray executor),
    ``database_url`` its database (default: SQLite in ``folder``), ``launcher`` what the
    interpreter runs instead of ``-m hanami.server`` (given the same arguments)."""
    port = free_port()
    database_url = database_url or f"sqlite:///{folder / 'hanami.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANAMI_")}
    env.update(
        HANAMI_ADMIN_USER_ID=ADMIN_ID,
        HANAMI_ADMIN_USER_NAME="Benchmark Admin",
        HANAMI_ADMIN_PASSPHRASE=ADMIN_PASSPHRASE,
        HANAMI_TOKEN_KEY=TOKEN_KEY,
        HANAMI_ACCESS_LOG="false",
        HANAMI_LOG_LEVEL="warning",
        **(extra_env or {}),
    )
    command = [
        sys.executable,
        *(launcher or ["-m", "hanami.server"]),
        "--data-dir",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        database_url,
    ]
    log = (folder / "server.log").open("wb")
    # started here, not in ``folder``: a relative PYTHONPATH (``../src``) must find this tree
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", folder, database_url, proc)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready: " + (folder / "server.log").read_text())
            time.sleep(0.1)
        passphrase = base64.b64encode(ADMIN_PASSPHRASE.encode()).decode()
        response = httpx.post(
            f"{server.url}/v1.0alpha/token",
            content=json.dumps({"id": ADMIN_ID, "passphrase": passphrase}),
        )
        response.raise_for_status()
        server.token = response.json()["token"]
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _api(http: httpx.Client, method: str, path: str, body: Any = None, **params: Any) -> Any:
    response = http.request(
        method,
        f"/v1.0alpha/{path}",
        params=params or None,
        content=None if body is None else json.dumps(body),
    )
    if response.status_code != 200:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


def _upload(http: httpx.Client, folder: Path, name: str, stem: str) -> str:
    files = {}
    for field, suffix in (("input_file", "images-idx3-ubyte"), ("label_file", "labels-idx1-ubyte")):
        path = next(
            p for p in (folder / f"{stem}-{suffix}.gz", folder / f"{stem}-{suffix}") if p.exists()
        )
        files[field] = (path.name, path.read_bytes())
    response = http.post(
        "/v1.0alpha/dataset/upload", data={"name": name, "type": "mnist"}, files=files
    )
    if response.status_code != 200:
        raise RuntimeError(f"upload {name}: {response.status_code} {response.text}")
    return response.json()["uuid"]


def _cluster(http: httpx.Client, name: str) -> str:
    template = base64.b64encode(mnist_template().to_text().encode()).decode()
    return _api(http, "POST", "cluster", {"name": name, "template": template})["uuid"]


def _binding(hexagon: str, dataset: str, column: str) -> dict[str, str]:
    return {"hexagon_name": hexagon, "dataset_uuid": dataset, "dataset_column": column}


def _train_task(
    server: Server, http: httpx.Client, cluster: str, dataset: str, name: str
) -> tuple[float, float]:
    """Queue a train task and wait for it.

    Returns the wall seconds from ``POST task/train`` until ``GET task`` says ``finished``
    (polled every 50 ms: faster polling takes CPU from the task on a small machine) and the
    seconds from queueing to the end as the server recorded them (``created_at`` to
    ``finished_at`` of the task row, microseconds; includes dispatch and the autosave).
    """
    body = {
        "name": name,
        "cluster_uuid": cluster,
        "inputs": [_binding("picture_hex", dataset, "picture")],
        "outputs": [_binding("label_hex", dataset, "label")],
    }
    start = time.perf_counter()
    task = _api(http, "POST", "task/train", body)["uuid"]
    while True:
        state = _api(http, "GET", "task", uuid=task, cluster_uuid=cluster)
        if state["state"] == "finished":
            wall = time.perf_counter() - start
            break
        if state["state"] in ("failed", "aborted"):
            raise RuntimeError(f"train task {state}")
        time.sleep(0.05)
    engine = create_engine(server.database_url)
    with engine.connect() as db:
        created, finished = db.execute(
            text("SELECT created_at, finished_at FROM tasks WHERE uuid = :uuid"), {"uuid": task}
        ).one()
    engine.dispose()
    if isinstance(created, str):  # SQLite keeps ISO text
        created, finished = datetime.fromisoformat(created), datetime.fromisoformat(finished)
    recorded = finished - created
    return wall, recorded.total_seconds()


# --------------------------------------------------------------------------- (a) train task


def bench_train_task(
    server: Server, mnist: Path, data: dict[str, np.ndarray], repeats: int
) -> dict[str, Any]:
    x = np.ascontiguousarray(data["train_x"])
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
        train_set = _upload(http, mnist, "mnist_train", "train")
        test_set = _upload(http, mnist, "mnist_test", "t10k")
        _train_task(server, http, _cluster(http, "warm_up"), test_set, "warm_up")  # kernels
        engine_s, wall_s, task_s = [], [], []
        for i in range(repeats):  # alternate, so that both see the same machine load
            cluster = Cluster(mnist_template())
            start = time.perf_counter()
            cluster.train({"picture_hex": x}, {"label_hex": y})
            engine_s.append(time.perf_counter() - start)
            wall, recorded = _train_task(
                server, http, _cluster(http, f"bench_{i}"), train_set, "bench"
            )
            wall_s.append(wall)
            task_s.append(recorded)
    return {
        "rows": len(x),
        "engine_epoch_s": round(min(engine_s), 3),
        "server_task_s": round(min(task_s), 3),
        "api_wall_s": round(min(wall_s), 3),
        "ratio": round(min(task_s) / min(engine_s), 3),
        "api_wall_ratio": round(min(wall_s) / min(engine_s), 3),
        "engine_epoch_s_all": [round(s, 3) for s in engine_s],
        "server_task_s_all": [round(s, 3) for s in task_s],
        "api_wall_s_all": [round(s, 3) for s in wall_s],
        "engine_samples_per_s": round(len(x) / min(engine_s)),
        "target_ratio": 1.10,
    }


# --------------------------------------------------------------------------- (b), (c) direct I/O


def _sdk_client(server: Server) -> Any:
    from hanami.sdk import HanamiClient

    return HanamiClient(server.url, token=server.token, timeout=120)


async def _compatible_raw(
    server: Server,
    cluster: str,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    seconds: float | None = None,
) -> float:
    """Train steps per second with pre-encoded messages (what the server sustains):
    ``steps`` steps, or as many as ``seconds`` allow."""
    from websockets.asyncio.client import connect

    from hanami.protocol.proto import (
        EXPECTED_BUFFER_TYPE,
        INPUT_BUFFER_TYPE,
        TRAIN_TYPE,
        ClusterIO_Message,
    )

    def message(name: str, values: np.ndarray, kind: int, last: bool) -> bytes:
        return ClusterIO_Message(
            bufferName=name,
            isLast=last,
            processType=TRAIN_TYPE,
            targetBufferType=kind,
            numberOfValues=len(values),
            values=values.tolist(),
        ).SerializeToString()

    rows = min(len(x), 2000)
    inputs = [message("picture_hex", x[i], INPUT_BUFFER_TYPE, False) for i in range(rows)]
    expected = [message("label_hex", y[i], EXPECTED_BUFFER_TYPE, True) for i in range(rows)]
    async with connect(server.ws_url, compression=None, max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"token": server.token, "target": "cluster", "uuid": cluster}))
        reply = json.loads(await ws.recv())
        if not reply.get("success"):
            raise RuntimeError(f"direct init: {reply}")
        for i in range(50):  # warm up
            await ws.send(inputs[i % rows])
            await ws.recv()
            await ws.send(expected[i % rows])
            await ws.recv()
        start = time.perf_counter()
        end = start + seconds if seconds is not None else None
        done = 0
        while done < steps if end is None else time.perf_counter() < end:
            await ws.send(inputs[done % rows])
            await ws.recv()
            await ws.send(expected[done % rows])
            await ws.recv()
            done += 1
        return done / (time.perf_counter() - start)


async def _sdk_steps(
    server: Server, cluster: str, x: np.ndarray, y: np.ndarray, *, batched: bool
) -> float:
    client = _sdk_client(server)
    try:
        # A request reads the cluster, so it answers only once every step before it is
        # trained: the warm-up is trained before the clock starts and the clock stops when
        # the last step is trained, not when it is acknowledged (Ray acknowledges a step
        # once it is journaled; docs/websocket.md).
        async with client.direct(cluster, batched=batched) as session:
            if batched:
                await session.train_batch(x[:2048], y[:2048])
                await session.request(x[0])
                start = time.perf_counter()
                await session.train_batch(x, y)
                await session.request(x[0])
                return len(x) / (time.perf_counter() - start)
            for i in range(50):
                await session.train(x[i], y[i])
            await session.request(x[0])
            start = time.perf_counter()
            for i in range(len(x)):
                await session.train(x[i], y[i])
            await session.request(x[0])
            return len(x) / (time.perf_counter() - start)
    finally:
        client.close()


def _engine_step_cpu(x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """CPU seconds per step of the engine alone taking the ping-pong's steps (the same rows,
    one sample a step, on a fresh cluster, its warm-up included): what a server running
    "at the engine's pace" would cost."""
    cluster = Cluster(mnist_template())
    rows = min(len(x), 2000)
    order = [*range(50), *range(steps)]
    start = time.thread_time()
    for i in order:
        cluster.train({"picture_hex": x[i % rows]}, {"label_hex": y[i % rows]})
    return (time.thread_time() - start) / len(order)


def _batched_round(
    server: Server, cluster: str, x: np.ndarray, y: np.ndarray
) -> tuple[float, float, float]:
    """Served samples/s and server CPU seconds per sample of batched direct I/O on a fresh
    cluster, then the engine alone's samples/s on the same rows, same fresh-cluster start."""
    cpu = process_cpu(server.proc.pid)
    served = asyncio.run(_sdk_steps(server, cluster, x, y, batched=True))
    served_cpu = (process_cpu(server.proc.pid) - cpu) / (len(x) + 2048)
    alone = Cluster(mnist_template())
    alone.train({"picture_hex": x[:2048]}, {"label_hex": y[:2048]})
    start = time.perf_counter()
    alone.train({"picture_hex": x}, {"label_hex": y})
    return served, served_cpu, len(x) / (time.perf_counter() - start)


def bench_direct(
    server: Server, data: dict[str, np.ndarray], steps: int, batched_rows: int
) -> dict[str, Any]:
    # float32 before any clock starts: from uint8, both the SDK (batched) and the engine
    # alone converted all rows inside their timed stretch, 0.02-1.3 s for 60,000 rows as
    # the machine's memory allowed (docs/performance.md), which swung the batched ratio
    x = np.ascontiguousarray(data["train_x"], dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as http:
        raw_clusters = [_cluster(http, f"direct_raw_{run}") for run in range(RAW_RUNS)]
        sdk_cluster = _cluster(http, "direct_sdk")
        batched_clusters = [_cluster(http, f"direct_batched_{r}") for r in range(BATCHED_ROUNDS)]
        cpu = process_cpu(server.proc.pid)
        raw_runs = []
        for raw_cluster in raw_clusters:  # each on a fresh cluster: growth included
            _api(http, "PUT", "cluster/set_mode", {"uuid": raw_cluster, "new_state": "DIRECT"})
            raw_runs.append(asyncio.run(_compatible_raw(server, raw_cluster, x, y, steps)))
        raw_cpu = (process_cpu(server.proc.pid) - cpu) / (RAW_RUNS * (steps + 50))
    engine_step = min(_engine_step_cpu(x, y, steps) for _ in range(RAW_RUNS))
    sdk = asyncio.run(
        _sdk_steps(server, sdk_cluster, x[: steps // 2], y[: steps // 2], batched=False)
    )
    rounds = [
        _batched_round(server, c, x[:batched_rows], y[:batched_rows]) for c in batched_clusters
    ]
    return {
        "direct_compatible": {
            "steps": steps,
            "runs_steps_per_s": [round(r) for r in raw_runs],
            "steps_per_s": round(max(raw_runs)),
            "sdk_steps_per_s": round(sdk),
            "server_cpu_us_per_step": round(raw_cpu * 1e6, 1),
            "engine_cpu_us_per_step": round(engine_step * 1e6, 1),
            "server_cpu_beyond_engine_us_per_step": round((raw_cpu - engine_step) * 1e6, 1),
            "target_steps_per_s": 4000,
            "target_server_cpu_us_per_step": 150,
        },
        "direct_batched": batched_summary(rounds, batched_rows),
    }


def batched_summary(rounds: list[tuple[float, float, float]], samples: int) -> dict[str, Any]:
    """The batched rounds (served samples/s, server CPU s per sample, engine-alone samples/s):
    the first round under the old keys, every round, and the median of the ratios taken
    within each round."""
    batched, batched_cpu, engine = rounds[0]
    ratios = sorted(served / alone for served, _, alone in rounds)
    return {
        "samples": samples,
        "samples_per_s": round(batched),
        "engine_samples_per_s": round(engine),
        "server_cpu_us_per_sample": round(batched_cpu * 1e6, 1),
        "rounds": [[round(served), round(alone)] for served, _, alone in rounds],
        "ratio_median": round(ratios[len(ratios) // 2], 2),
        "target_samples_per_s": 20000,
    }


# --------------------------------------------------------------------------- (d) GET load


def seed_get_fixtures(server: Server, mnist: Path) -> None:
    """What the GET mix reads when (a) to (c) did not run: one dataset, a few clusters, a
    finished train task and a checkpoint."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
        dataset = _upload(http, mnist, "mnist_test", "t10k")
        clusters = [_cluster(http, f"get_{i}") for i in range(4)]
        _train_task(server, http, clusters[0], dataset, "get_train")
        _api(http, "POST", "cluster/save", {"cluster_uuid": clusters[0], "name": "get_save"})


def bench_paths(server: Server) -> list[str]:
    """The GET mix: every list endpoint, and the detail endpoints of the first rows."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as http:
        clusters = _api(http, "GET", "cluster/all")["body"]
        datasets = _api(http, "GET", "dataset/all")["body"]
        cluster, dataset = clusters[0][1], datasets[0][1]
        tasks = _api(http, "GET", "task/all", cluster_uuid=cluster)["body"]
    paths = [
        "cluster/all",
        "dataset/all",
        "project/all",
        "user/all",
        f"cluster?uuid={cluster}",
        f"dataset?uuid={dataset}",
        f"task/all?cluster_uuid={cluster}",
        "checkpoint/all",
        "host/all",
    ]
    if tasks:
        paths.append(f"task?uuid={tasks[0][0]}&cluster_uuid={cluster}")
    return paths


def bench_get_load(server: Server, seconds: float) -> dict[str, Any]:
    paths = bench_paths(server)
    ours = Target(int(server.url.rsplit(":", 1)[1]), server.proc.pid, server.token)
    database_url = None if server.database_url.startswith("sqlite") else server.database_url
    return compare(ours, paths, server.data_dir, database_url=database_url, token_key=TOKEN_KEY,
                   user_id=ADMIN_ID, seconds=seconds / 6, paced_seconds=seconds)  # fmt: skip


# --------------------------------------------------------------------------- main


def _get_only(data_dir: Path, database_url: str | None, seconds: float) -> dict[str, Any]:
    """(d) alone on a fresh server with :func:`seed_get_fixtures`."""
    with (
        tempfile.TemporaryDirectory(prefix="hanami-bench-") as folder,
        running_server(Path(folder), database_url=database_url) as server,
    ):
        seed_get_fixtures(server, data_dir)
        return bench_get_load(server, seconds)


def main(
    data_dir: Path, *, quick: bool = False, part: str = "all", database_url: str | None = None,
    postgres: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run (a) to (d) (only (b) and (c) with ``part="direct"``, only (d) with ``"get"``)
    against a fresh server; ``data_dir`` is the MNIST folder. ``postgres``: (d) once more on
    a private PostgreSQL server."""
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    seconds = 10.0 if quick else GET_SECONDS
    if part == "get":
        result["get_load"] = _get_only(data_dir, database_url, seconds)
    else:
        data = load_mnist(data_dir)
        warm_up(mnist_template().to_text())
        with (
            tempfile.TemporaryDirectory(prefix="hanami-bench-") as folder,
            running_server(Path(folder), database_url=database_url) as server,
        ):
            if part == "all":
                result["train_task"] = bench_train_task(server, data_dir, data, 1 if quick else 3)
            steps, rows = (2000, 20_000) if quick else (5000, 60_000)
            result.update(bench_direct(server, data, steps, rows))
            if part == "all":
                result["get_load"] = bench_get_load(server, seconds)
    if postgres and "get_load" in result:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
        from postgres import private_postgres

        with private_postgres() as url:
            on_postgres = _get_only(data_dir, url, seconds)
        cpu = on_postgres["closed_loop"]["server_cpu_ms_per_request"]
        on_postgres["cpu_ratio_to_first_run"] = round(
            cpu / result["get_load"]["closed_loop"]["server_cpu_ms_per_request"], 2
        )
        on_postgres["target_cpu_ratio_to_first_run"] = 1.5
        result["get_load_postgresql"] = on_postgres
    result["load_average_after"] = os.getloadavg()
    return result


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MNIST folder")
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--direct", dest="part", action="store_const", const="direct")
    parts.add_argument("--get", dest="part", action="store_const", const="get")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the server's database")
    parser.add_argument("--postgres", action="store_true",
                        help="(d) also on a private PostgreSQL server")  # fmt: skip
    return parser.parse_args()


if __name__ == "__main__":
    args = _arguments()
    results = main(args.data, quick=args.quick, part=args.part or "all",
                   database_url=args.database_url, postgres=args.postgres)  # fmt: skip
    print(json.dumps(results, indent=2))

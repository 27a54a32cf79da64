"""Server benchmarks: what the service adds on top of the engine.

Starts a real server (``python -m hanami.server``, SQLite, loopback) in a fresh folder and
measures, in one run on the same machine:

(a) ``train_task``: a 60,000-row MNIST train task through the REST API (dataset uploaded
    from the MNIST folder), wall time from ``POST task/train`` until ``GET task`` says
    ``finished``, against the engine's own epoch time (``Cluster(mnist_template()).train``
    in this process) measured in the same run: ``ratio`` (target <= 1.10);
(b) ``direct_compatible``: the original ping-pong websocket protocol, one MNIST sample per
    message (INPUT, then EXPECTED with ``isLast``), pre-encoded messages: train steps per
    second, best of :data:`RAW_RUNS` runs on fresh clusters (target >= 2,000/s); also the
    SDK (``client.direct(batched=False)``) end to end;
(c) ``direct_batched``: the batched websocket mode through the SDK
    (``client.direct(batched=True).train_batch``): samples per second (target >= 20,000/s),
    next to the engine's own samples per second;
(d) ``get_load``: 100 concurrent keep-alive clients (a minimal asyncio HTTP/1.1 client)
    on GET endpoints for 30 s, each pacing itself to ``GET_RATE`` requests per second:
    errors and p50/p99 latency (target zero errors, p99 <= 50 ms); plus a short
    closed-loop run (no pauses) for the saturation throughput.

Where the machine is shared, the server's own CPU time per request or step (from
``/proc/<pid>/stat``) is reported too: it says what the server costs, whatever the load.

``main(data_dir) -> dict`` (called by run_all.py); as a script it prints the JSON::

    python benchmarks/server.py [MNIST folder] [--quick] [--direct]

``--direct`` runs only (b) and (c), the direct-I/O rates.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import sqlite3
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

from hanami.cli.bench import DEFAULT_DATA, load_mnist, warm_up
from hanami.core import Cluster
from hanami.core.templates import mnist_template

ADMIN_ID, ADMIN_PASSPHRASE = "bench_admin", "bench passphrase"
TOKEN_KEY = "benchmark-token-key-" + "x" * 40
RAW_RUNS = 3
"""Ping-pong runs on fresh clusters; the best counts (a busy host only ever slows a run)."""
CLIENTS = 100
GET_SECONDS = 30.0
GET_RATE = 1.0  # requests per second per client (100/s offered in all)


# --------------------------------------------------------------------------- the server


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/"


@contextlib.contextmanager
def running_server(folder: Path, extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """A fresh server in ``folder``; ``extra_env`` adds settings (e.g. the Ray executor)."""
    port = _free_port()
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
        "-m",
        "hanami.server",
        "--data-dir",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = (folder / "server.log").open("wb")
    # started here, not in ``folder``: a relative PYTHONPATH (``../src``) must find this tree
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", folder, proc)
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
    with contextlib.closing(sqlite3.connect(server.data_dir / "hanami.db")) as db:
        created, finished = db.execute(
            "SELECT created_at, finished_at FROM tasks WHERE uuid = ?", (task,)
        ).fetchone()
    recorded = datetime.fromisoformat(finished) - datetime.fromisoformat(created)
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
    server: Server, cluster: str, x: np.ndarray, y: np.ndarray, steps: int
) -> float:
    """Train steps per second with pre-encoded messages (what the server sustains)."""
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
        for i in range(steps):
            await ws.send(inputs[i % rows])
            await ws.recv()
            await ws.send(expected[i % rows])
            await ws.recv()
        return steps / (time.perf_counter() - start)


async def _sdk_steps(
    server: Server, cluster: str, x: np.ndarray, y: np.ndarray, *, batched: bool
) -> float:
    client = _sdk_client(server)
    try:
        async with client.direct(cluster, batched=batched) as session:
            if batched:
                await session.train_batch(x[:2048], y[:2048])  # warm up
                start = time.perf_counter()
                await session.train_batch(x, y)
                return len(x) / (time.perf_counter() - start)
            for i in range(50):
                await session.train(x[i], y[i])
            start = time.perf_counter()
            for i in range(len(x)):
                await session.train(x[i], y[i])
            return len(x) / (time.perf_counter() - start)
    finally:
        client.close()


def bench_direct(
    server: Server, data: dict[str, np.ndarray], steps: int, batched_rows: int
) -> dict[str, Any]:
    x = np.ascontiguousarray(data["train_x"])
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as http:
        raw_clusters = [_cluster(http, f"direct_raw_{run}") for run in range(RAW_RUNS)]
        sdk_cluster = _cluster(http, "direct_sdk")
        batched_cluster = _cluster(http, "direct_batched")
        cpu = _process_cpu(server.proc.pid)
        raw_runs = []
        for raw_cluster in raw_clusters:  # each on a fresh cluster: growth included
            _api(http, "PUT", "cluster/set_mode", {"uuid": raw_cluster, "new_state": "DIRECT"})
            raw_runs.append(asyncio.run(_compatible_raw(server, raw_cluster, x, y, steps)))
        raw_cpu = (_process_cpu(server.proc.pid) - cpu) / (RAW_RUNS * (steps + 50))
    sdk = asyncio.run(
        _sdk_steps(server, sdk_cluster, x[: steps // 2], y[: steps // 2], batched=False)
    )
    cpu = _process_cpu(server.proc.pid)
    batched = asyncio.run(
        _sdk_steps(server, batched_cluster, x[:batched_rows], y[:batched_rows], batched=True)
    )
    batched_cpu = (_process_cpu(server.proc.pid) - cpu) / (batched_rows + 2048)
    # the engine alone on the same rows, same fresh-cluster start, for comparison
    cluster = Cluster(mnist_template())
    cluster.train({"picture_hex": x[:2048]}, {"label_hex": y[:2048]})
    start = time.perf_counter()
    cluster.train({"picture_hex": x[:batched_rows]}, {"label_hex": y[:batched_rows]})
    engine = batched_rows / (time.perf_counter() - start)
    return {
        "direct_compatible": {
            "steps": steps,
            "runs_steps_per_s": [round(r) for r in raw_runs],
            "steps_per_s": round(max(raw_runs)),
            "sdk_steps_per_s": round(sdk),
            "server_cpu_us_per_step": round(raw_cpu * 1e6, 1),
            "target_steps_per_s": 2000,
        },
        "direct_batched": {
            "samples": batched_rows,
            "samples_per_s": round(batched),
            "engine_samples_per_s": round(engine),
            "server_cpu_us_per_sample": round(batched_cpu * 1e6, 1),
            "target_samples_per_s": 20000,
        },
    }


# --------------------------------------------------------------------------- (d) GET load


async def _get_load(
    server: Server, paths: list[str], clients: int, seconds: float, rate: float | None
) -> dict[str, Any]:
    """``clients`` keep-alive HTTP/1.1 connections, each sending one GET at a time (paced to
    ``rate`` per second, or back to back with ``rate=None``).

    A minimal asyncio client (request line, headers, ``Content-Length`` body): httpx spends
    about a millisecond of CPU per request, which on a small machine takes the CPU from the
    server being measured.
    """
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def error(key: str) -> None:
        errors[key] = errors.get(key, 0) + 1

    async def client(n: int) -> None:
        rng = random.Random(n)
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        if rate:
            await asyncio.sleep(rng.random() / rate)  # spread the starts
        while (now := time.perf_counter()) < stop:
            path = paths[rng.randrange(len(paths))]
            start = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(host, port)
                reader, writer = connection
                writer.write(
                    f"GET /v1.0alpha/{path} HTTP/1.1\r\nHost: {host}\r\n"
                    f"X-Auth-Token: {server.token}\r\n\r\n".encode()
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await asyncio.wait_for(reader.readexactly(length), 30)
                status = int(head.split(b" ", 2)[1])
                if status != 200:
                    error(f"{path.split('?')[0]}: {status}")
            except (OSError, asyncio.IncompleteReadError, TimeoutError, StopIteration) as exc:
                error(f"{path.split('?')[0]}: {type(exc).__name__}")
                if connection is not None:
                    connection[1].close()
                connection = None
            latencies.append(time.perf_counter() - start)
            if rate:  # one request every 1/rate s on average (jittered), minus the time taken
                pause = rng.uniform(0.5, 1.5) / rate - (time.perf_counter() - now)
                await asyncio.sleep(max(0.0, pause))
        if connection is not None:
            connection[1].close()

    cpu = _process_cpu(server.proc.pid)
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    server_cpu = _process_cpu(server.proc.pid) - cpu
    ms = np.asarray(latencies) * 1000
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "offered_per_s": None if rate is None else clients * rate,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(1, len(latencies)), 2),
    }


def bench_get_load(server: Server, seconds: float) -> dict[str, Any]:
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
    paced = asyncio.run(_get_load(server, paths, CLIENTS, seconds, GET_RATE))
    closed = asyncio.run(_get_load(server, paths, CLIENTS, min(seconds, 5.0), None))
    return {
        "endpoints": sorted({p.split("?")[0] for p in paths}),
        "paced": {**paced, "target_errors": 0, "target_p99_ms": 50},
        "closed_loop": closed,
    }


# --------------------------------------------------------------------------- main


def main(data_dir: Path, *, quick: bool = False, direct_only: bool = False) -> dict[str, Any]:
    """Run (a) to (d) (only (b) and (c) with ``direct_only``) against a fresh server;
    ``data_dir`` is the MNIST folder."""
    data = load_mnist(data_dir)
    warm_up(mnist_template().to_text())
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    with (
        tempfile.TemporaryDirectory(prefix="hanami-bench-") as folder,
        running_server(Path(folder)) as server,
    ):
        if not direct_only:
            result["train_task"] = bench_train_task(server, data_dir, data, 1 if quick else 3)
        steps, rows = (2000, 20_000) if quick else (5000, 60_000)
        result.update(bench_direct(server, data, steps, rows))
        if not direct_only:
            result["get_load"] = bench_get_load(server, 10.0 if quick else GET_SECONDS)
    result["load_average_after"] = os.getloadavg()
    return result


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    folder = Path(arguments[0]) if arguments else DEFAULT_DATA
    print(json.dumps(main(folder, quick="--quick" in sys.argv,
                          direct_only="--direct" in sys.argv), indent=2))  # fmt: skip

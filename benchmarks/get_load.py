"""The GET part of ``benchmarks/server.py``: a load client, and the anchors beside our server.

The client is a minimal asyncio HTTP/1.1 one (request line, headers, ``Content-Length``
body): httpx spends about a millisecond of CPU per request, which on a small machine takes
the CPU from the server being measured. What a server costs is its own CPU time (from
``/proc/<pid>/stat``) over the requests it answered: it says what the server costs whatever
else the machine does.

Our server and the two anchors of :mod:`anchors` (bare FastAPI; FastAPI + PyJWT +
SQLAlchemy ``Session.get``) get the same requests from the same client, in rounds that
alternate between them, so that all three see the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CLOSED_CLIENTS = 20
"""Connections of the closed-loop runs (each sends its next GET as soon as one is answered)."""
PACED_CLIENTS = 100
PACED_RATE = 1.0
"""GETs per second of each paced client (100 GET/s offered in all)."""
ROUNDS = 3
"""Closed-loop rounds; each runs our server, then each anchor, for the same time."""
WARM_UP_SECONDS = 3.0
"""Closed-loop load on our server before the paced one: the first requests of each endpoint
fill caches (statements, validators, connections) that would otherwise sit in its p99."""


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_wait(pid: int) -> float:
    """Seconds the threads of process ``pid`` have so far spent ready to run but waiting for
    a CPU (``/proc/<pid>/task/*/schedstat``, Linux): latency that the machine added, not the
    server's own work (threads that ended are not counted)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(stat.read_text().split()[1])
    return total / 1e9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Target:
    """A running HTTP server: where it listens and which process to read the CPU time of."""

    port: int
    pid: int
    token: str


async def _load(
    target: Target, paths: list[str], clients: int, seconds: float, rate: float | None
) -> dict[str, Any]:
    """``clients`` keep-alive connections, each sending one GET at a time (paced to ``rate``
    per second, or back to back with ``rate=None``)."""
    host = "127.0.0.1"
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
                    connection = await asyncio.open_connection(host, target.port)
                reader, writer = connection
                writer.write(
                    f"GET /v1.0alpha/{path} HTTP/1.1\r\nHost: {host}\r\n"
                    f"X-Auth-Token: {target.token}\r\n\r\n".encode()
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

    cpu, waited = process_cpu(target.pid), process_wait(target.pid)
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    server_cpu = process_cpu(target.pid) - cpu
    server_waited = process_wait(target.pid) - waited
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
        "server_cpu_s": server_cpu,
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(1, len(latencies)), 3),
        "server_waited_for_cpu_s": round(server_waited, 3),
    }


def load(
    target: Target, paths: list[str], clients: int, seconds: float, rate: float | None = None
) -> dict[str, Any]:
    return asyncio.run(_load(target, paths, clients, seconds, rate))


@contextlib.contextmanager
def running_anchor(
    kind: str, folder: Path, database_url: str | None, token_key: str, user_id: str, token: str
) -> Iterator[Target]:
    """Start the anchor service ``kind`` of :mod:`anchors` (its own SQLite file in
    ``folder`` unless ``database_url`` is given) and wait until it answers."""
    port = free_port()
    url = database_url or f"sqlite:///{folder / f'anchor-{kind}.db'}"
    log = (folder / f"anchor-{kind}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "anchors.py"), kind, str(port), url, token_key, user_id],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError((folder / f"anchor-{kind}.log").read_text())
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"anchor {kind} did not start")
            time.sleep(0.1)
        target = Target(port, proc.pid, token)
        warm = load(target, ["warm"], 1, 0.5)  # first requests: imports, connections
        if warm["errors"]:
            raise RuntimeError(f"anchor {kind}: {warm['error_kinds']}")
        yield target
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one target together: all requests and all CPU time."""
    requests = sum(r["requests"] for r in runs)
    cpu = sum(r["server_cpu_s"] for r in runs)
    return {
        "requests": requests,
        "requests_per_s": round(requests / sum(r["seconds"] for r in runs), 1),
        "errors": sum(r["errors"] for r in runs),
        "p50_ms": round(float(np.median([r["p50_ms"] for r in runs])), 1),
        "p99_ms": round(max(r["p99_ms"] for r in runs), 1),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, requests), 3),
        "rounds_cpu_ms_per_request": [r["server_cpu_ms_per_request"] for r in runs],
    }


def compare(
    ours: Target, paths: list[str], folder: Path, *, database_url: str | None, token_key: str,
    user_id: str, seconds: float, paced_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """Paced load on our server after a warm-up, and the same on the bare anchor (what the
    machine alone adds to the latency), then closed-loop rounds on ours and on both
    anchors."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": [], "idiomatic": []}
    with (
        running_anchor("bare", folder, None, token_key, user_id, ours.token) as bare,
        running_anchor("idiomatic", folder, database_url, token_key, user_id, ours.token) as idio,
    ):
        load(ours, paths, CLOSED_CLIENTS, WARM_UP_SECONDS)
        paced = load(ours, paths, PACED_CLIENTS, paced_seconds, PACED_RATE)
        paced_bare = load(bare, paths, PACED_CLIENTS, paced_seconds, PACED_RATE)
        for _ in range(ROUNDS):
            for name, target in (("ours", ours), ("bare", bare), ("idiomatic", idio)):
                runs[name].append(load(target, paths, CLOSED_CLIENTS, seconds))
    closed, bare_s, idio_s = (_summary(runs[k]) for k in ("ours", "bare", "idiomatic"))
    cpu = closed["server_cpu_ms_per_request"]
    for run in (paced, paced_bare):
        run.pop("server_cpu_s")
    return {
        "endpoints": sorted({p.split("?")[0] for p in paths}),
        "paced": {**paced, "target_errors": 0, "target_p99_ms": 20},
        "paced_bare_fastapi": paced_bare,
        "closed_loop": {
            "clients": CLOSED_CLIENTS,
            "rounds": ROUNDS,
            "seconds_per_round": seconds,
            **closed,
            "target_server_cpu_ms_per_request": 0.5,
        },
        "anchors": {"bare_fastapi": bare_s, "fastapi_jwt_sqlalchemy": idio_s},
        "cpu_ratio_to_bare": round(cpu / bare_s["server_cpu_ms_per_request"], 2),
        "cpu_ratio_to_idiomatic": round(cpu / idio_s["server_cpu_ms_per_request"], 2),
        "target_cpu_ratio_to_idiomatic": 0.5,
    }

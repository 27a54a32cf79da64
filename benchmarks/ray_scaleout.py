"""Ray executor benchmark (issue 11): the same server in-process and on a Ray cluster.

Starts a Ray cluster on loopback (a head and two worker nodes, ``tests/distributed/
ray_cluster.py``) and, one after the other on the same machine, a fresh server with the
in-process executor and one with ``HANAMI_EXECUTOR=ray``; measures on each:

(a) ``four_tenants``: four clusters trained at once through the API (four train tasks on
    the uploaded MNIST training set, queued together): wall seconds until all four are
    ``finished``, and samples per second over all four;
(b) ``direct``: direct-I/O train steps per second through the SDK, ping-pong (one sample per
    step) and batched (``train_batch``), as ``benchmarks/server.py`` measures them;

and on the Ray server (c) ``node_loss``: the worker node of a cluster trained by direct I/O
(its steps in the step journal) loses its raylet (``kill -9``); seconds until a direct-I/O
request on that cluster answers again (a new actor, the autosave loaded, the journal replayed).
Both servers keep the default settings (autosave every 300 s). (d) ``actor_calls`` (from this
process, no server): blocking round trips per second to a cluster's actor (``revision``, no
work), and one-row train steps per second through :class:`RayExecutor` (``exclusive`` and
``train``) and through :class:`InProcessExecutor`.
Not part of ``make bench`` (it needs Ray and takes a few minutes); as a script it prints
JSON::

    python benchmarks/ray_scaleout.py [MNIST folder] [--rows N] [--steps N] [--json PATH]
                                      [--parts four_tenants direct actor_calls node_loss]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import ray

from hanami.cli.bench import DEFAULT_DATA, load_mnist
from hanami.core.templates import OPENHANAMI_MNIST
from hanami.server.runtime.executor import InProcessExecutor
from hanami.server.runtime.ray_executor import NAMESPACE, RayExecutor
from server import (
    Server,
    _api,
    _binding,
    _cluster,
    _sdk_client,
    _sdk_steps,
    _upload,
    running_server,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "distributed"))
from ray_cluster import WORKERS, RayCluster, RayDriver, ray_cluster

TENANTS = 4


def four_tenants(server: Server, mnist: Path, rows: int) -> dict[str, Any]:
    """(a): four train tasks queued at once, one per cluster."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
        dataset = _upload(http, mnist, "mnist_train", "train")
        clusters = [_cluster(http, f"tenant_{i}") for i in range(TENANTS)]
        start = time.perf_counter()
        tasks = []
        for cluster in clusters:
            body = {"name": "scale", "cluster_uuid": cluster,
                    "inputs": [_binding("picture_hex", dataset, "picture")],
                    "outputs": [_binding("label_hex", dataset, "label")]}  # fmt: skip
            tasks.append((_api(http, "POST", "task/train", body)["uuid"], cluster))
        pending = set(tasks)
        while pending:
            for task, cluster in list(pending):
                state = _api(http, "GET", "task", uuid=task, cluster_uuid=cluster)
                if state["state"] in ("failed", "aborted"):
                    raise RuntimeError(f"train task {state}")
                if state["state"] == "finished":
                    pending.discard((task, cluster))
            time.sleep(0.1)
        wall = time.perf_counter() - start
        total = TENANTS * rows
        for cluster in clusters:  # each holds a CPU of the Ray cluster
            _api(http, "DELETE", "cluster", uuid=cluster)
    return {"clusters": TENANTS, "rows_each": rows, "wall_s": round(wall, 2),
            "samples_per_s": round(total / wall)}  # fmt: skip


def direct(server: Server, data: dict[str, np.ndarray], steps: int) -> dict[str, Any]:
    """(b): ping-pong and batched direct-I/O train steps per second."""
    x = np.ascontiguousarray(data["train_x"])
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
        ping, batch = _cluster(http, "ping_pong"), _cluster(http, "batched")
    ping_rate = asyncio.run(_sdk_steps(server, ping, x[:steps], y[:steps], batched=False))
    batched_rate = asyncio.run(_sdk_steps(server, batch, x, y, batched=True))
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
        for cluster in (ping, batch):
            _api(http, "DELETE", "cluster", uuid=cluster)
    return {"ping_pong_steps_per_s": round(ping_rate), "batched_samples_per_s": round(batched_rate),
            "ping_pong_steps": steps, "batched_rows": len(x)}  # fmt: skip


def node_loss(
    server: Server, nodes: RayCluster, driver: RayDriver, data: dict[str, np.ndarray]
) -> dict[str, Any]:
    """(c): kill -9 the raylet under a trained cluster; seconds until it answers again."""
    x = np.ascontiguousarray(data["train_x"][:2000])
    y = np.eye(10, dtype=np.float32)[data["train_y"][:2000]]
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
        cluster = _cluster(http, "node_loss")
    asyncio.run(_sdk_steps(server, cluster, x, y, batched=True))  # journaled steps
    victim = driver.node_of(cluster)
    nodes.workers[victim].kill_raylet()
    killed = time.perf_counter()

    async def answer() -> None:
        client = _sdk_client(server)
        try:
            async with client.direct(cluster) as session:
                await session.request(x[0])
        finally:
            client.close()

    while True:
        try:
            asyncio.run(answer())
            break
        except Exception:
            if time.perf_counter() - killed > 180:
                raise
            time.sleep(0.1)
    seconds = time.perf_counter() - killed
    return {"lost_node": victim, "now_on": driver.node_of(cluster), "seconds": round(seconds, 2)}


PARTS = ("four_tenants", "direct", "actor_calls", "node_loss")
ACTOR_CALLS = 1000


def actor_calls(address: str) -> dict[str, Any]:
    """(d): what one blocking actor call costs, against a whole in-process step."""
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    step = ({"picture_hex": x}, {"label_hex": np.eye(10, dtype=np.float32)[[3]]})
    on_ray, local = RayExecutor(address), InProcessExecutor()

    def rate(call: Callable[[], Any]) -> int:
        for _ in range(50):
            call()
        start = time.perf_counter()
        for _ in range(ACTOR_CALLS):
            call()
        return round(ACTOR_CALLS / (time.perf_counter() - start))

    def train(executor: RayExecutor | InProcessExecutor) -> None:
        with executor.exclusive("calls"):
            executor.train("calls", *step)

    for executor in (on_ray, local):
        executor.create("calls", OPENHANAMI_MNIST)
    try:
        actor = ray.get_actor(RayExecutor.actor_name("calls"), namespace=NAMESPACE)
        return {
            "round_trips_per_s": rate(lambda: ray.get(actor.revision.remote())),
            "ray_steps_per_s": rate(lambda: train(on_ray)),
            "inprocess_steps_per_s": rate(lambda: train(local)),
        }
    finally:
        on_ray.delete("calls")
        on_ray.close()


def main(mnist: Path, rows: int, steps: int, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    data = load_mnist(mnist)
    data = {"train_x": data["train_x"][:rows], "train_y": data["train_y"][:rows]}
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="hanami-ray-bench-") as folder:
        root = Path(folder)
        (root / "nodes").mkdir()
        with ray_cluster(root / "nodes", WORKERS) as nodes:
            for name, env in (
                ("inprocess", {}),
                ("ray", {"HANAMI_EXECUTOR": "ray", "HANAMI_RAY_ADDRESS": nodes.address}),
            ):  # fmt: skip
                (root / name).mkdir()
                with running_server(root / name, env) as server:
                    result[name] = {}
                    if "four_tenants" in parts:
                        result[name]["four_tenants"] = four_tenants(server, mnist, 60_000)
                    if "direct" in parts:
                        result[name]["direct"] = direct(server, data, steps)
                    if name == "ray" and "actor_calls" in parts:
                        result[name]["actor_calls"] = actor_calls(nodes.address)
                    if name == "ray" and "node_loss" in parts:
                        driver = RayDriver(nodes.address)
                        result[name]["node_loss"] = node_loss(server, nodes, driver, data)
                        ray.shutdown()
                print(name, json.dumps(result[name]), file=sys.stderr, flush=True)
    inprocess, on_ray = result["inprocess"], result["ray"]
    ratios = {
        "four_tenants_ray_over_inprocess": ("four_tenants", "samples_per_s"),
        "ping_pong": ("direct", "ping_pong_steps_per_s"),
        "batched": ("direct", "batched_samples_per_s"),
    }
    result["ratios"] = {
        ratio: round(on_ray[part][key] / inprocess[part][key], 2)
        for ratio, (part, key) in ratios.items()
        if part in parts
    }
    result["load_average_after"] = os.getloadavg()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=20_000, help="batched direct-I/O rows")
    parser.add_argument("--steps", type=int, default=2000, help="ping-pong direct-I/O steps")
    parser.add_argument("--json", type=Path, help="also write the JSON here (Ray's messages "
                        "about the lost node go to this process's output too)")  # fmt: skip
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS,
                        help="what to measure (default: all)")  # fmt: skip
    args = parser.parse_args()
    text = json.dumps(main(args.mnist, args.rows, args.steps, tuple(args.parts)), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")

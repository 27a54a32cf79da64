"""Ping-pong direct I/O of two source trees side by side, in alternating rounds.

On a shared machine one run of ``server.py --direct`` after another compares two loads as
much as two trees. This starts one server per tree (``PYTHONPATH`` = its ``src``), warms a
DIRECT-mode cluster on each, then alternates rounds of pre-encoded ping-pong train steps
(``server.py``'s client) between them, and between them the engine alone taking the same
steps in this process. Per tree: the median over the rounds of the server's CPU per step
(``/proc/<pid>/stat``) and of the steps per second; for the engine its CPU per step::

    python benchmarks/direct_ab.py BEFORE_SRC AFTER_SRC [MNIST folder] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from get_load import process_cpu
from hanami.cli.bench import DEFAULT_DATA, load_mnist
from hanami.core import Cluster
from hanami.core.templates import mnist_template
from server import Server, _api, _cluster, _compatible_raw, running_server


def _direct_cluster(server: Server) -> str:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as http:
        cluster = _cluster(http, "direct_ab")
        _api(http, "PUT", "cluster/set_mode", {"uuid": cluster, "new_state": "DIRECT"})
    return cluster


def _round(server: Server, cluster: str, x: np.ndarray, y: np.ndarray, steps: int) -> list[float]:
    """[server CPU µs per step, steps per second] of one round (its 50 warm-up steps too)."""
    cpu = process_cpu(server.proc.pid)
    rate = asyncio.run(_compatible_raw(server, cluster, x, y, steps))
    return [(process_cpu(server.proc.pid) - cpu) / (steps + 50) * 1e6, rate]


def compare(trees: dict[str, Path], data_dir: Path, rounds: int, steps: int) -> dict[str, Any]:
    data = load_mnist(data_dir)
    x = np.ascontiguousarray(data["train_x"])
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    engine = Cluster(mnist_template())
    runs: dict[str, list[list[float]]] = {name: [] for name in [*trees, "engine"]}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(running_server(
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hanami-ab-"))),
                extra_env={"PYTHONPATH": str(src.resolve())},
            ))
            for name, src in trees.items()
        }  # fmt: skip
        clusters = {name: _direct_cluster(server) for name, server in servers.items()}
        for _ in range(rounds + 1):  # the first round takes every cluster past its growth
            start = time.thread_time()
            for k in range(steps):
                engine.train({"picture_hex": x[k % 2000]}, {"label_hex": y[k % 2000]})
            runs["engine"].append([(time.thread_time() - start) / steps * 1e6, 0.0])
            for name, server in servers.items():
                runs[name].append(_round(server, clusters[name], x, y, steps))
    summary: dict[str, Any] = {}
    for name, results in runs.items():
        kept = results[1:]
        cpu = round(statistics.median(r[0] for r in kept), 1)
        if name == "engine":
            summary[name] = {"engine_cpu_us_per_step": cpu}
        else:
            rate = round(statistics.median(r[1] for r in kept))
            summary[name] = {"server_cpu_us_per_step": cpu, "steps_per_s": rate}
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="src folder of the first tree")
    parser.add_argument("after", type=Path, help="src folder of the second tree")
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MNIST folder")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000, help="train steps a round")
    args = parser.parse_args()
    trees = {"before": args.before, "after": args.after}
    print(json.dumps(compare(trees, args.data, args.rounds, args.steps), indent=2))

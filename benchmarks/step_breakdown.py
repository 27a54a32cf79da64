"""Where the server's CPU goes in a ping-pong direct-I/O step, by thread CPU time.

py-spy samples wall time: on a busy machine a server that has just written its answer and
been preempted for the woken client still looks busy on that ``write`` line (in the
py-spy recordings of ``profile_direct.py`` with a load average of 6, most of the samples).
This measures CPU instead: the server runs with the functions of the step path wrapped in
``time.thread_time()`` (each wrapper costs about 2 µs of its own; ``receive`` includes what
the event loop did while the session waited for the message: uvicorn decoding the frame),
the garbage collector's passes too, and prints their CPU per step over the timed steps,
beside the process's total (:data:`WRAPPED` names that a tree lacks are skipped, so an
older tree runs too)::

    python benchmarks/step_breakdown.py [MNIST folder] [--warm-up 1000] [--steps 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import gc
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

WRAPPED = (
    ("uvicorn.protocols.websockets.websockets_sansio_impl", "WebSocketsSansIOProtocol",
     "data_received"),
    # all of it, where the lane reads frames itself (on an older tree, the same as above)
    ("hanami.server.websocket.protocol", "LaneWebSocketProtocol", "data_received"),
    # the session's loop (messages the lane declines, or every message without a lane)
    ("hanami.server.websocket.session", "WsSession", "receive"),
    ("hanami.server.websocket.direct_io", None, "parse_cluster_io"),
    ("hanami.server.websocket.session", "WsSession", "send_bytes"),
    ("hanami.server.websocket.direct_steps", "Steps", "train"),
    # the lane below ASGI (docs/performance.md)
    ("hanami.server.websocket.direct_lane", "CompatibleLane", "__call__"),
    ("hanami.server.websocket.direct_lane", None, "parse_cluster_io"),  # its name before
    ("hanami.server.websocket.cluster_messages", "ClusterIOParser", "__call__"),
    ("hanami.server.websocket.session", "WsSession", "token_fresh"),
    ("hanami.server.websocket.cluster_messages", "StepBuffers", "fits"),
    ("hanami.server.websocket.cluster_messages", "StepBuffers", "store"),
    ("hanami.server.websocket.direct_io", "_TrainAllowed", "__call__"),
    ("hanami.server.websocket.direct_io", None, "_train_allowed"),  # its name before
    ("hanami.server.websocket.protocol", "LaneWebSocketProtocol", "write_message"),  # before
    ("hanami.server.websocket.protocol", "LaneWebSocketProtocol", "write_frame"),
    # the step
    ("hanami.server.runtime.journal", "StepJournal", "append"),
    ("hanami.server.runtime.executor", "InProcessExecutor", "queue_train"),
    # a known shape's step, by the session's step plan (its record: write, also append's)
    ("hanami.server.runtime.step_plan", "StepPlan", "run"),
    ("hanami.server.runtime.journal", "StepJournal", "write"),
    ("hanami.core.cluster", "Cluster", "train"),
    ("hanami.core.cluster", "Cluster", "train_row"),  # the plan's one-row entry
)  # fmt: skip
"""(module, class or None, function): what the server counts."""


def _timed(func: Callable[..., Any], name: str, spent: collections.Counter[str]) -> Any:
    if asyncio.iscoroutinefunction(func):

        @functools.wraps(func)
        async def coroutine(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return await func(*args, **kwargs)
            finally:
                spent[name] += time.thread_time() - start

        return coroutine

    @functools.wraps(func)
    def plain(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            spent[name] += time.thread_time() - start

    return plain


def serve_counted(out: Path) -> int:
    """The server, with :data:`WRAPPED` counted; SIGUSR1 writes the totals to ``out``."""
    import importlib

    from hanami.server.__main__ import main

    spent: collections.Counter[str] = collections.Counter()
    for module_name, class_name, function in WRAPPED:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:  # not in this tree (an older one): not counted
            continue
        owner = getattr(module, class_name, None) if class_name else module
        if not hasattr(owner, function):  # the same
            continue
        name = f"{class_name or module_name.rsplit('.', 1)[1]}.{function}"
        setattr(owner, function, _timed(getattr(owner, function), name, spent))
    started: list[float] = []

    def collecting(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.thread_time()]
        elif started:
            spent[f"gc (generation {info['generation']})"] += time.thread_time() - started[0]

    gc.callbacks.append(collecting)
    signal.signal(signal.SIGUSR1, lambda *_: out.write_text(json.dumps(spent)))
    return main(sys.argv[2:])


def _snapshot(pid: int, out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    while not out.exists():
        time.sleep(0.05)
    time.sleep(0.1)
    return json.loads(out.read_text())


def breakdown(data_dir: Path, warm_up: int, steps: int) -> dict[str, float]:
    from get_load import process_cpu
    from hanami.cli.bench import load_mnist
    from server import _api, _cluster, _compatible_raw, running_server

    data = load_mnist(data_dir)
    x = np.ascontiguousarray(data["train_x"])
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    with tempfile.TemporaryDirectory(prefix="hanami-breakdown-") as folder:
        out = Path(folder) / "spent.json"
        env = {"BREAKDOWN_OUT": str(out)}
        with (
            running_server(Path(folder), extra_env=env, launcher=[__file__, "--serve"]) as server,
            httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as http,
        ):
            cluster = _cluster(http, "breakdown")
            _api(http, "PUT", "cluster/set_mode", {"uuid": cluster, "new_state": "DIRECT"})
            asyncio.run(_compatible_raw(server, cluster, x, y, warm_up))
            before, cpu = _snapshot(server.proc.pid, out), process_cpu(server.proc.pid)
            asyncio.run(_compatible_raw(server, cluster, x, y, steps))
            total = process_cpu(server.proc.pid) - cpu
            after = _snapshot(server.proc.pid, out)
    counted = steps + 50  # _compatible_raw's own warm-up
    result = {"server_cpu_us_per_step": round(total / counted * 1e6, 1)}
    for name, seconds in after.items():
        result[name] = round((seconds - before.get(name, 0.0)) / counted * 1e6, 1)
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve_counted(Path(os.environ["BREAKDOWN_OUT"])))
    from hanami.cli.bench import DEFAULT_DATA

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MNIST folder")
    parser.add_argument("--warm-up", type=int, default=1000, help="steps before the count")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    print(json.dumps(breakdown(args.data, args.warm_up, args.steps), indent=2))

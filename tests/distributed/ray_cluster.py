"""A real Ray cluster on loopback: a head and worker nodes, each its own ``ray start`` process.

Every node runs ``ray start --block`` in the foreground, so stopping (or losing) the process
stops that node's daemons, and the test ends exactly the processes it started. The head has
no CPUs (no cluster actor lands there); each worker has ``cpus`` CPUs and a custom resource
of its own name (``node_a``, ``node_b``), which tells the nodes apart. Failure detection is
shortened (a lost node is declared dead after about 3 s) so the fault tests stay short.
Used by the tests in this folder and by ``benchmarks/ray_scaleout.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE_BYTES = 100_000_000
FAST_FAILURE_DETECTION = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "4",
}
WORKERS = {"node_a": 2, "node_b": 2}
"""Worker node -> CPUs: two clusters fit on either node, so one survives the other's loss."""
START_TIMEOUT_S = 120.0
START_ATTEMPTS = 3
READY_LINE = b"block forever"
_PORT_OPTIONS = ("node-manager-port", "object-manager-port", "metrics-export-port",
                 "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                 "runtime-env-agent-port")  # fmt: skip
WORKER_PORTS_FROM = 20000
WORKER_PORTS_PER_NODE = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NodeExited(RuntimeError):
    """``ray start`` ended before its node registered with the head."""


@dataclass
class RayNode:
    name: str
    process: subprocess.Popen[bytes]

    def raylet(self) -> psutil.Process:
        """The node's raylet (a child of its ``ray start --block`` process)."""
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.name() == "raylet":
                    return child
        raise LookupError(f"node {self.name} has no raylet")

    def kill_raylet(self) -> None:
        """kill -9 the raylet: the node and the actors on it are lost."""
        self.raylet().send_signal(signal.SIGKILL)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class RayCluster:
    address: str
    log_dir: Path
    env: dict[str, str]
    socket_dir: Path
    """A short temp dir per node for its sessions and Unix sockets (in a shared one the
    names collide when two nodes of one host start at once)."""
    head: RayNode | None = None
    workers: dict[str, RayNode] = field(default_factory=dict)

    def _start(self, name: str, args: list[str]) -> RayNode:
        """One node; every port its own (several nodes share this host's addresses)."""
        log = (self.log_dir / f"ray-{name}.log").open("wb")
        ports = [f"--{option}={_free_port()}" for option in _PORT_OPTIONS]
        sockets = [f"--temp-dir={self.socket_dir / name}"]
        first = WORKER_PORTS_FROM + WORKER_PORTS_PER_NODE * (len(self.workers) + (name != "head"))
        workers = [f"--min-worker-port={first}",
                   f"--max-worker-port={first + WORKER_PORTS_PER_NODE - 1}"]  # fmt: skip
        command = [RAY, "start", "--block", "--disable-usage-stats", *ports, *sockets, *workers,
                   f"--object-store-memory={OBJECT_STORE_BYTES}", *args]  # fmt: skip
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return RayNode(name, process)

    def start_head(self) -> None:
        host, port = self.address.split(":")
        self.head = self._start("head", ["--head", f"--node-ip-address={host}", f"--port={port}",
                                         "--num-cpus=0", "--include-dashboard=false"])  # fmt: skip

    def add_worker(self, name: str, cpus: int) -> RayNode:
        resources = json.dumps({name: 1})
        self.workers.pop(name, None)  # a node started again keeps its range of worker ports
        node = self._start(name, [f"--address={self.address}", "--node-ip-address=127.0.0.1",
                                  f"--num-cpus={cpus}", f"--resources={resources}"])  # fmt: skip
        self.workers[name] = node
        return node

    def start_worker(self, name: str, cpus: int) -> RayNode:
        """Add a worker and wait for it, starting it again if ``ray start`` gave up.

        Ray allows a raylet 30 s to register with the head, a fixed limit that a loaded
        2-core host can exceed; the workers start one at a time for the same reason.
        """
        attempts_left = START_ATTEMPTS
        while True:
            node = self.add_worker(name, cpus)
            try:
                self.wait_for(node)
                return node
            except NodeExited:
                node.stop()
                attempts_left -= 1
                if attempts_left == 0:
                    raise

    def wait_for(self, *nodes: RayNode) -> None:
        """Wait until each node has registered with the head (``ray start`` then says it
        blocks) without becoming a Ray driver here."""
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = list(nodes)
        while waiting and time.monotonic() < deadline:
            for node in list(waiting):
                if node.process.poll() is not None:
                    raise NodeExited(f"ray node {node.name} exited; see {self.log_dir}")
                if READY_LINE in (self.log_dir / f"ray-{node.name}.log").read_bytes():
                    waiting.remove(node)
            time.sleep(0.2)
        if waiting:
            raise RuntimeError(f"ray nodes {[n.name for n in waiting]} did not start in time")

    def stop(self) -> None:
        for node in [*self.workers.values(), self.head]:
            if node is not None:
                node.stop()


class RayDriver:
    """This test process as a Ray driver: which worker node holds a cluster's actor."""

    def __init__(self, address: str) -> None:
        import ray

        from hanami.server.runtime.ray_executor import NAMESPACE, RayExecutor

        self.ray = ray
        self.namespace = NAMESPACE
        self.actor_name = RayExecutor.actor_name
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                 logging_level="ERROR")  # fmt: skip

    def actor(self, cluster_uuid: str) -> Any:
        return self.ray.get_actor(self.actor_name(cluster_uuid), namespace=self.namespace)

    def node_of(self, cluster_uuid: str) -> str:
        """The custom resource (``node_a``/``node_b``) of the node running the actor."""
        node_id = self.ray.get(self.actor(cluster_uuid).node_id.remote(), timeout=30)
        node = next(n for n in self.ray.nodes() if n["NodeID"] == node_id)
        return next(name for name in WORKERS if name in node["Resources"])

    def samples_trained(self, cluster_uuid: str) -> int:
        info = self.ray.get(self.actor(cluster_uuid).info.remote(), timeout=30)
        return int(info.metrics["samples_trained"])


@contextlib.contextmanager
def ray_cluster(log_dir: Path, workers: dict[str, int]) -> Iterator[RayCluster]:
    """A head and the ``workers`` (name -> CPUs) on 127.0.0.1; all stopped at the end."""
    env = {**os.environ, **FAST_FAILURE_DETECTION, "RAY_USAGE_STATS_ENABLED": "0"}
    socket_dir = Path(tempfile.mkdtemp(prefix="hanami-ray-"))
    cluster = RayCluster(f"127.0.0.1:{_free_port()}", log_dir, env, socket_dir)
    try:
        cluster.start_head()
        assert cluster.head is not None
        cluster.wait_for(cluster.head)  # a worker started before the head is up gives up
        for name, cpus in workers.items():
            cluster.start_worker(name, cpus)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)

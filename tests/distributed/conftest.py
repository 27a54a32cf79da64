"""Fixtures for the tests on a real Ray cluster (a head and two worker nodes on loopback).

``ray_nodes`` starts the Ray cluster once per module (``ray_cluster.py``); ``ray_server`` is
the real service (``python -m hanami.server``) with ``HANAMI_EXECUTOR=ray`` on it, and
``ray_driver`` asks Ray where each cluster's actor runs (``RayDriver``); ``ray_replicas`` is
two such services, API replicas ``a`` and ``b`` on one PostgreSQL database (the suite's
private server, ``postgres_url``) and one data folder. The service
fixtures, the MNIST subset and the end-to-end workflow come from ``tests/e2e`` and
``tests/server``, loaded through the e2e conftest's ``load_module`` (see there why their
folders stay off ``sys.path``). Test modules here import from ``ray_cluster`` only:
``conftest`` is a module name every test folder has.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest
from ray_cluster import WORKERS, RayCluster, RayDriver, ray_cluster

E2E = Path(__file__).resolve().parent.parent / "e2e"


def _e2e_conftest() -> ModuleType:
    """The e2e conftest (it needs ``e2e_data`` importable by name first)."""
    for name, path in (("e2e_data", E2E / "e2e_data.py"),
                       ("_hanami_e2e_conftest", E2E / "conftest.py")):  # fmt: skip
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            sys.modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[name])
    return sys.modules["_hanami_e2e_conftest"]


e2e = _e2e_conftest()
e2e.load_module("original_sdk", E2E / "original_sdk.py")
server_process = sys.modules["server_process"]
new_database = sys.modules["postgres"].new_database
mnist = e2e.mnist
postgres_url = e2e.postgres_url
RunningServer = e2e.RunningServer
helpers = sys.modules["server_helpers"]

AUTOSAVE_S = 1
REPLICA_LEASE_S = 3


@pytest.fixture(scope="module")
def e2e_workflow() -> ModuleType:
    """``tests/e2e/test_e2e_workflow.py``, whose workflow functions the tests here call."""
    return e2e.load_module("_hanami_e2e_workflow", E2E / "test_e2e_workflow.py")


@pytest.fixture(scope="module")
def ray_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    with ray_cluster(tmp_path_factory.mktemp("ray"), WORKERS) as cluster:
        yield cluster


def _ray_env(ray_nodes: RayCluster, database_url: str | None = None,
             **extra: str) -> dict[str, str]:  # fmt: skip
    return server_process.server_env(
        admin_id=helpers.ADMIN_ID,
        admin_name=helpers.ADMIN_NAME,
        admin_passphrase=helpers.ADMIN_PASSPHRASE,
        token_key=helpers.TOKEN_KEY,
        database_url=database_url,
        extra={
            "HANAMI_EXECUTOR": "ray",
            "HANAMI_RAY_ADDRESS": ray_nodes.address,
            "HANAMI_CLUSTER_AUTOSAVE_INTERVAL": str(AUTOSAVE_S),
            **extra,
        },
    )


@pytest.fixture(scope="module")
def ray_server(
    ray_nodes: RayCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The service on the Ray cluster; autosaves every second (the fault test's checkpoint)."""
    data_dir = tmp_path_factory.mktemp("server-ray")
    port = server_process.free_port()
    proc = server_process.start_server(data_dir, port, _ray_env(ray_nodes), timeout=120)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{port}", backend="sqlite+ray",
                            data_dir=data_dir, log_file=data_dir / "server.log")  # fmt: skip
    finally:
        server_process.stop_server(proc)


class RayServers:
    """Services on the Ray cluster that a test starts and kills itself (``start``); those
    still running at the end are stopped."""

    def __init__(self, nodes: RayCluster) -> None:
        self.nodes = nodes
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, data_dir: Path, **extra: str) -> tuple[subprocess.Popen[bytes], RunningServer]:
        """A service on ``data_dir`` (its log appended to ``server.log`` there)."""
        port = server_process.free_port()
        proc = server_process.start_server(data_dir, port, _ray_env(self.nodes, **extra),
                                           append_log=True, timeout=120)  # fmt: skip
        self.procs.append(proc)
        return proc, RunningServer(url=f"http://127.0.0.1:{port}", backend="sqlite+ray",
                                   data_dir=data_dir, log_file=data_dir / "server.log")  # fmt: skip


@pytest.fixture
def ray_servers(ray_nodes: RayCluster) -> Iterator[RayServers]:
    servers = RayServers(ray_nodes)
    try:
        yield servers
    finally:
        for proc in servers.procs:
            if proc.poll() is None:
                server_process.stop_server(proc)


class RayReplicas(NamedTuple):
    a: RunningServer
    b: RunningServer
    database_url: str


@pytest.fixture(scope="module")
def ray_replicas(
    ray_nodes: RayCluster, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RayReplicas]:
    """Replicas ``a`` and ``b`` on the Ray cluster, one database, one data folder (and log)."""
    data_dir = tmp_path_factory.mktemp("replicas-ray")
    database_url = new_database(postgres_url)
    replicas: dict[str, RunningServer] = {}
    procs = []
    try:
        for name in ("a", "b"):
            env = _ray_env(ray_nodes, database_url, HANAMI_REPLICA_ID=name,
                           HANAMI_TASK_LEASE_S=str(REPLICA_LEASE_S))  # fmt: skip
            port = server_process.free_port()
            procs.append(server_process.start_server(data_dir, port, env, append_log=True,
                                                     timeout=120))  # fmt: skip
            replicas[name] = RunningServer(url=f"http://127.0.0.1:{port}",
                                           backend="postgresql+ray", data_dir=data_dir,
                                           log_file=data_dir / "server.log")  # fmt: skip
        yield RayReplicas(replicas["a"], replicas["b"], database_url)
    finally:
        for proc in procs:
            server_process.stop_server(proc)


@pytest.fixture(scope="module")
def ray_driver(ray_nodes: RayCluster) -> Iterator[RayDriver]:
    ray = pytest.importorskip("ray")
    driver = RayDriver(ray_nodes.address)
    try:
        yield driver
    finally:
        ray.shutdown()

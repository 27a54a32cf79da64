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
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sdk_server import (
    ADMIN_ID,
    ADMIN_PASSPHRASE,
    MEMBER_PASSPHRASE,
    TEMPLATE,
    Connect,
    RunningServer,
    running_server,
    unique,
)

from hanami.sdk import AsyncHanamiClient, DirectSession, HanamiClient, HanamiError
from hanami.sdk._resource import Resource


class Awaiting:
    """An :class:`AsyncHanamiClient` (or one of its resources) with blocking methods: each
    call's coroutine runs to completion on ``loop``, an event loop in a thread of its own
    (so a test may call the client from its own ``asyncio.run`` as well)."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, Resource):
            return Awaiting(value, self._loop)
        if not callable(value) or inspect.isclass(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            if isinstance(result, DirectSession):
                return OnLoop(result, self._loop)
            if inspect.isawaitable(result):
                return asyncio.run_coroutine_threadsafe(result, self._loop).result()
            return result

        return call

    def __enter__(self) -> Awaiting:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._target.aclose(), self._loop).result()


class OnLoop:
    """A direct session of the async client, used from another event loop: its coroutines
    run on the client's loop (where its connections live) and are awaited from here."""

    def __init__(self, session: DirectSession, loop: asyncio.AbstractEventLoop) -> None:
        self._session = session
        self._loop = loop

    def _there(self, coroutine: Any) -> Any:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._session, name)
        if not inspect.iscoroutinefunction(value):
            return value
        return lambda *args, **kwargs: self._there(value(*args, **kwargs))

    async def __aenter__(self) -> OnLoop:
        await self._there(self._session.open())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._there(self._session.__aexit__(*exc_info))


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, for the async clients."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sdk-test-loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sdk-server")) as running:
        yield running


@pytest.fixture(scope="session", params=["sync", "async"])
def connect(
    request: pytest.FixtureRequest, event_loop_thread: asyncio.AbstractEventLoop
) -> Connect:
    def make(address: str, **options: Any) -> Any:
        if request.param == "sync":
            return HanamiClient(address, **options)
        return Awaiting(AsyncHanamiClient(address, **options), event_loop_thread)

    return make


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

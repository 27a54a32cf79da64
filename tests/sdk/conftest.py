"""Fixtures for the SDK tests: one real server per session, clients logged in as admin and
as a member of a fresh project."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

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

from hanami.sdk import HanamiClient, HanamiError


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sdk-server")) as running:
        yield running


@pytest.fixture(scope="session")
def admin(server: RunningServer) -> Iterator[HanamiClient]:
    with HanamiClient(server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        yield client


@dataclass
class Member:
    id: str
    project_id: str
    passphrase: str
    client: HanamiClient


@pytest.fixture
def make_member(server: RunningServer, admin: HanamiClient) -> Iterator[Callable[..., Member]]:
    clients: list[HanamiClient] = []

    def make(role: str = "member", is_project_admin: bool = False) -> Member:
        user_id, project_id = unique("user"), unique("proj")
        admin.projects.create(project_id, "Member Project")
        admin.users.create(user_id, "Member User", MEMBER_PASSPHRASE)
        admin.users.add_project(user_id, project_id, role=role, is_project_admin=is_project_admin)
        client = HanamiClient(server.url, user=user_id, passphrase=MEMBER_PASSPHRASE)
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

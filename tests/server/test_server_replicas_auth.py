"""Two servers on one database: an access change made on one is refused there at once and
on the other within a second, although both keep verified tokens in memory
(:mod:`hanami.server.security.principals`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from postgres import new_database
from server_helpers import (
    ADMIN_ID,
    ADMIN_NAME,
    ADMIN_PASSPHRASE,
    MEMBER_PASSPHRASE,
    TOKEN_KEY,
    Api,
    b64,
    login,
    unique,
)
from server_process import server_env, serving

DEADLINE = 1.0
"""Seconds within which the other server must refuse a revoked credential."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp(f"replicas-{request.param}")
    if request.param == "postgresql":
        database_url = new_database(request.getfixturevalue("postgres_url"))
    else:
        database_url = f"sqlite:///{folder / 'first' / 'hanami.db'}"
    env = server_env(admin_id=ADMIN_ID, admin_name=ADMIN_NAME, admin_passphrase=ADMIN_PASSPHRASE,
                     token_key=TOKEN_KEY, database_url=database_url)  # fmt: skip
    (folder / "first").mkdir()
    (folder / "second").mkdir()
    with serving(folder / "first", env) as first, serving(folder / "second", env) as second:
        yield first, second


def _member(admin: Api, http: httpx.Client) -> tuple[str, str, Api]:
    """A new member of a new project: (user id, project id, its API on ``http``)."""
    user_id, project_id = unique("user"), unique("proj")
    assert admin.post("project", {"id": project_id, "name": "Project"}).status_code == 200
    body = {"id": user_id, "name": "Member", "passphrase": b64(MEMBER_PASSPHRASE),
            "is_admin": False}  # fmt: skip
    assert admin.post("user", body).status_code == 200
    assignment = {"id": user_id, "project_id": project_id, "role": "member",
                  "is_project_admin": False}  # fmt: skip
    assert admin.post("user/project", assignment).status_code == 200
    return user_id, project_id, Api(http, login(http, user_id, MEMBER_PASSPHRASE))


def _refused_within(api: Api, seconds: float) -> None:
    """Wait until ``api`` is refused (GET user/project answers 401 or 403); fails the test
    if a request sent more than ``seconds`` after the call was not. (Until then the other
    server may still know the token: its request then goes on, and may find its user gone.)
    """
    start = time.monotonic()
    while True:
        sent = time.monotonic() - start
        response = api.get("user/project")
        if response.status_code in (401, 403):
            return
        assert sent <= seconds, f"{response.status_code} {sent:.2f} s after the change"
        time.sleep(0.02)


def _revoke(change: str, admin: Api, user_id: str, project_id: str, token_id: str) -> None:
    if change == "delete_user":
        assert admin.delete("user", id=user_id).status_code == 200
    elif change == "unassign":
        assert admin.delete("user/project", id=user_id, project_id=project_id).status_code == 200
    elif change == "role":  # the assignment replaced by one with a role the policy locks out
        assert admin.delete("user/project", id=user_id, project_id=project_id).status_code == 200
        body = {"id": user_id, "project_id": project_id, "role": "tester",
                "is_project_admin": False}  # fmt: skip
        assert admin.post("user/project", body).status_code == 200
    else:
        assert admin.delete("api_token", id=token_id).status_code == 200


@pytest.mark.parametrize("change", ["delete_user", "unassign", "role", "api_token"])
def test_access_changes_reach_the_other_server_within_a_second(
    two_servers: tuple[str, str], change: str
) -> None:
    first_url, second_url = two_servers
    with httpx.Client(base_url=first_url, timeout=30) as first, \
            httpx.Client(base_url=second_url, timeout=30) as second:  # fmt: skip
        admin = Api(first, login(first, ADMIN_ID, ADMIN_PASSPHRASE))
        user_id, project_id, member = _member(admin, first)
        response = member.post("api_token", {"name": "ci token"})
        assert response.status_code == 200, response.text
        created = response.json()
        credential = created["token"] if change == "api_token" else member.token
        here, there = Api(first, credential), Api(second, credential)
        for api in (here, there, here, there):  # verified, then answered from memory
            response = api.get("user/project")
            assert response.status_code == 200, response.text
        _revoke(change, admin, user_id, project_id, created["id"])
        _refused_within(here, 0.0)  # where the change was made: the next request
        _refused_within(there, DEADLINE)

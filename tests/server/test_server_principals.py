"""The principal cache: what it keeps, and every way an access change reaches it.

Two :class:`PrincipalCache` objects on two engines over one SQLite file stand for two
servers sharing a database; ``poll()`` is called by hand where the poller thread would.
The same across real server processes: ``test_server_replicas_auth.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hanami.protocol.timestamps import utcnow
from hanami.server.db import ApiToken, AuthState, Database, Project, User, UserProjectRole, upgrade
from hanami.server.errors import Unauthorized
from hanami.server.security.credentials import create_access_token, new_api_token
from hanami.server.security.principals import MAX_STALENESS, PrincipalCache

KEY = b"principal-cache-test-key-" + b"k" * 20


class Replica:
    """A database engine with its cache, as one server has them."""

    def __init__(self, url: str) -> None:
        self.database = Database(url)
        self.cache = PrincipalCache(self.database, KEY)
        self.cache.track(self.database.sessionmaker)

    def resolve(self, token: str) -> object:
        """The database path: authenticate and keep the answer."""
        with self.database.session() as session:
            principal = self.cache.authenticate(session, token)
            session.commit()
        return principal


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    url = f"sqlite:///{tmp_path}/shared.db"
    first, second = Replica(url), Replica(url)
    upgrade(first.database)
    with first.database.session() as session:
        session.add(Project(id="p1", name="P1", creator_id="root"))
        session.add(User(id="alice", name="Alice", is_admin=False, creator_id="root",
                         password_hash="-", security_stamp="s1"))  # fmt: skip
        session.add(UserProjectRole(user_id="alice", project_id="p1", role="member"))
        session.commit()
    for replica in (first, second):
        replica.cache.poll()
    yield first, second
    first.database.dispose()
    second.database.dispose()


def _token(stamp: str = "s1", expires_in: int = 3600) -> str:
    user = {"id": "alice", "name": "Alice", "is_admin": False, "creator_id": "root",
            "created_at": "-"}  # fmt: skip
    return create_access_token(KEY, user=user, project_id="p1", role="member",
                               is_project_admin=False, security_stamp=stamp,
                               expires_in=expires_in)  # fmt: skip


def _generation(replica: Replica) -> int:
    with replica.database.session() as session:
        return session.scalar(select(AuthState.generation))


def test_a_verified_token_is_answered_from_memory(replicas):
    first, _ = replicas
    token = _token()
    assert first.cache.get(token) is None
    principal = first.resolve(token)
    assert (principal.user_id, principal.project_id, principal.role) == ("alice", "p1", "member")
    assert first.cache.get(token) == principal
    assert first.cache.get(_token(stamp="other")) is None  # only the very token


def test_rejected_tokens_are_not_kept(replicas):
    first, _ = replicas
    token = _token(stamp="stale")
    with pytest.raises(Unauthorized):
        first.resolve(token)
    assert first.cache.get(token) is None


@pytest.mark.parametrize("change", ["password", "delete_user", "unassign", "role", "project"])
def test_access_changes_apply_at_once_here_and_after_one_poll_elsewhere(replicas, change):
    first, second = replicas
    token = _token()
    first.resolve(token)
    second.resolve(token)
    before = _generation(first)
    with first.database.session() as session:
        user = session.get(User, "alice")
        assignment = session.scalar(select(UserProjectRole))
        if change == "password":
            user.security_stamp = "s2"
        elif change == "delete_user":
            session.delete(user)
        elif change == "unassign":
            session.delete(assignment)
        elif change == "role":
            assignment.role = "viewer"
        else:
            session.delete(session.get(Project, "p1"))
        session.commit()
    assert _generation(first) == before + 1
    assert first.cache.get(token) is None  # the server that made the change: at once
    assert second.cache.get(token) is not None  # another one: at its next poll
    second.cache.poll()
    assert second.cache.get(token) is None
    if change == "role":
        assert second.resolve(token).role == "viewer"
    else:
        with pytest.raises(Unauthorized):
            second.resolve(token)


def test_revoked_api_token_and_bookkeeping(replicas):
    first, second = replicas
    token, digest = new_api_token()
    with first.database.session() as session:
        session.add(ApiToken(id="t1", user_id="alice", project_id="p1", name="ci",
                             token_hash=digest, token_prefix=token[:8]))  # fmt: skip
        session.commit()
    first.cache.poll()
    second.cache.poll()
    generation = _generation(first)
    assert second.resolve(token).api_token_id == "t1"  # also writes last_used_at ...
    assert _generation(first) == generation  # ... which changes nobody's access
    assert second.cache.get(token) is not None
    with first.database.session() as session:
        session.delete(session.scalar(select(ApiToken).where(ApiToken.token_hash == digest)))
        session.commit()
    second.cache.poll()
    assert second.cache.get(token) is None
    with pytest.raises(Unauthorized):
        second.resolve(token)


def test_entries_end_with_their_token(replicas):
    first, _ = replicas
    jwt_token = _token(expires_in=2)
    api_token, digest = new_api_token()
    with first.database.session() as session:
        session.add(ApiToken(id="t2", user_id="alice", project_id="p1", name="short",
                             token_hash=digest, token_prefix=api_token[:8],
                             expires_at=utcnow() + timedelta(seconds=2)))  # fmt: skip
        session.commit()
    first.cache.poll()
    for token in (jwt_token, api_token):
        first.resolve(token)
        assert first.cache.get(token) is not None
    time.sleep(2.1)
    first.cache.poll()
    for token in (jwt_token, api_token):
        assert first.cache.get(token) is None
        with pytest.raises(Unauthorized, match="expired"):
            first.resolve(token)


def test_nothing_is_trusted_without_a_recent_poll(replicas):
    first, _ = replicas
    token = _token()
    first.resolve(token)
    assert first.cache.get(token) is not None
    time.sleep(MAX_STALENESS + 0.05)  # no poll since: another server may have changed access
    assert first.cache.get(token) is None
    first.cache.poll()
    assert first.cache.get(token) is not None


def test_the_poller_keeps_entries_fresh_and_stops(replicas):
    first, second = replicas
    token = _token()
    second.resolve(token)
    second.cache.start()
    try:
        time.sleep(MAX_STALENESS + 0.3)
        assert second.cache.get(token) is not None
        with first.database.session() as session:
            session.delete(session.get(User, "alice"))
            session.commit()
        time.sleep(1.0)
        assert second.cache.get(token) is None
    finally:
        second.cache.stop()

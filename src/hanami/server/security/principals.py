"""Verified credentials -> :class:`~hanami.server.security.auth.Principal`, kept in memory.

Authenticating from the database cost a query or two and a worker thread on every request,
about half of the server's CPU on a GET. :class:`PrincipalCache` keeps what
:func:`~hanami.server.security.auth.resolve` answered for a token, and forgets all of it
whenever the *auth generation* (the ``auth_state`` row) moves:

- every transaction that changes a user, a project, a project assignment or an API token
  bumps the row in that same transaction (:meth:`PrincipalCache.track`), and once it has
  committed this server's entries are dropped before the request that made the change
  answers: the change applies at once here;
- a thread reads the row every :data:`POLL_INTERVAL` seconds and drops everything when
  another server (or a process like ``hanami admin``) moved it. An entry is only used while
  the last poll that succeeded started less than :data:`MAX_STALENESS` ago, so a change made
  elsewhere applies here within a second, also when the poller stalls or the database is
  away (every request then goes to the database, and fails as it did before).

An entry also ends after :data:`TTL` seconds and never outlives its token. An API token's
``last_used_at`` is written by the database path, so it may lag its use by up to
:data:`TTL` more than the minute it is kept to.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from hanami.server.db.models import ApiToken, AuthState, Project, User, UserProjectRole
from hanami.server.db.session import Database
from hanami.server.security.auth import Principal, resolve

__all__ = ["MAX_STALENESS", "POLL_INTERVAL", "TTL", "PrincipalCache"]

logger = logging.getLogger("hanami.server")

POLL_INTERVAL = 0.5
MAX_STALENESS = 0.75
"""Seconds since the start of the last good poll after which entries are not used."""
TTL = 30.0
MAX_ENTRIES = 10_000
"""Tokens kept at most; the oldest entry goes first."""

_ACCESS_MODELS = (User, Project, UserProjectRole, ApiToken)
_BOOKKEEPING = frozenset({"last_used_at"})
"""Columns whose change does not change what anyone may do."""
_CHANGED = "hanami_auth_changed"
_GENERATION = AuthState.__table__


def _changes_access(session: Session) -> bool:
    """Whether the pending flush changes a row that authentication reads."""
    for obj in session.deleted:
        if isinstance(obj, _ACCESS_MODELS):
            return True
    for obj in session.dirty:
        if isinstance(obj, _ACCESS_MODELS):
            changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
            if changed - _BOOKKEEPING:
                return True
    return any(isinstance(obj, _ACCESS_MODELS) and not isinstance(obj, ApiToken)
               for obj in session.new)  # fmt: skip


class PrincipalCache:
    """Principals of recently verified tokens (see the module docstring)."""

    def __init__(self, database: Database, token_key: bytes) -> None:
        self.database = database
        self.token_key = token_key
        self._entries: dict[str, tuple[Principal, int, float]] = {}
        self._epoch = 0
        """Moves whenever the entries made before may be stale; entries carry the epoch that
        held when their database read began."""
        self._lock = threading.Lock()
        self._seen: int | None = None
        self._polled_at = -float("inf")
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # ---------------------------------------------------------------- requests

    def get(self, token: str) -> Principal | None:
        """The principal of ``token`` if it is known and still trusted (no I/O)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, epoch, until = entry
        now = time.monotonic()
        if epoch != self._epoch or now >= until or now - self._polled_at >= MAX_STALENESS:
            return None
        return principal

    def authenticate(self, session: Session, token: str) -> Principal:
        """Resolve ``token`` from the database (raises ``Unauthorized``) and keep the answer."""
        epoch = self._epoch
        principal, expires_at = resolve(session, self.token_key, token)
        until = time.monotonic() + TTL
        if expires_at is not None:
            until = min(until, time.monotonic() + expires_at - time.time())
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[token] = (principal, epoch, until)
        return principal

    def invalidate(self) -> None:
        """Forget every entry (an access change was committed or seen)."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()

    # ---------------------------------------------------------------- writers

    def track(self, sessions: Any) -> None:
        """Hook into ``sessions`` (a sessionmaker): bump the generation with every access
        change, and invalidate once such a transaction committed."""
        event.listen(sessions, "before_flush", self._before_flush)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", self._after_rollback)

    @staticmethod
    def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
        if not session.info.get(_CHANGED) and _changes_access(session):
            session.info[_CHANGED] = True
            session.connection().execute(
                update(_GENERATION)
                .where(_GENERATION.c.id == 1)
                .values(generation=_GENERATION.c.generation + 1)
            )

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            self.invalidate()

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(_CHANGED, None)

    # ---------------------------------------------------------------- other servers

    def poll(self) -> None:
        """Read the generation once; invalidate if it moved."""
        started = time.monotonic()
        with self.database.read() as connection:  # one statement, no BEGIN and ROLLBACK
            generation = connection.execute(
                select(_GENERATION.c.generation).where(_GENERATION.c.id == 1)
            ).scalar()
        if generation != self._seen:
            self.invalidate()
            self._seen = generation
        self._polled_at = started

    def start(self) -> None:
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll_loop, name="auth-poller", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        self.invalidate()

    def _poll_loop(self) -> None:
        failing = False
        while True:
            try:
                self.poll()
                failing = False
            except Exception:  # the database is away: entries age out (MAX_STALENESS)
                if not failing:
                    logger.exception("cannot read the auth generation; not caching principals")
                failing = True
            if self._stop.wait(POLL_INTERVAL):
                return

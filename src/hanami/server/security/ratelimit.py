"""Login limiter shared by every server process through the database (``login_attempts``).

Two sliding windows of attempts: per (user id, client address) and per client address.
Keying on the pair, not on the user id alone, keeps an attacker from locking a real user
out from everywhere; the per-address window stops one address from trying many users. The
address is the peer's (:mod:`hanami.server.security.proxies`), so a client cannot choose it, and an
IPv6 address counts for its whole /64, which one host usually holds.

An attempt is recorded when it starts, not when it has failed: parallel guesses would
otherwise all pass the check before the first failure is written. A successful login
removes its attempt and the earlier failures of the pair.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select

from hanami.server.db.models import LoginAttempt
from hanami.server.db.session import Database

__all__ = ["LoginRateLimiter", "LoginThrottled", "address_key"]


class LoginThrottled(Exception):
    """Too many attempts; ``retry_after`` seconds until the next one is allowed."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def address_key(address: str) -> str:
    """What the limiter counts per: the address, an IPv6 address as its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginRateLimiter:
    def __init__(
        self,
        database: Database,
        *,
        max_failures: int,
        max_failures_per_address: int,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window = window
        self._clock = clock

    def begin(self, user_id: str, address: str) -> None:
        """Record a login attempt, or raise :class:`LoginThrottled` (recording nothing)."""
        now, key = self._clock(), address_key(address)
        since = now - self.window
        with self.database.session() as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= since))
            attempt = LoginAttempt(address=key, user_id=user_id, attempted_at=now)
            session.add(attempt)
            session.commit()  # visible to the others before we count theirs
            rows = session.execute(
                select(LoginAttempt.id, LoginAttempt.user_id, LoginAttempt.attempted_at)
                .where(LoginAttempt.address == key, LoginAttempt.attempted_at > since)
                .order_by(LoginAttempt.attempted_at.desc())
                .limit(self.max_failures_per_address + 1)
            ).all()
            others = [row for row in rows if row.id != attempt.id]
            wait = self._wait(
                now,
                ([r.attempted_at for r in others if r.user_id == user_id], self.max_failures),
                ([r.attempted_at for r in others], self.max_failures_per_address),
            )
            if wait is None:
                return
            session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
            session.commit()
        raise LoginThrottled(wait)

    def _wait(self, now: float, *windows: tuple[Sequence[float], int]) -> int | None:
        """Seconds until every window (newest first, limit) has room, or ``None`` if all do."""
        waits = [
            times[limit - 1] + self.window - now for times, limit in windows if len(times) >= limit
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def succeeded(self, user_id: str, address: str) -> None:
        """Forget the attempts of this user from this address (after a successful login)."""
        key = address_key(address)
        with self.database.session() as session:
            session.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.address == key, LoginAttempt.user_id == user_id
                )
            )
            session.commit()

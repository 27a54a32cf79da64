"""Tokens: reading JWT claims, and the ``httpx.Auth`` flow that logs in and renews.

Both clients hand every authenticated request to :class:`HanamiAuth`. Its flow is I/O-free
(it yields requests and receives responses), so httpx runs it for ``Client`` and
``AsyncClient`` alike, and the clients run its login and renewal steps as operations.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx
import jwt

from hanami.protocol.models import (
    Token,
)
from hanami.sdk._exceptions import InvalidResponse, NotLoggedIn, StatusError, error_for_response
from hanami.sdk._wire import API_TOKEN_PREFIX, Call, parse_model

__all__ = ["HanamiAuth", "encode_passphrase", "token_claims", "token_project"]

AuthSteps = Generator[httpx.Request, httpx.Response, Token]
"""Login and renewal: requests to send (without auth), the responses back, a token at the end."""

STILL_VALID = 2.0
"""Seconds of validity a token needs to be renewed in place rather than by a new login."""
CLOCK_LEEWAY = 5.0
"""A 401 for a token this close to its ``exp`` counts as expiry (the server's clock may run
ahead of ours)."""


def encode_passphrase(passphrase: str) -> str:
    """The wire form of a passphrase: base64 of its UTF-8 bytes."""
    return base64.b64encode(passphrase.encode()).decode()


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, *not verified* (only the server holds the key): ``sub``, ``exp``,
    the project, ... An API token (``hnm_...``) or anything else that is not a JWT has none:
    ``{}``."""
    if token.startswith(API_TOKEN_PREFIX):
        return {}
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def token_project(claims: Mapping[str, Any]) -> str | None:
    """The project a JWT is scoped to (ours: ``pid``; the original: inside ``user``)."""
    if isinstance(claims.get("pid"), str):
        return claims["pid"]
    user = claims.get("user")
    if isinstance(user, str):
        try:
            user = json.loads(user)
        except ValueError:
            return None
    if isinstance(user, dict) and isinstance(user.get("project_id"), str):
        return user["project_id"]
    return None


def token_expiry(token: str | None) -> float | None:
    """The ``exp`` of a JWT as a Unix time (``None`` for an API token or no token)."""
    exp = token_claims(token).get("exp") if token else None
    return float(exp) if isinstance(exp, int | float) else None


class HanamiAuth(httpx.Auth):
    """Sends ``X-Auth-Token``; logs in first when there is no token, renews one that expires
    within ``renew_margin`` seconds, and when the server answers 401 because the token has
    expired (its own ``exp`` has passed), logs in again and retries the request once.

    Expiry is read from the token's claims, never from the text of the answer: the server's
    401 (plain text, or ``{"error", "status"}`` as JSON) does not say *why* it refused.

    Args:
        build: turns a :class:`Call` into a request of the owning client (base URL, headers).
        user, passphrase: credentials for ``POST /token``; without them an expired token is
            final.
        token: a JWT or an ``hnm_`` API token to start with.
        project_id: switch to this project after every login (``PUT /token``).
        renew_margin: seconds before expiry at which a JWT is renewed.
        on_token: called with every new token (the CLI persists it).
    """

    def __init__(
        self,
        build: Callable[[Call], httpx.Request],
        *,
        user: str | None = None,
        passphrase: str | None = None,
        token: str | None = None,
        project_id: str | None = None,
        renew_margin: float = 60.0,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        if (user is None) != (passphrase is None):
            raise ValueError("give both user and passphrase, or neither")
        self._build = build
        self.user = user
        self._passphrase = passphrase
        self.token = token
        self._project_id = project_id
        self.renew_margin = renew_margin
        self.on_token = on_token
        self.login_info: Token | None = None

    # ------------------------------------------------------------------------------ state

    @property
    def can_login(self) -> bool:
        return self.user is not None and self._passphrase is not None

    @property
    def project_id(self) -> str | None:
        """The project of the current JWT, else the one asked for (``None`` if unknown)."""
        return token_project(token_claims(self.token or "")) or self._project_id

    @property
    def expires_at(self) -> float | None:
        return token_expiry(self.token)

    # ------------------------------------------------------------------------ httpx flow

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self.ensure(self.renew_margin)
        sent = self._sign(request)
        response = yield request
        if response.status_code == 401 and self.can_login and _has_expired(sent):
            yield from self.login()
            self._sign(request)
            yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self.auth_flow(request)
        next_request = next(flow)
        while True:
            response = yield next_request
            if _needs_body(response, request):
                response.read()
            try:
                next_request = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request) -> Any:  # AsyncGenerator
        flow = self.auth_flow(request)
        next_request = next(flow)
        while True:
            response = yield next_request
            if _needs_body(response, request):
                await response.aread()
            try:
                next_request = flow.send(response)
            except StopIteration:
                return

    def _sign(self, request: httpx.Request) -> str:
        assert self.token is not None
        request.headers["X-Auth-Token"] = self.token
        return self.token

    # ---------------------------------------------------------------------- login steps

    def ensure(self, min_validity: float) -> Generator[httpx.Request, httpx.Response, str]:
        """A token valid for ``min_validity`` more seconds: log in if there is none, renew
        (in place while still valid, else by a new login) if it expires sooner."""
        if self.token is None:
            yield from self.login()
        expires = self.expires_at
        if expires is not None and expires - time.time() < max(min_validity, 0.0):
            yield from self._renew_expiring(expires)
        assert self.token is not None
        return self.token

    def _renew_expiring(self, expires: float) -> Generator[httpx.Request, httpx.Response, None]:
        if expires - time.time() > STILL_VALID:  # renew in place, no passphrase needed
            try:
                yield from self.renew()
                return
            except (StatusError, NotLoggedIn, InvalidResponse):
                pass
        if self.can_login:
            yield from self.login()

    def login(self) -> AuthSteps:
        """``POST /token`` with the credentials; then switch to the chosen project."""
        if self.user is None or self._passphrase is None:
            raise NotLoggedIn("no credentials: pass user and passphrase, or a token")
        body = {"id": self.user, "passphrase": encode_passphrase(self._passphrase)}
        info = self._accept((yield self._build(Call("POST", "token", body=body, auth=False))))
        if self._project_id is not None and self.project_id != self._project_id:
            info = yield from self.switch_project(self._project_id)
        return info

    def switch_project(self, project_id: str) -> AuthSteps:
        """``PUT /token``: a token scoped to ``project_id`` (kept across renewals)."""
        info = yield from self._put_token(project_id)
        self._project_id = project_id
        return info

    def renew(self) -> AuthSteps:
        """``PUT /token`` for the current project: the same session with a new expiry."""
        project = self.project_id
        if project is None:
            raise NotLoggedIn("the current token names no project; log in again")
        return (yield from self._put_token(project))

    def _put_token(self, project_id: str) -> AuthSteps:
        if self.token is None:
            yield from self.login()
        assert self.token is not None
        call = Call(
            "PUT",
            "token",
            body={"project_id": project_id},
            headers={"X-Auth-Token": self.token},
            auth=False,
        )
        return self._accept((yield self._build(call)))

    def _accept(self, response: httpx.Response) -> Token:
        if response.status_code >= 400:
            raise error_for_response(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise InvalidResponse(
                f"the token answer is not JSON ({response.text[:80]!r})", response=response
            ) from exc
        info = parse_model(Token, data)
        self.login_info = info
        self.token = info.token
        if self.on_token is not None:
            self.on_token(info.token)
        return info


def _has_expired(token: str) -> bool:
    expires = token_expiry(token)
    return expires is not None and expires <= time.time() + CLOCK_LEEWAY


def _needs_body(response: httpx.Response, request: httpx.Request) -> bool:
    """Read the bodies the flow looks at (login answers, refusals), not streamed downloads."""
    return response.request is not request or response.status_code >= 400

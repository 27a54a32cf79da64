"""The synchronous client: HTTP plumbing, login and token renewal, resources as attributes."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from hanami import __version__
from hanami.protocol.models import Task, Token
from hanami.sdk._exceptions import (
    InvalidResponse,
    NotLoggedIn,
    StatusError,
    TaskFailed,
    TransportError,
    WaitTimeout,
    error_for_response,
)
from hanami.sdk._resources import (
    ApiTokens,
    Checkpoints,
    Clusters,
    Datasets,
    Hosts,
    Logs,
    Projects,
    System,
    Tasks,
    Users,
)

if TYPE_CHECKING:
    from hanami.sdk._direct import DirectSession

__all__ = ["API_PREFIX", "DEFAULT_ADDRESS", "HanamiClient"]

DEFAULT_ADDRESS = "http://127.0.0.1:11418"
API_PREFIX = "v1.0alpha"
API_TOKEN_PREFIX = "hnm_"

M = TypeVar("M", bound=BaseModel)


def encode_passphrase(passphrase: str) -> str:
    """The wire form of a passphrase: base64 of its UTF-8 bytes."""
    return base64.b64encode(passphrase.encode()).decode()


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, *unverified* (only used to read ``exp`` and the project)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
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


def websocket_url(address: str) -> str:
    """``ws://host:port/`` for ``http://host:port/...`` (the server ignores the path)."""
    parts = urlsplit(address)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/"


class HanamiClient:
    """A client for one Hanami (or OpenHanami) server.

    Log in with credentials (the client logs in on first use and again whenever its token is
    about to expire) or pass a token (a JWT or an ``hnm_...`` API token)::

        with HanamiClient("http://127.0.0.1:11418", user="asdf", passphrase="asdfasdf") as c:
            project = c.projects.create("demo_project", "Demo project")
            for row in c.projects.list():
                print(row.id, row.name)

    Resources are attributes: ``users``, ``projects``, ``clusters``, ``tasks``, ``datasets``,
    ``checkpoints``, ``hosts``, ``logs``, ``system`` and ``api_tokens``. Errors raise the
    subclasses of :class:`~hanami.sdk.HanamiError` (see :mod:`hanami.sdk`).

    Args:
        address: base URL of the server (``http(s)://host:port``).
        user, passphrase: credentials for ``POST /token`` (the passphrase in plain text; the
            client base64-encodes it as the protocol requires).
        token: an existing JWT or API token instead of credentials.
        project_id: switch to this project right after logging in (``PUT /token``).
        timeout: seconds for each HTTP request (``None``: no limit).
        verify: verify TLS certificates (``False`` for a self-signed proxy certificate).
        renew_margin: renew a JWT this many seconds before it expires.
        on_token: called with every new token (to persist it, as the CLI does).
        transport: an ``httpx`` transport (tests, proxies, ...).
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        user: str | None = None,
        passphrase: str | None = None,
        token: str | None = None,
        project_id: str | None = None,
        timeout: float | None = 30.0,
        verify: bool = True,
        renew_margin: float = 60.0,
        on_token: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if (user is None) != (passphrase is None):
            raise ValueError("give both user and passphrase, or neither")
        self.address = address.rstrip("/")
        self._user = user
        self._passphrase = passphrase
        self._token = token
        self._project_id = project_id
        self._renew_margin = renew_margin
        self._on_token = on_token
        self._lock = threading.RLock()
        self._openapi: dict[str, Any] | None = None
        self.timeout = timeout
        self.verify = verify
        self.login_info: Token | None = None
        self._http = httpx.Client(
            base_url=self.address + "/",
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={"User-Agent": f"hanami-sdk/{__version__}", **(headers or {})},
        )
        self.users = Users(self)
        self.projects = Projects(self)
        self.clusters = Clusters(self)
        self.tasks = Tasks(self)
        self.datasets = Datasets(self)
        self.checkpoints = Checkpoints(self)
        self.hosts = Hosts(self)
        self.logs = Logs(self)
        self.system = System(self)
        self.api_tokens = ApiTokens(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> HanamiClient:
        """A client configured like ``hanamictl``: ``HANAMI_ADDRESS``, and ``HANAMI_TOKEN`` or
        ``HANAMI_USER`` + ``HANAMI_PASSPHRASE`` (keyword arguments win)."""
        import os

        options: dict[str, Any] = {"address": os.environ.get("HANAMI_ADDRESS") or DEFAULT_ADDRESS}
        if os.environ.get("HANAMI_TOKEN"):
            options["token"] = os.environ["HANAMI_TOKEN"]
        elif os.environ.get("HANAMI_USER") or os.environ.get("HANAMI_PASSPHRASE"):
            options["user"] = os.environ.get("HANAMI_USER")
            options["passphrase"] = os.environ.get("HANAMI_PASSPHRASE")
        options.update(kwargs)
        address = options.pop("address")
        return cls(address, **options)

    # ----------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HanamiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HanamiClient {self.address} user={self._user or '-'}>"

    # --------------------------------------------------------------------------------- auth

    @property
    def token(self) -> str | None:
        """The current token (``None`` before the first login)."""
        return self._token

    @property
    def websocket_url(self) -> str:
        return websocket_url(self.address)

    @property
    def project_id(self) -> str | None:
        """The project the current token is scoped to (``None`` if unknown)."""
        if self._token and not self._token.startswith(API_TOKEN_PREFIX):
            return token_project(jwt_claims(self._token)) or self._project_id
        return self._project_id

    @property
    def token_expires_at(self) -> float | None:
        """Expiry of the current JWT as a Unix time (``None`` for API tokens or no token)."""
        if not self._token or self._token.startswith(API_TOKEN_PREFIX):
            return None
        exp = jwt_claims(self._token).get("exp")
        return float(exp) if isinstance(exp, int | float) else None

    def login(self) -> Token:
        """``POST /token`` with the stored credentials; then switch to ``project_id`` if set."""
        if self._user is None or self._passphrase is None:
            raise NotLoggedIn("no credentials: pass user and passphrase, or a token")
        with self._lock:
            data = self._send(
                "POST",
                "token",
                body={"id": self._user, "passphrase": encode_passphrase(self._passphrase)},
                auth=False,
            )
            info = self._parse(Token, data)
            self._set_token(info)
            if self._project_id is not None and self.project_id != self._project_id:
                info = self.switch_project(self._project_id)
            return info

    def switch_project(self, project_id: str) -> Token:
        """``PUT /token``: a fresh token scoped to ``project_id`` (kept across renewals)."""
        with self._lock:
            data = self._send("PUT", "token", body={"project_id": project_id}, renew=False)
            info = self._parse(Token, data)
            self._project_id = project_id
            self._set_token(info)
            return info

    def renew_token(self) -> Token:
        """``PUT /token`` for the current project: the same session with a new expiry."""
        project = self.project_id
        if project is None:
            raise NotLoggedIn("the current token names no project; log in again")
        with self._lock:
            data = self._send("PUT", "token", body={"project_id": project}, renew=False)
            info = self._parse(Token, data)
            self._set_token(info)
            return info

    def _set_token(self, info: Token) -> None:
        self.login_info = info
        self._token = info.token
        if self._on_token is not None:
            self._on_token(info.token)

    def _ensure_token(self, min_validity: float | None = None) -> str:
        """The token, after logging in or renewing it if it expires within ``min_validity``
        seconds (default: ``renew_margin``)."""
        margin = self._renew_margin if min_validity is None else max(min_validity, 0.0)
        with self._lock:
            if self._token is None:
                self.login()
            assert self._token is not None
            expires = self.token_expires_at
            if expires is not None and expires - time.time() < margin:
                self._renew_expiring(expires)
            return self._token

    def _renew_expiring(self, expires: float) -> None:
        if expires - time.time() > 2:  # still valid: renew in place, no passphrase needed
            try:
                self.renew_token()
                return
            except (StatusError, NotLoggedIn, InvalidResponse):
                pass
        if self._user is not None:
            self.login()

    def _has_credentials(self) -> bool:
        return self._user is not None and self._passphrase is not None

    # --------------------------------------------------------------------------------- HTTP

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        """Call ``/v1.0alpha/<path>`` and return the decoded JSON answer.

        GET/DELETE inputs go in ``params``; POST/PUT inputs in ``body`` (sent as JSON without
        a Content-Type, like the original SDKs). 4xx/5xx raise :class:`StatusError`
        subclasses; an expired token is renewed once.
        """
        return self._send(method, path, params=params, body=body, auth=auth)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
        renew: bool = True,
        raw: bool = False,
    ) -> Any:
        url = path if path.startswith("/") else f"{API_PREFIX}/{path}"
        query = _query(params)
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        for attempt in (1, 2):
            headers = {}
            if auth:
                token = self._ensure_token() if renew else self._token
                if token is None:
                    raise NotLoggedIn("not logged in")
                headers["X-Auth-Token"] = token
            response = self._exchange(method, url, query, content, headers)
            if (
                response.status_code == 401
                and auth
                and renew
                and attempt == 1
                and self._has_credentials()
                and "expired" in response.text.lower()
            ):
                self._token = None  # log in again, then retry once
                continue
            break
        if response.status_code >= 400:
            raise error_for_response(response)
        if raw:
            return response
        try:
            return response.json()
        except ValueError as exc:
            raise InvalidResponse(
                f"{method} {response.request.url.path}: the answer is not JSON "
                f"({response.text[:80]!r})",
                response=response,
            ) from exc

    def _exchange(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        content: bytes | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        try:
            return self._http.request(
                method, url, params=query or None, content=content, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"{self.address} did not answer {method} {url} in time ({exc})",
                request=exc.request,
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"cannot reach {self.address}: {exc or type(exc).__name__}", request=exc.request
            ) from exc

    def _parse(self, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidResponse(
                f"unexpected answer for {model.__name__}: {exc.errors()[0].get('msg', exc)} "
                f"({json.dumps(data)[:200]})"
            ) from exc

    # ------------------------------------------------------------------ outside /v1.0alpha

    def health(self) -> dict[str, Any]:
        """``GET /healthz`` (Hanami only): ``{"status": "ok"}`` while the process runs."""
        return self._send("GET", "/healthz", auth=False)

    def ready(self) -> bool:
        """``GET /readyz`` (Hanami only): start-up done and database reachable."""
        try:
            self._send("GET", "/readyz", auth=False)
        except StatusError:
            return False
        return True

    def metrics(self) -> str:
        """``GET /metrics`` (Hanami only): the Prometheus text exposition."""
        return self._send("GET", "/metrics", auth=False, raw=True).text

    def openapi(self) -> dict[str, Any]:
        """``GET /openapi.json`` (Hanami only), cached."""
        if self._openapi is None:
            self._openapi = self._send("GET", "/openapi.json", auth=False)
        return self._openapi

    # ------------------------------------------------------------------------------- tasks

    def wait(
        self,
        task: str | Task,
        *,
        cluster_uuid: str | None = None,
        progress: Callable[[Task], None] | None = None,
        timeout: float | None = None,
        interval: float = 0.5,
    ) -> Task:
        """Poll a task until it is ``finished``; returns its final state.

        ``task`` is a :class:`Task` from ``tasks.train``/``tasks.request`` or a task uuid
        (then ``cluster_uuid`` is needed unless this client created the task). ``progress``
        is called with every polled state. Raises :class:`TaskFailed` if the task ends
        ``failed``, ``cancelled`` or ``aborted``, and :class:`WaitTimeout` after ``timeout``
        seconds.
        """
        uuid = task.uuid if isinstance(task, Task) else task
        cluster = cluster_uuid or (task.cluster_uuid if isinstance(task, Task) else None)
        cluster = cluster or self.tasks.cluster_of(uuid)
        if cluster is None:
            raise ValueError(f"cluster_uuid is needed to wait for task {uuid}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.tasks.get(uuid, cluster)
            if progress is not None:
                progress(state)
            if state.state == "finished":
                return state
            if state.done:
                message = f"task {uuid} ended in state '{state.state}'"
                error = getattr(state, "error", None) or getattr(state, "error_message", None)
                raise TaskFailed(f"{message}: {error}" if error else message, task=state)
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"task {uuid} did not finish within {timeout:g} s "
                    f"({state.current_cycle}/{state.total_number_of_cycles} cycles, "
                    f"state '{state.state}')",
                    task=state,
                )
            pause = interval
            if deadline is not None:
                pause = max(0.0, min(interval, deadline - time.monotonic()))
            time.sleep(pause)

    # -------------------------------------------------------------------------- direct I/O

    def direct(
        self,
        cluster_uuid: str,
        *,
        inputs: str | list[str] | None = None,
        outputs: str | list[str] | None = None,
        switch_mode: bool = True,
        timeout: float | None = None,
        batched: bool | None = None,
        batch_size: int = 1024,
    ) -> DirectSession:
        """An async session that trains and queries a cluster over its websocket (§3.4).

        ::

            async with client.direct(cluster_uuid, inputs="in", outputs="out") as d:
                await d.train(x, y)
                y_hat = await d.request(x)

        ``inputs``/``outputs`` name the hexagons used when plain arrays are passed (Hanami
        tells the session; the original server does not). ``switch_mode`` switches the
        cluster to DIRECT on entry and back to TASK on exit. ``batched`` picks the protocol:
        ``None`` uses Hanami's batched frames when offered, ``False`` the original
        ping-pong, ``True`` requires batching; ``batch_size`` caps the rows per frame.
        ``timeout`` limits the wait for each answer (``None``: a step may take as long as
        it takes).
        """
        from hanami.sdk._direct import DirectSession

        return DirectSession(
            self,
            cluster_uuid,
            inputs=inputs,
            outputs=outputs,
            switch_mode=switch_mode,
            timeout=timeout,
            batched=batched,
            batch_size=batch_size,
        )


def _query(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not params:
        return []
    out = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((key, str(value)))
    return out

"""What both clients share: configuration, auth, resources, request building, error mapping,
and the operations of the client itself (login, health, ``wait``, ...).

Subclasses only say how an instruction of :mod:`hanami.sdk._wire` is carried out: blocking
(:class:`~hanami.sdk.HanamiClient`) or awaited (:class:`~hanami.sdk.AsyncHanamiClient`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import httpx

from hanami import __version__
from hanami.protocol.models import (
    Task,
    Token,
)
from hanami.sdk._auth import HanamiAuth
from hanami.sdk._exceptions import (
    InvalidResponse,
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
from hanami.sdk._wire import (
    API_PREFIX,
    DEFAULT_ADDRESS,
    Call,
    Moded,
    ModeT,
    Op,
    Sleep,
    operation,
    query,
    websocket_url,
)

if TYPE_CHECKING:
    from hanami.sdk._direct import DirectSession

__all__ = ["BaseClient"]

T = TypeVar("T")


class BaseClient(Moded[ModeT]):
    """A client for one Hanami (or OpenHanami) server; see :class:`~hanami.sdk.HanamiClient`
    for the arguments."""

    _http_class: ClassVar[type[httpx.Client] | type[httpx.AsyncClient]]

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
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._auth = HanamiAuth(
            self._build,
            user=user,
            passphrase=passphrase,
            token=token,
            project_id=project_id,
            renew_margin=renew_margin,
            on_token=on_token,
        )
        self.address = address.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self._openapi: dict[str, Any] | None = None
        self._http: Any = self._http_class(
            base_url=self.address + "/",
            timeout=timeout,
            verify=verify,
            transport=transport,  # type: ignore[arg-type]
            headers={"User-Agent": f"hanami-sdk/{__version__}", **(headers or {})},
        )
        self.users: Users[ModeT] = Users(self)
        self.projects: Projects[ModeT] = Projects(self)
        self.clusters: Clusters[ModeT] = Clusters(self)
        self.tasks: Tasks[ModeT] = Tasks(self)
        self.datasets: Datasets[ModeT] = Datasets(self)
        self.checkpoints: Checkpoints[ModeT] = Checkpoints(self)
        self.hosts: Hosts[ModeT] = Hosts(self)
        self.logs: Logs[ModeT] = Logs(self)
        self.system: System[ModeT] = System(self)
        self.api_tokens: ApiTokens[ModeT] = ApiTokens(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client configured like ``hanamictl``: ``HANAMI_ADDRESS``, and ``HANAMI_TOKEN`` or
        ``HANAMI_USER`` + ``HANAMI_PASSPHRASE`` (keyword arguments win)."""
        options: dict[str, Any] = {"address": os.environ.get("HANAMI_ADDRESS") or DEFAULT_ADDRESS}
        if os.environ.get("HANAMI_TOKEN"):
            options["token"] = os.environ["HANAMI_TOKEN"]
        elif os.environ.get("HANAMI_USER") or os.environ.get("HANAMI_PASSPHRASE"):
            options["user"] = os.environ.get("HANAMI_USER")
            options["passphrase"] = os.environ.get("HANAMI_PASSPHRASE")
        options.update(kwargs)
        address = options.pop("address")
        return cls(address, **options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address} user={self._auth.user or '-'}>"

    # ----------------------------------------------------------------------- running ops

    def _arun(self, op: Op[T]) -> Awaitable[T]:
        """Run ``op`` from asyncio code (the direct session), whichever client this is."""
        raise NotImplementedError

    def _build(self, call: Call) -> httpx.Request:
        url = call.path if call.path.startswith("/") else f"{API_PREFIX}/{call.path}"
        content: Any = call.content
        if call.body is not None:
            content = json.dumps(call.body, separators=(",", ":")).encode()
        elif isinstance(content, Iterator):
            content = self._stream(content)
        return self._http.build_request(
            call.method, url, params=query(call.params) or None, content=content,
            headers=call.headers,
        )  # fmt: skip

    def _stream(self, chunks: Iterator[bytes]) -> Any:
        """A streamed request body in the form this client's httpx sends."""
        return chunks

    def _send_options(self, call: Call) -> dict[str, Any]:
        return {"auth": self._auth if call.auth else None, "stream": call.sink is not None}

    @contextlib.contextmanager
    def _transport_errors(self, request: httpx.Request) -> Iterator[None]:
        """httpx's transport failures as :class:`TransportError` with a readable line."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"{self.address} did not answer {request.method} {request.url.path} in time "
                f"({exc})",
                request=request,
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"cannot reach {self.address}: {exc or type(exc).__name__}", request=request
            ) from exc

    @staticmethod
    def _result(call: Call, response: httpx.Response) -> Any:
        """Error mapping and decoding of an answer (its body already read unless streamed)."""
        if response.status_code >= 400:
            raise error_for_response(response)
        if call.raw or call.sink is not None:
            return response
        try:
            return response.json()
        except ValueError as exc:
            raise InvalidResponse(
                f"{call.method} {response.request.url.path}: the answer is not JSON "
                f"({response.text[:80]!r})",
                response=response,
            ) from exc

    # ------------------------------------------------------------------------------ auth

    @property
    def token(self) -> str | None:
        """The current token (``None`` before the first login)."""
        return self._auth.token

    @property
    def login_info(self) -> Token | None:
        """The answer of the last login or renewal."""
        return self._auth.login_info

    @property
    def project_id(self) -> str | None:
        """The project the current token is scoped to (``None`` if unknown)."""
        return self._auth.project_id

    @property
    def token_expires_at(self) -> float | None:
        """Expiry of the current JWT as a Unix time (``None`` for API tokens or no token)."""
        return self._auth.expires_at

    @property
    def websocket_url(self) -> str:
        return websocket_url(self.address)

    def _token_op(self, min_validity: float) -> Op[str]:
        """A token valid for at least ``min_validity`` seconds (websockets outlive requests)."""
        return (yield from self._auth.ensure(min_validity))

    @operation
    def login(self) -> Op[Token]:
        """``POST /token`` with the stored credentials; then switch to ``project_id`` if set."""
        return (yield from self._auth.login())

    @operation
    def switch_project(self, project_id: str) -> Op[Token]:
        """``PUT /token``: a fresh token scoped to ``project_id`` (kept across renewals)."""
        return (yield from self._auth.switch_project(project_id))

    @operation
    def renew_token(self) -> Op[Token]:
        """``PUT /token`` for the current project: the same session with a new expiry."""
        return (yield from self._auth.renew())

    # ------------------------------------------------------------------------------- HTTP

    @operation
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
    ) -> Op[Any]:
        """Call ``/v1.0alpha/<path>`` and return the decoded JSON answer.

        GET/DELETE inputs go in ``params``; POST/PUT inputs in ``body`` (sent as JSON without
        a Content-Type, like the original SDKs). 4xx/5xx raise :class:`StatusError`
        subclasses; an expired token is renewed once.
        """
        return (yield Call(method, path, params=params, body=body, auth=auth))

    @operation
    def health(self) -> Op[dict[str, Any]]:
        """``GET /healthz`` (Hanami only): ``{"status": "ok"}`` while the process runs."""
        return (yield Call("GET", "/healthz", auth=False))

    @operation
    def ready(self) -> Op[bool]:
        """``GET /readyz`` (Hanami only): start-up done and database reachable."""
        try:
            yield Call("GET", "/readyz", auth=False)
        except StatusError:
            return False
        return True

    @operation
    def metrics(self) -> Op[str]:
        """``GET /metrics`` (Hanami only): the Prometheus text exposition."""
        return (yield Call("GET", "/metrics", auth=False, raw=True)).text

    @operation
    def openapi(self) -> Op[dict[str, Any]]:
        """``GET /openapi.json`` (Hanami only), cached."""
        if self._openapi is None:
            self._openapi = yield Call("GET", "/openapi.json", auth=False)
        return self._openapi

    # ------------------------------------------------------------------------------ tasks

    @operation
    def wait(
        self,
        task: str | Task,
        *,
        cluster_uuid: str | None = None,
        progress: Callable[[Task], None] | None = None,
        timeout: float | None = None,
        interval: float = 0.5,
    ) -> Op[Task]:
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
            state = yield from Tasks.get.op(self.tasks, uuid, cluster)
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
            yield Sleep(pause)

    # ------------------------------------------------------------------------- direct I/O

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

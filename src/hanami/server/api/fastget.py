"""The hot path of GET requests: the same endpoints, without FastAPI's per-request machinery.

Routing through the included routers, solving a dozen dependencies, the worker thread of the
endpoint and another one for validating its result cost most of a GET's CPU once the caller
is known from memory (``docs/performance.md``). For a GET route whose parameters are all
the service's own dependencies (the caller, ``Payload[...]``, a session, the context, the
settings), :class:`FastGetMiddleware` answers the request itself when it is on the happy
path: the token is one the principal cache knows, the policy lets the role in, an
admin-only route has an admin, the input validates. It then calls the very endpoint with
the same arguments and validates and serialises its result with the route's response
model, all in one of its own worker threads; in the event loop for an ``async def``
endpoint, and for one that only reads rows (``inline``: on SQLite directly, on PostgreSQL
waiting for each statement in the loop, :mod:`hanami.server.db.loopreads`).

Everything else goes on to FastAPI unchanged and is answered as before: other methods and
routes, tokens the cache does not know (answering them fills it), refusals, invalid input.
An :class:`~hanami.server.errors.ApiError` raised by the endpoint is rendered by the same
function as FastAPI's handler; anything else reaches the error boundary as before.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import TypeAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from hanami.server.api.deps import (
    get_context,
    get_current_user,
    get_reader,
    get_session,
    get_settings,
    require_admin,
)
from hanami.server.api.inputs import InputParser
from hanami.server.context import AppContext
from hanami.server.db.reader import LoopReader, Reader
from hanami.server.errors import ApiError, api_error_response
from hanami.server.routing import iter_route_contexts
from hanami.server.security.auth import Principal

__all__ = ["FastGetMiddleware"]

WORKERS = 4
"""Worker threads of the hot path: on a small machine more only take turns at the GIL
(``docs/performance.md``, GET mix with 20 closed-loop clients)."""

_POOL = ThreadPoolExecutor(WORKERS, thread_name_prefix="HanamiGet")
"""The hot path's own threads, one pool per process: handing a call to an executor costs
less than anyio's ``to_thread`` (a capacity limiter, a cancel scope and a queue per call)."""

_KINDS: dict[Callable[..., Any], str] = {
    get_current_user: "user",
    require_admin: "admin",
    get_session: "session",
    get_reader: "reader",
    get_context: "ctx",
    get_settings: "settings",
}
_LOOP_KINDS = frozenset({"user", "admin", "input", "reader", "settings"})
"""Parameters of an endpoint that may run in the event loop, whose reads never stall it
(SQLite in WAL mode never waits for a writer; a database server's statements wait in the
loop); not an ORM session, which may write."""


@dataclass(frozen=True)
class _Plan:
    """How to call one GET endpoint: ``(name, kind, parser)`` per parameter."""

    route: Any
    key: str
    endpoint: Callable[..., Any]
    is_async: bool
    inline: bool
    """Called in the event loop: a plain ``def`` endpoint that only reads rows (a
    ``ReaderDep``, nothing that may wait on a cluster or another process)."""
    params: tuple[tuple[str, str, InputParser | None], ...]
    adapter: TypeAdapter[Any]
    status: int


def _plan(route: Any, loop_kinds: frozenset[str]) -> _Plan | None:
    """The plan of ``route``, or ``None`` where FastAPI must answer (not a protected JSON
    GET route, or a parameter this module does not provide). A plain ``def`` endpoint with
    a reader and only parameters of ``loop_kinds`` is ``inline``."""
    dependant = getattr(route, "dependant", None)
    response_model = getattr(route, "response_model", None)
    response_class = getattr(getattr(route, "response_class", None), "value", None)
    if (getattr(route, "methods", None) != {"GET"} or dependant is None
            or response_model is None or response_class is not JSONResponse
            or "{" in route.path_format):  # fmt: skip
        return None
    own = (dependant.path_params, dependant.query_params, dependant.header_params,
           dependant.cookie_params, dependant.body_params)  # fmt: skip
    if any(own) or dependant.request_param_name:
        return None
    params: list[tuple[str, str, InputParser | None]] = []
    authenticated = False
    for dependency in dependant.dependencies:
        call = dependency.call
        kind = "input" if isinstance(call, InputParser) else _KINDS.get(call)  # type: ignore[arg-type]
        if kind is None:
            return None
        authenticated |= kind in ("user", "admin")
        if dependency.name is not None:
            params.append((dependency.name, kind, call if kind == "input" else None))
        elif kind != "user":
            return None
    if not authenticated:
        return None
    is_async = inspect.iscoroutinefunction(route.endpoint)
    kinds = {kind for _, kind, _ in params}
    inline = not is_async and "reader" in kinds and kinds <= loop_kinds
    return _Plan(route, route.path_format.lstrip("/"), route.endpoint, is_async, inline,
                 tuple(params), TypeAdapter(response_model), route.status_code or 200)  # fmt: skip


def _token(scope: Scope) -> str | None:
    """The token as ``get_current_user`` gets it: ``X-Auth-Token``, else a bearer token."""
    headers = Headers(scope=scope)
    if token := headers.get("x-auth-token"):
        return token
    scheme, credentials = get_authorization_scheme_param(headers.get("authorization"))
    return credentials if scheme.lower() == "bearer" and credentials else None


class FastGetMiddleware:
    """Answers the happy path of protected GET routes (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, ctx: AppContext, routes: Callable[[], Sequence[BaseRoute]],
        forbidden_status: int,
    ) -> None:  # fmt: skip
        self.app = app
        self.ctx = ctx
        self.routes = routes
        self.forbidden_status = forbidden_status
        self._plans: dict[str, _Plan] | None = None

    def plans(self) -> dict[str, _Plan]:
        """Path -> plan of every route it can answer (built on the first request, when every
        route exists)."""
        if self._plans is None:
            kinds = self._loop_kinds()
            plans = (_plan(route, kinds) for route in iter_route_contexts(self.routes()))
            self._plans = {p.route.path_format: p for p in plans if p is not None}
        return self._plans

    def _loop_kinds(self) -> frozenset[str]:
        """What an endpoint run in the event loop may take: nothing on a database server
        whose statements would wait in the loop; the context too where the clusters are in
        this process (a Ray actor's answer is a round trip)."""
        database = self.ctx.database
        if not database.is_sqlite and database.loop_reads is None:
            return frozenset()
        return _LOOP_KINDS if self.ctx.executor.shared else _LOOP_KINDS | {"ctx"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = None
        if scope["type"] == "http" and scope["method"] == "GET":
            plan = self.plans().get(scope["path"])
        token = None if plan is None else _token(scope)
        principal = None if token is None else self.ctx.principals.get(token)
        if principal is None or not self.ctx.policy.allows(plan.key, "GET", principal.role):  # type: ignore[union-attr]
            await self.app(scope, receive, send)
            return
        assert plan is not None
        request = Request(scope, receive)
        request.state.principal = principal  # for the error boundary, as get_current_user
        arguments = await self._arguments(plan, request, principal)
        if arguments is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = plan.route  # the route template for the metrics
        try:
            if plan.is_async:
                response = self._render(plan, await plan.endpoint(**arguments))
            elif plan.inline:  # a hop to a worker thread costs more than these reads
                response = await self._inline(plan, arguments)
            else:
                loop = asyncio.get_running_loop()
                response = await loop.run_in_executor(_POOL, self._call, plan, arguments)
        except ApiError as exc:
            response = api_error_response(request, exc, self.forbidden_status)
        await response(scope, receive, send)

    async def _arguments(
        self, plan: _Plan, request: Request, principal: Principal
    ) -> dict[str, Any] | None:
        """The endpoint's arguments but its database handles, or ``None`` where FastAPI
        answers."""
        arguments: dict[str, Any] = {}
        for name, kind, parser in plan.params:
            if kind == "user":
                arguments[name] = principal
            elif kind == "admin":
                if not principal.is_admin:
                    return None
                arguments[name] = principal
            elif kind == "input":
                assert parser is not None
                try:
                    arguments[name] = await parser(request)
                except ApiError:
                    return None
            elif kind == "ctx":
                arguments[name] = self.ctx
            elif kind == "settings":
                arguments[name] = self.ctx.settings
        return arguments

    async def _inline(self, plan: _Plan, arguments: dict[str, Any]) -> Response:
        """An ``inline`` plan in the event loop: on SQLite directly, on PostgreSQL in a
        greenlet that waits for each statement in the loop
        (:mod:`hanami.server.db.loopreads`)."""
        reads = self.ctx.database.loop_reads
        if reads is None:
            return self._call(plan, arguments)
        return await reads.call(partial(self._call, plan, arguments))

    def _call(self, plan: _Plan, arguments: dict[str, Any],
              loop_reader: LoopReader | None = None) -> Response:  # fmt: skip
        """In a worker thread (in the loop for an ``inline`` plan, with the ``loop_reader``
        of PostgreSQL's loop reads): open the sessions and connections, call the endpoint,
        render its result."""
        database = self.ctx.database
        handles: dict[str, Any] = {}  # opened here, closed here
        given: dict[str, LoopReader] = {}
        try:
            for name, kind, _ in plan.params:  # a GET only reads
                if kind == "reader" and loop_reader is not None:
                    given[name] = loop_reader
                elif kind == "reader":  # in the loop: never a pooled connection
                    handles[name] = Reader(database.loop_read if plan.inline else database.read)
                elif kind == "session":
                    handles[name] = database.reader()
            result = plan.endpoint(**arguments, **given, **handles)
        finally:
            for handle in handles.values():
                handle.close()
        return self._render(plan, result)

    @staticmethod
    def _render(plan: _Plan, result: Any) -> Response:
        """The result validated and serialised by the response model, as FastAPI does."""
        if isinstance(result, Response):
            return result
        value = plan.adapter.validate_python(result, from_attributes=True)
        return Response(plan.adapter.dump_json(value, by_alias=True), plan.status,
                        media_type="application/json")  # fmt: skip

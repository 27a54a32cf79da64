"""The I/O-free half of the SDK: API calls written once as generators, run by either client.

An *operation* is a generator that yields instructions and receives their results::

    @operation
    def get(self, uuid: str) -> Op[Cluster]:
        return parse_model(Cluster, (yield Call("GET", "cluster", params={"uuid": uuid})))

:class:`~hanami.sdk.HanamiClient` runs the generator with blocking calls,
:class:`~hanami.sdk.AsyncHanamiClient` with awaited ones (``await client.clusters.get(...)``),
the way httpx keeps request building in its ``BaseClient`` and only the sending in ``Client``
and ``AsyncClient``. Request building, error mapping and response parsing therefore exist once.
A failed instruction is thrown into the generator, so operations may catch SDK errors.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from hanami.sdk._exceptions import InvalidResponse

__all__ = [
    "API_PREFIX",
    "API_TOKEN_PREFIX",
    "DEFAULT_ADDRESS",
    "Async",
    "Blocking",
    "Call",
    "Instruction",
    "ModeT",
    "Moded",
    "Op",
    "Sleep",
    "Sync",
    "operation",
    "parse_model",
    "query",
    "websocket_url",
]

DEFAULT_ADDRESS = "http://127.0.0.1:11418"
API_PREFIX = "v1.0alpha"
API_TOKEN_PREFIX = "hnm_"

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")


@dataclass(frozen=True)
class Call:
    """One HTTP request to the server; its result is the decoded JSON answer.

    ``path`` is relative to ``/v1.0alpha/`` unless it starts with ``/``. ``body`` is sent as
    JSON without a Content-Type, like the original SDKs; ``content`` (bytes or an iterator of
    chunks) is sent as given. ``raw`` returns the :class:`httpx.Response` instead; ``sink``
    streams the answer into ``sink(chunk, content_length)`` and returns the response.
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    content: bytes | Iterator[bytes] | None = None
    headers: Mapping[str, str] | None = None
    auth: bool = True
    raw: bool = False
    sink: Callable[[bytes, int], None] | None = None


@dataclass(frozen=True)
class Sleep:
    """Pause (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


@dataclass(frozen=True)
class Blocking:
    """Run a blocking function (a websocket upload); the async client runs it in a thread."""

    function: Callable[[], Any]


Instruction = Call | Sleep | Blocking | httpx.Request
"""What an operation yields; an :class:`httpx.Request` is sent as is (the login requests)."""
Op = Generator[Instruction, Any, T]


class Sync:
    """Marks the blocking client and its resources (for type checkers)."""


class Async:
    """Marks the asyncio client and its resources (for type checkers)."""


ModeT = TypeVar("ModeT", Sync, Async)


class Moded(Generic[ModeT]):
    """Something whose operations one client runs: the client itself or a resource of it."""

    def _run(self, op: Op[T]) -> Any:
        raise NotImplementedError


class operation(Generic[P, T]):
    """Turn a generator method into a client method: blocking on :class:`HanamiClient`,
    awaitable on :class:`AsyncHanamiClient`. ``Class.method.op`` is the generator function
    itself, to compose operations with ``yield from``."""

    def __init__(self, op: Callable[Concatenate[Any, P], Op[T]]) -> None:
        self.op = op
        functools.update_wrapper(self, op)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> operation[P, T]: ...
    @overload
    def __get__(self, obj: Moded[Sync], owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Moded[Async], owner: type) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, obj: Moded[Any] | None, owner: type) -> Any:
        if obj is None:
            return self
        op = self.op

        @functools.wraps(op)
        def method(*args: Any, **kwargs: Any) -> Any:
            return obj._run(op(obj, *args, **kwargs))

        return method


def parse_model(model: type[M], data: Any) -> M:
    """Validate a decoded answer; :class:`InvalidResponse` when it is not the documented
    shape."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidResponse(
            f"unexpected answer for {model.__name__}: {exc.errors()[0].get('msg', exc)} "
            f"({json.dumps(data, default=str)[:200]})"
        ) from exc


def query(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters as the server reads them: ``None`` left out, booleans in lower case."""
    out = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((key, str(value)))
    return out


def websocket_url(address: str) -> str:
    """``ws://host:port/`` for ``http://host:port/...`` (the server ignores the path)."""
    parts = urlsplit(address)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/"

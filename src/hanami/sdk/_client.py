"""The blocking client: runs the shared operations with ``httpx.Client`` and ``time.sleep``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx

from hanami.sdk._core import BaseClient
from hanami.sdk._wire import (
    API_PREFIX,
    DEFAULT_ADDRESS,
    Blocking,
    Call,
    Instruction,
    Op,
    Sleep,
    Sync,
)

__all__ = ["API_PREFIX", "DEFAULT_ADDRESS", "HanamiClient"]

T = TypeVar("T")
CHUNK_SIZE = 128 * 1024


class HanamiClient(BaseClient[Sync]):
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
    :class:`~hanami.sdk.AsyncHanamiClient` has the same methods, to be awaited.

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
        headers: extra headers for every request.
    """

    _http_class = httpx.Client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HanamiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _arun(self, op: Op[T]) -> Awaitable[T]:
        return asyncio.to_thread(self._run, op)

    def _run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = op.send(result) if error is None else op.throw(error)
            except StopIteration as stop:
                return stop.value
            result, error = None, None
            try:
                result = self._do(instruction)
            except BaseException as exc:  # thrown into the operation, which may clean up
                error = exc

    def _do(self, instruction: Instruction) -> Any:
        if isinstance(instruction, Call):
            return self._call(instruction)
        if isinstance(instruction, httpx.Request):
            with self._transport_errors(instruction):
                return self._http.send(instruction)
        if isinstance(instruction, Sleep):
            time.sleep(instruction.seconds)
            return None
        if isinstance(instruction, Blocking):
            return instruction.function()
        raise TypeError(f"unknown instruction {instruction!r}")

    def _call(self, call: Call) -> Any:
        request = self._build(call)
        with self._transport_errors(request):
            response = self._http.send(request, **self._send_options(call))
            if call.sink is not None:
                try:
                    if response.is_error:
                        response.read()
                    else:
                        length = int(response.headers.get("content-length") or 0)
                        for chunk in response.iter_bytes(CHUNK_SIZE):
                            call.sink(chunk, length)
                finally:
                    response.close()
        return self._result(call, response)

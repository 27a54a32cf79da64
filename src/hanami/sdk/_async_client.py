"""The asyncio client: runs the shared operations with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import httpx

from hanami.sdk._core import BaseClient
from hanami.sdk._wire import Async, Blocking, Call, Instruction, Op, Sleep

__all__ = ["AsyncHanamiClient"]

T = TypeVar("T")
CHUNK_SIZE = 128 * 1024


class AsyncHanamiClient(BaseClient[Async]):
    """The asyncio twin of :class:`~hanami.sdk.HanamiClient`: the same arguments, resources
    and methods, each to be awaited::

        async with AsyncHanamiClient(address, user="asdf", passphrase="asdfasdf") as client:
            cluster = await client.clusters.create("demo", template_text)
            rows = await client.clusters.list()

    Uploads over websockets send their chunks from a worker thread; everything else runs on
    the event loop. ``direct()`` returns the same :class:`~hanami.sdk.DirectSession`.
    """

    _http_class = httpx.AsyncClient

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncHanamiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _arun(self, op: Op[T]) -> Awaitable[T]:
        return self._run(op)

    async def _run(self, op: Op[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = op.send(result) if error is None else op.throw(error)
            except StopIteration as stop:
                return stop.value
            result, error = None, None
            try:
                result = await self._do(instruction)
            except BaseException as exc:  # thrown into the operation, which may clean up
                error = exc

    async def _do(self, instruction: Instruction) -> Any:
        if isinstance(instruction, Call):
            return await self._call(instruction)
        if isinstance(instruction, httpx.Request):
            with self._transport_errors(instruction):
                return await self._http.send(instruction)
        if isinstance(instruction, Sleep):
            await asyncio.sleep(instruction.seconds)
            return None
        if isinstance(instruction, Blocking):
            return await asyncio.to_thread(instruction.function)
        raise TypeError(f"unknown instruction {instruction!r}")

    async def _call(self, call: Call) -> Any:
        request = self._build(call)
        with self._transport_errors(request):
            response = await self._http.send(request, **self._send_options(call))
            if call.sink is not None:
                try:
                    if response.is_error:
                        await response.aread()
                    else:
                        length = int(response.headers.get("content-length") or 0)
                        async for chunk in response.aiter_bytes(CHUNK_SIZE):
                            call.sink(chunk, length)
                finally:
                    await response.aclose()
        return self._result(call, response)

    def _stream(self, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
        async def stream() -> AsyncIterator[bytes]:
            for chunk in chunks:  # file reads of 128 KiB: short enough for the loop
                yield chunk

        return stream()

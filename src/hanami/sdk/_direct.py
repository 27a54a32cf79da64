"""Direct cluster I/O over a websocket (spec §3.4), as an async context manager.

The protocol is strict ping-pong: every message gets exactly one reply, and the reply to the
message with ``isLast = true`` arrives only when the train or request step is done. A train
step sends one INPUT buffer per input hexagon and one EXPECTED buffer per output hexagon; a
request step sends the INPUT buffers and receives one buffer per output hexagon.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from hanami.protocol.proto import (
    EXPECTED_BUFFER_TYPE,
    INPUT_BUFFER_TYPE,
    REQUEST_TYPE,
    TRAIN_TYPE,
    ClusterIO_Message,
)
from hanami.sdk._direct_batches import run_batches
from hanami.sdk._direct_values import (
    Values,
    hexagon_names,
    one_row,
    reply_values,
    row_buffers,
    row_count,
    sample_buffers,
)
from hanami.sdk._exceptions import HanamiError, StatusError, WebsocketError
from hanami.sdk._resources import Clusters
from hanami.sdk._websocket import (
    WEBSOCKET_MIN_VALIDITY,
    check_init_reply,
    describe_ws_error,
    init_message,
    ssl_context,
)

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from hanami.sdk._core import BaseClient

__all__ = ["DirectSession"]


class DirectSession:
    """Train and query one cluster step by step (create it with ``client.direct(...)``).

    Inputs and expected values are arrays (sent to the only input/output hexagon, or the
    ones named in ``client.direct(..., inputs=..., outputs=...)``) or dicts
    ``{hexagon_name: values}``.

    On a Hanami server the session uses the *batched* extension of the protocol (many
    samples per frame, several frames in flight), which ``train_batch``/``request_batch``
    profit from; on other servers it falls back to the original ping-pong protocol, one
    message per buffer. ``batched=False`` forces the original protocol, ``True`` requires
    the extension.
    """

    def __init__(
        self,
        client: BaseClient[Any],
        cluster_uuid: str,
        *,
        inputs: str | Sequence[str] | None = None,
        outputs: str | Sequence[str] | None = None,
        switch_mode: bool = True,
        timeout: float | None = None,
        batched: bool | None = None,
        batch_size: int = 1024,
    ) -> None:
        self.client = client
        self.cluster_uuid = cluster_uuid
        self.inputs = hexagon_names(inputs)
        self.outputs = hexagon_names(outputs)
        self.switch_mode = switch_mode
        self.timeout = timeout
        self.batch_size = max(1, batch_size)
        self._want_batched = batched
        self.batched = False
        self.capabilities: dict[str, Any] = {}
        self.session_uuid: str | None = None
        self._ws: ClientConnection | None = None
        self._seq = itertools.count()

    # ----------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> DirectSession:
        await self.open()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self._abort()

    async def open(self) -> None:
        """Switch the cluster to DIRECT (if ``switch_mode``) and initialise the websocket."""
        from websockets.asyncio.client import connect

        if not self.inputs or not self.outputs:
            await self._discover_names()
        if self.switch_mode:
            await self._set_mode("DIRECT")
        url = self.client.websocket_url
        try:
            token = await self.client._arun(self.client._token_op(WEBSOCKET_MIN_VALIDITY))
            extra = {} if self._want_batched is False else {"batched": True}
            try:
                self._ws = await connect(
                    url,
                    compression=None,
                    max_size=None,
                    ping_interval=None,  # the original server does not read while it works
                    open_timeout=self.client.timeout,
                    ssl=ssl_context(url, self.client.verify),
                )
                await self._ws.send(init_message(token, "cluster", self.cluster_uuid, **extra))
                reply = check_init_reply(await self._recv())
            except HanamiError:
                raise
            except Exception as exc:
                raise describe_ws_error(exc, url) from exc
            self.session_uuid = str(reply.get("uuid", "")) or None
            capabilities = reply.get("batched")
            if extra and isinstance(capabilities, dict):
                self.batched = True
                self.capabilities = capabilities
            elif self._want_batched:
                raise WebsocketError("the server does not offer batched direct I/O")
        except BaseException:
            await self._abort()
            raise

    async def _discover_names(self) -> None:
        """Take the hexagon names from ``GET /cluster`` (Hanami lists them) when not given."""
        try:
            op = Clusters.get.op(self.client.clusters, self.cluster_uuid)
            cluster = await self.client._arun(op)
        except StatusError:
            return  # let set_mode report the problem
        if not self.inputs and cluster.inputs:
            self.inputs = list(cluster.inputs)
        if not self.outputs and cluster.outputs:
            self.outputs = list(cluster.outputs)

    async def close(self) -> None:
        """Close the websocket and switch the cluster back to TASK (if ``switch_mode``)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self.switch_mode:
            await self._set_mode("TASK")

    async def _set_mode(self, mode: Literal["TASK", "DIRECT"]) -> None:
        op = Clusters.set_mode.op(self.client.clusters, self.cluster_uuid, mode)
        await self.client._arun(op)

    async def _abort(self) -> None:
        with contextlib.suppress(Exception):
            await self.close()

    # ------------------------------------------------------------------------------ messages

    async def _recv(self) -> str | bytes:
        assert self._ws is not None
        if self.timeout is None:
            return await self._ws.recv()
        return await asyncio.wait_for(self._ws.recv(), self.timeout)

    async def _recv_checked(self) -> str | bytes:
        if self._ws is None:
            raise WebsocketError("the direct session is not open")
        try:
            return await self._recv()
        except Exception as exc:
            raise describe_ws_error(exc, self.client.websocket_url) from exc

    async def _send_checked(self, data: bytes) -> None:
        if self._ws is None:
            raise WebsocketError("the direct session is not open")
        try:
            await self._ws.send(data)
        except Exception as exc:
            raise describe_ws_error(exc, self.client.websocket_url) from exc

    async def _exchange(self, message: Any) -> Any:
        await self._send_checked(message.SerializeToString())
        return self._parse(await self._recv_checked(), ClusterIO_Message)

    @staticmethod
    def _parse(raw: str | bytes, cls: Any) -> Any:
        reply = cls()
        try:
            reply.ParseFromString(raw.encode() if isinstance(raw, str) else raw)
        except Exception as exc:
            raise WebsocketError(f"unreadable direct-I/O answer ({len(raw)} bytes)") from exc
        error = getattr(reply, "errorMessage", "")
        if error:
            raise WebsocketError(f"the server refused the message: {error}")
        return reply

    def _message(
        self, name: str, values: np.ndarray, *, train: bool, expected: bool, last: bool
    ) -> Any:
        return ClusterIO_Message(
            bufferName=name,
            isLast=last,
            processType=TRAIN_TYPE if train else REQUEST_TYPE,
            targetBufferType=EXPECTED_BUFFER_TYPE if expected else INPUT_BUFFER_TYPE,
            numberOfValues=len(values),
            values=values.tolist(),
        )

    # ---------------------------------------------------------------------------------- steps

    async def train(self, x: Values, y: Values) -> None:
        """One train step: forward and backward pass for one sample; returns when done."""
        inputs = sample_buffers(x, self.inputs, "input")
        expected = sample_buffers(y, self.outputs, "output")
        if self.batched:
            await self._run_batches(
                "train", {n: v[None, :] for n, v in inputs}, {n: v[None, :] for n, v in expected}
            )
            return
        messages = [self._message(n, v, train=True, expected=False, last=False) for n, v in inputs]
        messages += [
            self._message(n, v, train=True, expected=True, last=i == len(expected) - 1)
            for i, (n, v) in enumerate(expected)
        ]
        for message in messages:
            await self._exchange(message)

    async def request(
        self, x: Values, *, outputs: int | Sequence[str] | None = None
    ) -> np.ndarray | dict[str, np.ndarray]:
        """One request step (forward pass); returns the output values as float32.

        With one output hexagon the result is an array. With several (or with ``outputs``,
        a count or the names) it is ``{hexagon_name: array}``.
        """
        inputs = sample_buffers(x, self.inputs, "input")
        names = None if outputs is None or isinstance(outputs, int) else list(outputs)
        if isinstance(outputs, int):
            count, as_dict = outputs, True
        elif names is not None:
            count, as_dict = len(names), True
        else:
            count, as_dict = max(1, len(self.outputs)), len(self.outputs) > 1
        if self.batched:
            rows = await self._run_batches("request", {n: v[None, :] for n, v in inputs}, None)
            result = {name: values[0] for name, values in rows.items()}
            as_dict = as_dict or len(result) > 1
        else:
            result = {}
            reply = None
            for i, (name, values) in enumerate(inputs):
                last = i == len(inputs) - 1
                reply = await self._exchange(
                    self._message(name, values, train=False, expected=False, last=last)
                )
            assert reply is not None
            result[reply.bufferName] = reply_values(reply)
            for _ in range(count - 1):
                reply = self._parse(await self._recv_checked(), type(reply))
                result[reply.bufferName] = reply_values(reply)
        if names is not None:
            result = {name: result[name] for name in names if name in result}
        if as_dict:
            return result
        return next(iter(result.values()))

    async def train_batch(
        self,
        x: ArrayLike | Mapping[str, ArrayLike],
        y: ArrayLike | Mapping[str, ArrayLike],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """One train step per row of ``x``/``y`` (2-D arrays, or dicts of 2-D arrays), in
        order; batched frames when the server offers them."""
        xs = row_buffers(x, self.inputs, "input")
        ys = row_buffers(y, self.outputs, "output")
        n = row_count(xs, "x")
        if row_count(ys, "y") != n:
            raise ValueError("x and y must have the same number of rows")
        if self.batched:
            await self._run_batches("train", xs, ys, progress=progress)
            return
        for i in range(n):
            await self.train(one_row(xs, i), one_row(ys, i))
            if progress is not None:
                progress(i + 1, n)

    async def request_batch(
        self,
        x: ArrayLike | Mapping[str, ArrayLike],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray | dict[str, np.ndarray]:
        """One request step per row; returns the outputs stacked to ``(rows, width)`` (a
        dict of such arrays when the cluster has several outputs)."""
        xs = row_buffers(x, self.inputs, "input")
        n = row_count(xs, "x")
        if self.batched:
            result = await self._run_batches("request", xs, None, progress=progress)
            if len(result) == 1 and len(self.outputs) <= 1:
                return next(iter(result.values()))
            return result
        outputs: list[Any] = []
        for i in range(n):
            outputs.append(await self.request(one_row(xs, i)))
            if progress is not None:
                progress(i + 1, n)
        if not outputs:
            return np.zeros((0, 0), dtype=np.float32)
        if isinstance(outputs[0], dict):
            return {k: np.stack([o[k] for o in outputs]) for k in outputs[0]}
        return np.stack(outputs)

    # ------------------------------------------------------------------------------- batched

    async def _run_batches(
        self,
        kind: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray] | None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        return await run_batches(
            self._send_checked,
            self._recv_checked,
            kind,
            inputs,
            expected,
            seq=self._seq,
            capabilities=self.capabilities,
            batch_size=self.batch_size,
            progress=progress,
        )

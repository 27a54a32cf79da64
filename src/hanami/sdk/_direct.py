"""Direct cluster I/O over a websocket (spec §3.4), as an async context manager.

The protocol is strict ping-pong: every message gets exactly one reply, and the reply to the
message with ``isLast = true`` arrives only when the train or request step is done. A train
step sends one INPUT buffer per input hexagon and one EXPECTED buffer per output hexagon; a
request step sends the INPUT buffers and receives one buffer per output hexagon.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from hanami.protocol.batch import (
    MAX_FRAME_BYTES,
    MAX_HEADER_BYTES,
    BatchError,
    decode_batch_reply,
    encode_batch,
)
from hanami.protocol.proto import (
    EXPECTED_BUFFER_TYPE,
    INPUT_BUFFER_TYPE,
    REQUEST_TYPE,
    TRAIN_TYPE,
    ClusterIO_Message,
)
from hanami.sdk._exceptions import HanamiError, StatusError, WebsocketError
from hanami.sdk._resources import Clusters
from hanami.sdk._upload import (
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

Values = ArrayLike | Mapping[str, ArrayLike]


def _names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


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
        self.inputs = _names(inputs)
        self.outputs = _names(outputs)
        self.switch_mode = switch_mode
        self.timeout = timeout
        self.batch_size = max(1, batch_size)
        self._want_batched = batched
        self.batched = False
        self.capabilities: dict[str, Any] = {}
        self.session_uuid: str | None = None
        self._ws: ClientConnection | None = None
        self._seq = 0

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

    def _named(self, values: Values, defaults: list[str], what: str) -> list[tuple[str, Any]]:
        if isinstance(values, Mapping):
            items = list(values.items())
        elif len(defaults) == 1:
            items = [(defaults[0], values)]
        else:
            raise ValueError(
                f"pass a dict {{hexagon_name: values}} for the {what}s, or name the {what} "
                f"hexagon with client.direct(..., {what}s='name')"
            )
        if not items:
            raise ValueError(f"no {what} values given")
        return [(name, np.asarray(v, dtype=np.float32).ravel()) for name, v in items]

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
        inputs = self._named(x, self.inputs, "input")
        expected = self._named(y, self.outputs, "output")
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
        inputs = self._named(x, self.inputs, "input")
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
            result[reply.bufferName] = _values(reply)
            for _ in range(count - 1):
                reply = self._parse(await self._recv_checked(), type(reply))
                result[reply.bufferName] = _values(reply)
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
        xs = _rows(x, self.inputs, "input")
        ys = _rows(y, self.outputs, "output")
        n = _count(xs, "x")
        if _count(ys, "y") != n:
            raise ValueError("x and y must have the same number of rows")
        if self.batched:
            await self._run_batches("train", xs, ys, progress=progress)
            return
        for i in range(n):
            await self.train(_row(xs, i), _row(ys, i))
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
        xs = _rows(x, self.inputs, "input")
        n = _count(xs, "x")
        if self.batched:
            result = await self._run_batches("request", xs, None, progress=progress)
            if len(result) == 1 and len(self.outputs) <= 1:
                return next(iter(result.values()))
            return result
        outputs: list[Any] = []
        for i in range(n):
            outputs.append(await self.request(_row(xs, i)))
            if progress is not None:
                progress(i + 1, n)
        if not outputs:
            return np.zeros((0, 0), dtype=np.float32)
        if isinstance(outputs[0], dict):
            return {k: np.stack([o[k] for o in outputs]) for k in outputs[0]}
        return np.stack(outputs)

    # ------------------------------------------------------------------------------- batched

    def _chunk_rows(self, buffers: Mapping[str, np.ndarray]) -> int:
        width = sum(int(a.shape[1]) for a in buffers.values()) or 1
        frame_bytes = int(self.capabilities.get("max_frame_bytes", MAX_FRAME_BYTES))
        max_frame = frame_bytes - MAX_HEADER_BYTES
        by_size = max(1, max_frame // (4 * width))
        max_samples = int(self.capabilities.get("max_samples", self.batch_size))
        return max(1, min(self.batch_size, max_samples, by_size))

    async def _run_batches(
        self,
        kind: str,
        inputs: Mapping[str, np.ndarray],
        expected: Mapping[str, np.ndarray] | None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Send ``[rows, width]`` buffers as batch frames, keeping up to ``max_in_flight``
        frames unanswered; returns the outputs of a request, rows in order."""
        buffers = {**inputs, **(expected or {})}
        n = _count(dict(inputs), "x")
        chunk = self._chunk_rows(buffers)
        window = max(1, int(self.capabilities.get("max_in_flight", 1)))
        pending: collections.deque[tuple[int, int]] = collections.deque()
        pieces: dict[str, list[np.ndarray]] = {}
        done = 0
        error: str | None = None

        async def receive_one() -> None:
            nonlocal done, error
            seq, rows = pending.popleft()
            try:
                header, outputs = decode_batch_reply(await self._recv_checked())
            except BatchError as exc:
                raise WebsocketError(f"unreadable batch answer: {exc}") from exc
            if header.get("seq") != seq:
                raise WebsocketError(f"batch answer {header.get('seq')} arrived for {seq}")
            if not header.get("ok"):
                error = error or str(header.get("error") or "unknown error")
                return
            for name, values in outputs.items():
                pieces.setdefault(name, []).append(values)
            done += rows
            if progress is not None:
                progress(done, n)

        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            frame = encode_batch(
                self._seq,
                kind,
                {k: v[start:stop] for k, v in inputs.items()},
                {k: v[start:stop] for k, v in (expected or {}).items()},
            )
            await self._send_checked(frame)
            pending.append((self._seq, stop - start))
            self._seq += 1
            while len(pending) >= window:
                await receive_one()
        while pending:
            await receive_one()
        if error is not None:
            raise WebsocketError(f"the server refused a {kind} batch: {error}")
        return {name: np.concatenate(parts) for name, parts in pieces.items()}


def _values(reply: Any) -> np.ndarray:
    values = np.asarray(reply.values, dtype=np.float32)
    count = int(reply.numberOfValues)
    return values[:count] if 0 < count < len(values) else values


def _rows(
    values: ArrayLike | Mapping[str, ArrayLike], defaults: list[str], what: str
) -> dict[str, np.ndarray]:
    """``{hexagon: [rows, width] float32}`` from a 2-D array or a dict of them."""
    if not isinstance(values, Mapping):
        if len(defaults) != 1:
            raise ValueError(
                f"pass a dict {{hexagon_name: rows}} for the {what}s, or name the {what} "
                f"hexagon with client.direct(..., {what}s='name')"
            )
        values = {defaults[0]: values}
    out = {}
    for name, value in values.items():
        array = np.asarray(value, dtype=np.float32)
        out[name] = array.reshape(len(array), -1) if array.ndim != 2 else array
    if not out:
        raise ValueError(f"no {what} values given")
    return out


def _count(rows: dict[str, np.ndarray], what: str) -> int:
    counts = {len(v) for v in rows.values()}
    if len(counts) != 1:
        raise ValueError(f"all arrays of {what} must have the same number of rows")
    return counts.pop()


def _row(rows: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    return {k: v[i] for k, v in rows.items()}

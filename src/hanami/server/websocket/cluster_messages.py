"""The compatible mode's messages: parsing one, and what the buffers of a step may hold.

Shared by the session's loop (:mod:`~hanami.server.websocket.direct_io`) and the lane that
handles quick steps below ASGI (:mod:`~hanami.server.websocket.direct_lane`).
"""

from __future__ import annotations

import math

import numpy as np
from google.protobuf.message import DecodeError

from hanami.protocol.cluster_io import decode_values, packed_span
from hanami.protocol.proto import (
    EXPECTED_BUFFER_TYPE,
    INPUT_BUFFER_TYPE,
    TRAIN_TYPE,
    ClusterIO_Message,
)
from hanami.server.websocket.session import CloseCode, WsClose

__all__ = [
    "ACK",
    "MAX_STEP_BUFFERS",
    "MAX_STEP_BYTES",
    "ClusterIOParser",
    "StepBuffers",
    "parse_cluster_io",
]

MAX_STEP_BUFFERS = 256
MAX_STEP_BYTES = 64 * 1024 * 1024
"""Compatible mode: what the buffers of one step (held until its ``isLast`` message) may
add up to; more closes the socket with 4413 (buffers under new names used to pile up)."""

ACK = ClusterIO_Message(
    isLast=False, processType=TRAIN_TYPE, numberOfValues=1, values=[0.0]
).SerializeToString()


def parse_cluster_io(data: bytes | str) -> tuple[ClusterIO_Message, np.ndarray]:
    message = ClusterIO_Message()
    try:
        if isinstance(data, str):
            raise DecodeError("text frame")
        message.ParseFromString(data)
    except DecodeError as exc:
        raise WsClose(CloseCode.BAD_REQUEST, "Got invalid ClusterIO-Message") from exc
    if message.targetBufferType not in (INPUT_BUFFER_TYPE, EXPECTED_BUFFER_TYPE):
        raise WsClose(
            CloseCode.BAD_REQUEST,
            "targetBufferType must be INPUT_BUFFER_TYPE or EXPECTED_BUFFER_TYPE",
        )
    if not message.bufferName:
        raise WsClose(CloseCode.BAD_REQUEST, "bufferName is empty")
    count = message.numberOfValues
    values = decode_values(data, message)
    if count > len(values):
        raise WsClose(
            CloseCode.BAD_REQUEST,
            f"numberOfValues is {count} but the message holds {len(values)} values",
        )
    return message, _finite(message, values[:count])


def _finite(message: ClusterIO_Message, values: np.ndarray) -> np.ndarray:
    # a float64 sum of float32 values cannot overflow: it is finite iff every value is
    if not math.isfinite(np.add.reduce(values, dtype=np.float64)):
        raise WsClose(CloseCode.BAD_REQUEST, f"Buffer '{message.bufferName}' holds NaN or inf")
    return values


_FLOAT = np.dtype("<f4")
MAX_SHAPES = 16
"""Message shapes a :class:`ClusterIOParser` remembers (a session sends a few)."""


class ClusterIOParser:
    """:func:`parse_cluster_io` for one session, quicker for messages shaped like an earlier
    one.

    A client sends the same few messages step after step (a picture, a label), only their
    values differ, and parsing both messages of a step took 37-49 µs of the server's CPU
    (protobuf, then the scan for the packed values; 24 µs this way: docs/performance.md,
    "Direct I/O: messages parsed once per shape"). When an earlier message ended with its
    one packed values field, a message of the same length whose bytes up to its values are
    the same parses to the same fields, whatever the values' bytes: only they are read,
    and checked. The message object is shared by these calls: read it only.
    """

    def __init__(self) -> None:
        self._shapes: dict[int, tuple[bytes, ClusterIO_Message, int]] = {}
        """By message length: the bytes before the values, the message, its value count."""

    def __call__(self, data: bytes | str) -> tuple[ClusterIO_Message, np.ndarray]:
        if not isinstance(data, bytes):
            return parse_cluster_io(data)
        shape = self._shapes.get(len(data))
        if shape is not None and data.startswith(shape[0]):
            head, message, count = shape
            values = np.frombuffer(data, dtype=_FLOAT, count=count, offset=len(head))
            return message, _finite(message, values)
        message, values = parse_cluster_io(data)
        if len(self._shapes) < MAX_SHAPES:  # else no second scan of every unknown message
            span = packed_span(data)
            if span is not None and sum(span) == len(data):
                self._shapes[len(data)] = (data[: span[0]], message, len(values))
        return message, values


Buffers = dict[str, np.ndarray]


class StepBuffers:
    """The buffers of the step being sent, held until its ``isLast`` message."""

    def __init__(self) -> None:
        self.inputs: Buffers = {}
        self.expected: Buffers = {}
        self.held = 0
        """Bytes of the buffers held: counted as they come, not summed per message."""

    def store(self, message: ClusterIO_Message, values: np.ndarray) -> None:
        """Hold ``values``; closes with 4413 once the step's buffers exceed the limits."""
        role = self._role(message)
        replaced = role.get(message.bufferName)
        role[message.bufferName] = values
        self.held += values.nbytes - (0 if replaced is None else replaced.nbytes)
        count = len(self.inputs) + len(self.expected)
        if count > MAX_STEP_BUFFERS or self.held > MAX_STEP_BYTES:
            raise WsClose(
                CloseCode.TOO_LARGE,
                f"Step buffers exceed the limit: {count} buffers, {self.held} bytes (at most "
                f"{MAX_STEP_BUFFERS}, {MAX_STEP_BYTES} bytes); send isLast to run the step",
            )

    def fits(self, values: np.ndarray) -> bool:
        """Whether :meth:`store` of ``values`` under a new name stays within the limits."""
        count = len(self.inputs) + len(self.expected)
        return count < MAX_STEP_BUFFERS and self.held + values.nbytes <= MAX_STEP_BYTES

    def with_last(self, message: ClusterIO_Message, values: np.ndarray) -> tuple[Buffers, Buffers]:
        """The step's inputs and expected values with ``values`` stored, leaving these as
        they are."""
        inputs, expected = dict(self.inputs), dict(self.expected)
        (expected if message.targetBufferType == EXPECTED_BUFFER_TYPE else inputs)[
            message.bufferName
        ] = values
        return inputs, expected

    def take(self) -> tuple[Buffers, Buffers]:
        """The step's inputs and expected values; the next step starts empty."""
        step = self.inputs, self.expected
        self.inputs, self.expected = {}, {}
        self.held = 0
        return step

    def _role(self, message: ClusterIO_Message) -> Buffers:
        return self.expected if message.targetBufferType == EXPECTED_BUFFER_TYPE else self.inputs

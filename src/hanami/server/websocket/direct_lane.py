"""Compatible-mode messages handled inside uvicorn's ``data_received``, below ASGI.

A ping-pong step is two messages and two replies; through ASGI each message woke the
session's task and each reply went back through Starlette and uvicorn, about a third of the
server's CPU per step (docs/performance.md). The lane takes a message where it arrives
(:class:`~hanami.server.websocket.protocol.LaneWebSocketProtocol`) when nothing can refuse
or delay it, and otherwise declines before changing anything: the message then takes the
session's loop, which answers it as before, errors included. It handles a message only while
the loop is parked in ``receive`` with nothing queued, so messages keep their order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hanami.protocol.proto import EXPECTED_BUFFER_TYPE, TRAIN_TYPE
from hanami.server.websocket.cluster_messages import ACK, ClusterIOParser, StepBuffers
from hanami.server.websocket.direct_steps import TRAIN_END, Steps
from hanami.server.websocket.protocol import LaneWebSocketProtocol, binary_frame, lane_protocol
from hanami.server.websocket.session import WsClose, WsSession

__all__ = ["CompatibleLane"]

_WAKE_UP = {"type": "websocket.receive", "bytes": b""}
"""Queued to end the loop's wait after a failure the lane cannot answer itself."""
_ACK_FRAME, _TRAIN_END_FRAME = binary_frame(ACK), binary_frame(TRAIN_END)


@dataclass(eq=False)
class CompatibleLane:
    """The lane of one compatible-mode session (see the module docstring)."""

    protocol: LaneWebSocketProtocol
    session: WsSession
    steps: Steps
    buffers: StepBuffers
    parse: ClusterIOParser
    train_allowed: Callable[[], bool]
    """Whether the policy and the cluster's mode allow a train step, without a query."""
    parked: bool = False
    failure: BaseException | None = None
    committed: bool = False
    """Whether the step being handled was recorded: from then on it cannot be declined."""

    @classmethod
    def attach(
        cls,
        session: WsSession,
        steps: Steps,
        buffers: StepBuffers,
        parse: ClusterIOParser,
        train_allowed: Callable[[], bool],
    ) -> CompatibleLane | None:
        """The session's lane, registered with its protocol (None: served without one)."""
        protocol = lane_protocol(session.websocket.scope)
        if protocol is None:
            return None
        lane = cls(protocol, session, steps, buffers, parse, train_allowed)
        protocol.lane = lane
        return lane

    def detach(self) -> None:
        self.protocol.lane = None

    def _reply_end(self) -> None:
        self.committed = True
        self.protocol.write_frame(_TRAIN_END_FRAME)

    async def receive(self) -> bytes | str:
        """The session's next message that the lane did not handle (see :attr:`failure`
        after it: a failure of a step the lane had acknowledged ends the wait)."""
        self.parked = True
        try:
            return await self.session.receive()
        finally:
            self.parked = False  # in the task step that took the message off the queue

    def __call__(self, data: Any) -> bool:
        """Handle ``data`` (a complete binary message) now, or decline it: False."""
        if not self.parked or self.failure is not None or not self.session.token_fresh():
            return False
        try:
            message, values = self.parse(data)
        except WsClose:
            return False
        if not self.buffers.fits(values):
            return False
        if not message.isLast:
            self.buffers.store(message, values)
            self.protocol.write_frame(_ACK_FRAME)
            return True
        if message.processType != TRAIN_TYPE or not self.train_allowed():
            return False
        self.committed = False
        try:
            if (
                message.targetBufferType != EXPECTED_BUFFER_TYPE
                or self.buffers.expected
                or not self.steps.planned(
                    self.buffers.inputs, message.bufferName, values, self._reply_end
                )
            ):
                inputs, expected = self.buffers.with_last(message, values)
                with self.steps.acknowledged_first(inputs, expected) as inline:
                    if inline:
                        self._reply_end()
        except Exception as exc:
            if not self.committed:
                return False  # the loop runs it again and answers the failure
            self.failure = exc
            self.protocol.queue.put_nowait(_WAKE_UP)  # type: ignore[arg-type]
        if not self.committed:
            return False
        self.buffers.take()
        return True

"""uvicorn's websocket protocol with a lane for direct-I/O messages below ASGI.

Each message of a ping-pong step used to go from uvicorn's ``data_received`` into a queue,
wake the session's task, pass Starlette's and uvicorn's ASGI layers, and come back the same
way as the reply: about a third of the server's CPU per step (docs/performance.md, the
receive and send path). A session may register a *lane*: a callback that gets each complete
binary message inside ``data_received`` and either handles it there, replies included, or
declines it before changing anything, and then the message takes the ASGI path as before.
Everything else (handshake, fragments, text, control frames, close) stays uvicorn's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame
from websockets.http11 import Request
from websockets.protocol import State

__all__ = ["LANE_EXTENSION", "LaneWebSocketProtocol", "lane_protocol"]

LANE_EXTENSION = "hanami.websocket.lane"
"""The ASGI scope extension under which the protocol offers itself to the application."""


class LaneWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, plus :attr:`lane` (see the module docstring)."""

    lane: Callable[[Any], bool] | None = None
    """Gets a complete binary message; True: handled. Set by the application."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][LANE_EXTENSION] = self

    def handle_bytes(self, event: Frame) -> None:
        lane = self.lane
        if (
            lane is None
            or not event.fin
            or not self.queue.empty()  # a message before it waits: keep the order
            or not self.lane_open()
            or not lane(event.data)
        ):
            super().handle_bytes(event)

    def lane_open(self) -> bool:
        """Whether the lane may reply now: the connection is open and not backed up."""
        return self.conn.state is State.OPEN and not self.close_sent and self.writable.is_set()

    def write_message(self, data: bytes) -> None:
        """Send a binary message from the lane (inside ``data_received``: no await)."""
        self.conn.send_binary(data)
        self.transport.write(b"".join(self.conn.data_to_send()))


def lane_protocol(scope: dict[str, Any]) -> LaneWebSocketProtocol | None:
    """The connection's protocol when it offers a lane (not under a test client)."""
    protocol = scope.get("extensions", {}).get(LANE_EXTENSION)
    return protocol if isinstance(protocol, LaneWebSocketProtocol) else None

"""uvicorn's websocket protocol with a lane for direct-I/O messages below ASGI.

Each message of a ping-pong step used to go from uvicorn's ``data_received`` into a queue,
wake the session's task, pass Starlette's and uvicorn's ASGI layers, and come back the same
way as the reply: about a third of the server's CPU per step (docs/performance.md, the
receive and send path). A session may register a *lane*: a callback that gets each complete
binary message inside ``data_received`` and either handles it there, replies included, or
declines it before changing anything, and then the message takes the ASGI path as before.
Everything else (handshake, fragments, text, control frames, close) stays uvicorn's.

While a lane is registered and ``websockets``' parser waits at the start of a frame, the
protocol reads the complete, masked, single-frame binary messages of a chunk itself (a
header, a mask, :func:`apply_mask`) instead of through that parser's generators and
uvicorn's event dispatch, and the lane's replies go out pre-framed: 9-23 % less server CPU
per ping-pong step (docs/performance.md, "Direct I/O: frames read by the lane itself").
The first message it does not take, and everything after it in the chunk, goes to the
parser as before: those bytes are exactly what it would have been fed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.streams import StreamReader

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = ["LANE_EXTENSION", "LaneWebSocketProtocol", "binary_frame", "lane_protocol"]

LANE_EXTENSION = "hanami.websocket.lane"
"""The ASGI scope extension under which the protocol offers itself to the application."""


_AT_FRAME_START = StreamReader.at_eof.__code__
"""What ``websockets``' parser waits in between two frames (and nowhere else while open)."""
_FIN_BINARY = 0x82
_MASKED = 0x80


def binary_frame(data: bytes) -> bytes:
    """``data`` as one unmasked binary frame: a server's reply, framed once."""
    return Frame(Opcode.BINARY, data).serialize(mask=False, extensions=[])


class LaneWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, plus :attr:`lane` (see the module docstring)."""

    lane: Callable[[Any], bool] | None = None
    """Gets a complete binary message; True: handled. Set by the application."""
    declined = False
    """The lane declined the next message the parser is fed (see :meth:`data_received`)."""
    parser_idle = False
    """The parser was found waiting at a frame start and has not been fed since."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][LANE_EXTENSION] = self

    def data_received(self, data: bytes) -> None:
        start = 0
        if self.lane is not None and self._at_frame_start():
            while start < len(data):
                frame = self._complete_frame(data, start)
                if frame is None:
                    break
                if not self._offer(frame[0]):
                    self.declined = True  # not offered twice: handle_bytes gets it next
                    break
                start = frame[1]
            else:
                return
        self.parser_idle = False
        super().data_received(data[start:] if start else data)
        self.declined = False

    def handle_bytes(self, event: Frame) -> None:
        declined, self.declined = self.declined, False
        if declined or not event.fin or not self._offer(event.data):
            super().handle_bytes(event)

    def _offer(self, message: bytes) -> bool:
        lane = self.lane
        return (
            lane is not None
            and self.queue.empty()  # a message before it waits: keep the order
            and self.lane_open()
            and lane(message)
        )

    def _at_frame_start(self) -> bool:
        """Whether the parser holds nothing and waits for the first byte of a frame (what
        only feeding it changes, once found, is not looked for again: :attr:`parser_idle`)."""
        conn = self.conn
        if conn.state is not State.OPEN:
            return False
        if self.parser_idle:
            return True
        if conn.current_size is not None or conn.reader.buffer or conn.extensions:
            return False
        waiting = conn.parser
        while waiting.gi_yieldfrom is not None:
            waiting = waiting.gi_yieldfrom
        self.parser_idle = waiting.gi_code is _AT_FRAME_START
        return self.parser_idle

    def _complete_frame(self, data: bytes, start: int) -> tuple[bytes, int] | None:
        """The unmasked message of the frame at ``data[start:]`` and where the frame ends,
        if it is a complete masked binary frame that holds a whole message within the
        parser's size limits; else None (the parser reads it and fails what is invalid)."""
        if len(data) - start < 6 or data[start] != _FIN_BINARY or not data[start + 1] & _MASKED:
            return None
        length, head = data[start + 1] & 0x7F, start + 2
        if length > 125:
            width = 2 if length == 126 else 8
            length = int.from_bytes(data[head : head + width], "big")
            head += width
        end = head + 4 + length
        conn = self.conn
        if (
            end > len(data)
            or (conn.max_message_size is not None and length > conn.max_message_size)
            or (conn.max_fragment_size is not None and length > conn.max_fragment_size)
        ):
            return None
        return apply_mask(data[head + 4 : end], data[head : head + 4]), end

    def lane_open(self) -> bool:
        """Whether the lane may reply now: the connection is open and not backed up."""
        return self.conn.state is State.OPEN and not self.close_sent and self.writable.is_set()

    def write_frame(self, frame: bytes) -> None:
        """Send a frame from the lane (:func:`binary_frame`; inside ``data_received``: no
        await)."""
        self.transport.write(frame)


def lane_protocol(scope: dict[str, Any]) -> LaneWebSocketProtocol | None:
    """The connection's protocol when it offers a lane (not under a test client)."""
    protocol = scope.get("extensions", {}).get(LANE_EXTENSION)
    return protocol if isinstance(protocol, LaneWebSocketProtocol) else None

"""uvicorn's websocket protocol, reading on while the application keeps up.

uvicorn's sans-I/O websocket protocol stops reading the socket after queueing each message
and starts again when the application takes it. A ping-pong client (the SDKs' direct I/O)
sends one message and waits for the answer, so every message paid for a pause and a resume
of reading: two changes of the event loop's interest in the socket, each a system call at
its next poll (4 of the 15 system calls of a step, docs/performance.md). Here reading pauses
only once :data:`READ_AHEAD` messages wait for the application, which a ping-pong client
never reaches; a client that floods the socket is still held back.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["READ_AHEAD", "ReadAheadWebSocketProtocol"]

READ_AHEAD = 2
"""Messages queued for the application before reading pauses (uvicorn's own: 1)."""


class ReadAheadWebSocketProtocol(WebSocketsSansIOProtocol):
    """Pauses reading at :data:`READ_AHEAD` queued messages instead of at every one."""

    def send_receive_event_to_app(self) -> None:
        if self.read_paused or self.queue.qsize() + 1 >= READ_AHEAD:
            super().send_receive_event_to_app()  # queues the message and pauses reading
            return
        # the base class pauses unless reading is paused already: let it believe so
        self.read_paused = True
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = False

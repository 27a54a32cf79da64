"""The websocket protocol's lane: which messages it is offered, and that order holds.

The protocol is driven in process: a client's handshake and frames (written by the
``websockets`` client protocol) go to ``data_received``; a transport keeps what it wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from hanami.server.websocket.protocol import LaneWebSocketProtocol, lane_protocol


class _Transport(asyncio.Transport):
    """The socket's side as the protocol sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        self.written += data

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


async def _session(lane: Callable[[Any], bool], frames: list[Frame]) -> tuple[list, list]:
    """Connect, register ``lane``, send ``frames``; what the lane was offered and what
    reached the application through the queue."""
    done = asyncio.Event()
    scopes: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await done.wait()

    config = Config(app=app, ws=LaneWebSocketProtocol, log_config=None)
    config.load()
    protocol = LaneWebSocketProtocol(config, ServerState(), {})
    transport = _Transport()
    protocol.connection_made(transport)
    client = ClientProtocol(parse_uri("ws://127.0.0.1:8000/"))
    client.send_request(client.connect())
    protocol.data_received(b"".join(client.data_to_send()))
    for _ in range(20):  # let the application accept
        await asyncio.sleep(0)
    assert lane_protocol(scopes[0]) is protocol
    offered: list[bytes] = []

    def recording(data: Any) -> bool:
        offered.append(bytes(data))
        return lane(data)

    protocol.lane = recording
    client.receive_data(bytes(transport.written))
    for frame in frames:
        client.send_frame(frame)
    protocol.data_received(b"".join(client.data_to_send()))
    queued = []
    while not protocol.queue.empty():
        queued.append(protocol.queue.get_nowait().get("bytes"))
    done.set()
    for _ in range(20):
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return offered, queued


def _binary(data: bytes, fin: bool = True) -> Frame:
    return Frame(Opcode.BINARY, data, fin=fin)


def test_the_lane_takes_what_it_accepts_and_the_rest_is_queued_in_order() -> None:
    frames = [_binary(b"a1"), _binary(b"b2"), _binary(b"a3"), _binary(b"a4")]
    offered, queued = asyncio.run(_session(lambda data: bytes(data).startswith(b"a"), frames))
    # once a declined message waits in the queue, later ones are not offered: order holds
    assert offered == [b"a1", b"b2"]
    assert queued == [b"b2", b"a3", b"a4"]


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([_binary(b"part-", fin=False), Frame(Opcode.CONT, b"two", fin=True)], b"part-two"),
        ([Frame(Opcode.TEXT, b"text")], None),  # a text message carries no bytes
    ],
)
def test_fragmented_and_text_messages_are_not_offered(frames, message) -> None:
    offered, queued = asyncio.run(_session(lambda data: True, frames))
    assert offered == []
    assert queued == [message]

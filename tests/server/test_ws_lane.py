"""The websocket protocol's lane: which messages it is offered, and that order holds.

The protocol is driven in process: a client's handshake and frames (written by the
``websockets`` client protocol) go to ``data_received``; a transport keeps what it wrote.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol
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


async def _session(
    lane: Callable[[Any], bool],
    frames: list[Frame] | bytes,
    cuts: Iterable[int] = (),
    **config: Any,
) -> tuple[list, list, ClientProtocol]:
    """Connect, register ``lane``, send ``frames`` (or these bytes as they are), cut at the
    offsets ``cuts`` (where one read of the socket ends); what the lane was offered, what
    reached the application through the queue, and the client with what the server wrote."""
    done = asyncio.Event()
    scopes: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await done.wait()

    settings = Config(app=app, ws=LaneWebSocketProtocol, log_config=None, **config)
    settings.load()
    protocol = LaneWebSocketProtocol(settings, ServerState(), {})
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
    client.events_received()  # the handshake's response
    del transport.written[:]
    if isinstance(frames, bytes):
        sent = frames
    else:
        for frame in frames:
            client.send_frame(frame)
        sent = b"".join(client.data_to_send())
    bounds = sorted({0, len(sent), *(cut for cut in cuts if 0 < cut < len(sent))})
    for start, end in itertools.pairwise(bounds):
        protocol.data_received(sent[start:end])
    client.receive_data(bytes(transport.written))
    queued = []
    while not protocol.queue.empty():
        queued.append(protocol.queue.get_nowait().get("bytes"))
    done.set()
    for _ in range(20):
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return offered, queued, client


def _binary(data: bytes, fin: bool = True) -> Frame:
    return Frame(Opcode.BINARY, data, fin=fin)


def test_the_lane_takes_what_it_accepts_and_the_rest_is_queued_in_order() -> None:
    frames = [_binary(b"a1"), _binary(b"b2"), _binary(b"a3"), _binary(b"a4")]
    offered, queued, _ = asyncio.run(_session(lambda data: bytes(data).startswith(b"a"), frames))
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
    offered, queued, _ = asyncio.run(_session(lambda data: True, frames))
    assert offered == []
    assert queued == [message]


_LONG, _LONGER = b"a" * 300, b"a" * 70_000  # lengths in 2 and in 8 extra header bytes


@pytest.mark.parametrize("chunk", [1, 2, 5, 7, 300, 4096, 100_000])
def test_messages_split_or_joined_across_reads_are_offered_once_and_in_order(chunk) -> None:
    frames = [_binary(b"a1"), _binary(_LONG), _binary(b"b2"), _binary(b"a3"), _binary(_LONGER)]
    offered, queued, _ = asyncio.run(
        _session(lambda data: bytes(data).startswith(b"a"), frames, range(0, 80_000, chunk))
    )
    assert offered == [b"a1", _LONG, b"b2"]
    assert queued == [b"b2", b"a3", _LONGER]


def test_the_parser_is_looked_into_once_while_the_lane_takes_every_message(monkeypatch):
    """Where the parser waits is found once and kept until it is fed: not walked through
    its generators again for every message the lane takes."""
    looks: list[int] = []

    def parser(self: Any) -> Any:
        looks.append(1)
        return self.__dict__["_parser"]

    def set_parser(self: Any, value: Any) -> None:
        self.__dict__["_parser"] = value

    monkeypatch.setattr(Protocol, "parser", property(parser, set_parser), raising=False)
    counts = []
    for messages in (1, 6):
        looks.clear()
        frames = [_binary(b"a%d" % k) for k in range(messages)]
        offered, queued, _ = asyncio.run(_session(lambda data: True, frames, range(0, 99, 8)))
        assert (len(offered), queued) == (messages, [])
        counts.append(len(looks))
    assert counts[0] == counts[1]


def test_control_frames_between_messages_are_answered() -> None:
    frames = [_binary(b"a1"), Frame(Opcode.PING, b"ping"), _binary(b"a2")]
    offered, queued, client = asyncio.run(_session(lambda data: True, frames))
    assert (offered, queued) == ([b"a1", b"a2"], [])
    replies = client.events_received()
    assert [(frame.opcode, frame.data) for frame in replies] == [(Opcode.PONG, b"ping")]


def test_a_message_over_the_size_limit_closes_with_1009_unoffered() -> None:
    offered, queued, client = asyncio.run(
        _session(lambda data: True, [_binary(_LONG)], ws_max_size=100)
    )
    assert offered == [] and _LONG not in queued  # the application is told it closed
    assert client.close_rcvd is not None and client.close_rcvd.code == 1009


def test_a_message_read_in_two_after_its_header_is_one_message() -> None:
    # the first read ends after the header and the mask: the parser has consumed them and
    # holds nothing, yet waits for the payload, which here looks like a frame itself (a
    # mask of zeros leaves it as it is on the wire)
    inner = Frame(Opcode.BINARY, b"inner").serialize(mask=True, extensions=[])
    outer = bytes([0x82, 0x80 | len(inner)]) + bytes(4) + inner
    offered, queued, _ = asyncio.run(_session(lambda data: True, outer, [6]))
    assert (offered, queued) == ([inner], [])

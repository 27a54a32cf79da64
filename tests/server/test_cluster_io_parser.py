"""A session's ClusterIOParser: what it returns for a message of a shape it has seen is what
a full parse returns, and it does not parse such a message again."""

from __future__ import annotations

import numpy as np
import pytest

from hanami.protocol.cluster_io import encode_values
from hanami.protocol.proto import (
    EXPECTED_BUFFER_TYPE,
    INPUT_BUFFER_TYPE,
    TRAIN_TYPE,
    ClusterIO_Message,
)
from hanami.server.websocket.cluster_messages import ClusterIOParser, parse_cluster_io
from hanami.server.websocket.session import CloseCode, WsClose

RNG = np.random.default_rng(7)


def _message(name: str, values: np.ndarray, *, kind: int = INPUT_BUFFER_TYPE,
             last: bool = False, count: int | None = None) -> bytes:  # fmt: skip
    header = ClusterIO_Message(
        bufferName=name,
        isLast=last,
        processType=TRAIN_TYPE,
        targetBufferType=kind,
        numberOfValues=len(values) if count is None else count,
    )
    return encode_values(header, values)


def _fields(message: ClusterIO_Message) -> tuple:
    return (message.bufferName, message.isLast, message.processType,
            message.targetBufferType, message.numberOfValues)  # fmt: skip


def _values(n: int) -> np.ndarray:
    return RNG.standard_normal(n).astype(np.float32)


MESSAGES = [
    _message("picture_hex", _values(784)),
    _message("label_hex", _values(10), kind=EXPECTED_BUFFER_TYPE, last=True),
    _message("picture_hex", _values(784)),
    # same length, other bytes before the values: another shape
    _message("picture_hey", _values(784)),
    _message("picture_hex", _values(784), last=True),
    _message("label_hex", _values(10), kind=INPUT_BUFFER_TYPE, last=True),
    # fewer values counted than sent: the count is part of the shape
    _message("picture_hex", _values(784), count=700),
    _message("picture_hex", _values(784), count=700),
    _message("label_hex", _values(10), kind=EXPECTED_BUFFER_TYPE, last=True),
    # the values first, a field after them: never taken as a known shape
    encode_values(ClusterIO_Message(), _values(10))
    + ClusterIO_Message(bufferName="a", numberOfValues=10).SerializeToString(),
    encode_values(ClusterIO_Message(), _values(10))
    + ClusterIO_Message(bufferName="b", numberOfValues=10).SerializeToString(),
]


def test_every_message_parses_as_a_full_parse_would() -> None:
    parse = ClusterIOParser()
    for data in [*MESSAGES, *MESSAGES]:
        message, values = parse(data)
        expected_message, expected_values = parse_cluster_io(data)
        assert _fields(message) == _fields(expected_message)
        assert values.dtype == np.float32
        np.testing.assert_array_equal(values, expected_values)


def test_a_message_of_a_known_shape_is_not_parsed_again() -> None:
    parse = ClusterIOParser()
    first, _ = parse(MESSAGES[0])
    again, values = parse(MESSAGES[2])
    assert again is first  # the remembered fields; only the values were read
    np.testing.assert_array_equal(values, parse_cluster_io(MESSAGES[2])[1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_known_shape_with_a_non_finite_value_closes_4400(bad: float) -> None:
    parse = ClusterIOParser()
    parse(MESSAGES[0])
    values = _values(784)
    values[100] = bad
    with pytest.raises(WsClose) as closed:
        parse(_message("picture_hex", values))
    assert closed.value.code == CloseCode.BAD_REQUEST
    assert "picture_hex" in closed.value.reason


def test_a_text_frame_closes_4400_as_before() -> None:
    parse = ClusterIOParser()
    parse(MESSAGES[0])
    with pytest.raises(WsClose) as closed:
        parse("x" * len(MESSAGES[0]))  # the length of a known shape
    assert closed.value.code == CloseCode.BAD_REQUEST

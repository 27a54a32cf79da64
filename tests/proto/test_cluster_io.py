"""The float values of a ClusterIO_Message read and written as bytes, for every valid encoding."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from test_proto_messages import FIXED32, LEN, VARINT, key, varint

from hanami.protocol.cluster_io import decode_values, encode_values
from hanami.protocol.proto import INPUT_BUFFER_TYPE, REQUEST_TYPE, ClusterIO_Message

VALUES = np.array([0.5, -2.25, 3e-8, 1e30, 0.0, -0.0, 7.0], dtype=np.float32)


def _packed(values: np.ndarray) -> bytes:
    raw = values.astype("<f4").tobytes()
    return key(6, LEN) + varint(len(raw)) + raw


def _unpacked(values: np.ndarray) -> bytes:
    return b"".join(key(6, FIXED32) + struct.pack("<f", v) for v in values)


HEAD = ClusterIO_Message(bufferName="picture_hex", targetBufferType=INPUT_BUFFER_TYPE,
                         numberOfValues=len(VALUES)).SerializeToString()  # fmt: skip
UNKNOWN = key(9, VARINT) + varint(300) + key(10, LEN) + varint(2) + b"ok" + key(11, 1) + bytes(8)

ENCODINGS = {
    "packed, last": HEAD + _packed(VALUES),
    "packed, first": _packed(VALUES) + HEAD,
    "packed, between unknown fields": UNKNOWN + _packed(VALUES) + UNKNOWN + HEAD,
    "packed, two records": HEAD + _packed(VALUES[:3]) + _packed(VALUES[3:]),
    "unpacked": HEAD + _unpacked(VALUES),
    "packed and unpacked": HEAD + _packed(VALUES[:2]) + _unpacked(VALUES[2:]),
    "packed, long length varint": HEAD + key(6, LEN) + b"\x9c\x80\x00" + VALUES.tobytes(),
    "protobuf's own": ClusterIO_Message(
        bufferName="picture_hex", values=VALUES.tolist()
    ).SerializeToString(),
}


@pytest.mark.parametrize("data", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_decode_matches_protobuf(data: bytes) -> None:
    message = ClusterIO_Message.FromString(data)
    decoded = decode_values(data, message)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, np.array(message.values, dtype=np.float32))
    np.testing.assert_array_equal(decoded, VALUES)


def test_decode_without_values() -> None:
    data = ClusterIO_Message(bufferName="x", isLast=True).SerializeToString()
    assert decode_values(data, ClusterIO_Message.FromString(data)).shape == (0,)


def test_decode_reads_packed_values_in_place() -> None:
    """The one-packed-record case is a view of the received bytes, not a copy."""
    data = HEAD + _packed(VALUES)
    decoded = decode_values(data, ClusterIO_Message.FromString(data))
    assert not decoded.flags.owndata and not decoded.flags.writeable


def test_encode_parses_like_protobuf() -> None:
    header = ClusterIO_Message(bufferName="out", processType=REQUEST_TYPE, numberOfValues=7)
    data = encode_values(header, VALUES.astype(np.float64).reshape(7, 1))
    reference = ClusterIO_Message(
        bufferName="out", processType=REQUEST_TYPE, numberOfValues=7, values=VALUES.tolist()
    )
    assert data == reference.SerializeToString()
    assert header.values == []  # the caller's message is left as it was


def test_encode_empty_values() -> None:
    header = ClusterIO_Message(bufferName="out", isLast=True)
    assert encode_values(header, np.zeros(0)) == header.SerializeToString()


def test_encode_long_field() -> None:
    values = np.arange(100_000, dtype=np.float32)  # a three-byte length varint
    data = encode_values(ClusterIO_Message(), values)
    np.testing.assert_array_equal(ClusterIO_Message.FromString(data).values, values)

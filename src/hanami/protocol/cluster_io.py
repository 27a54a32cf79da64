"""The float values of a ``ClusterIO_Message`` to and from NumPy without a Python float each.

protobuf's Python API hands ``repeated float values`` out one Python float at a time:
``np.array(message.values)`` of an MNIST picture iterates 784 of them (about 12 µs, more
than the rest of the parse), and ``values=array.tolist()`` builds as many on the way out.
The wire format of a packed field is the little-endian floats back to back, so both ends
can use the bytes as they are:

- :func:`decode_values` reads the packed field straight out of the serialized message with
  ``np.frombuffer`` when the message holds it exactly once, packed; any other valid
  encoding (unpacked floats, the field split over several records, a group) takes
  protobuf's own path. Parse the message with protobuf first: it validates the bytes, this
  only finds the field in them.
- :func:`encode_values` appends the packed field to the message's other fields: protobuf
  merges a repeated field that follows the others, so the result parses like
  ``values=array.tolist()`` would.
"""

from __future__ import annotations

import numpy as np

from hanami.protocol.proto import ClusterIO_Message

__all__ = ["decode_values", "encode_values", "packed_span"]

_VALUES = ClusterIO_Message.DESCRIPTOR.fields_by_name["values"].number
_PACKED_TAG = _VALUES << 3 | 2
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_FLOAT = np.dtype("<f4")


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    """The varint at ``offset`` and the offset after it."""
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _packed_span(data: bytes) -> tuple[int, int] | None:
    """(offset, length) of the packed values field if it is the only record of the field,
    else None (absent, unpacked, several records, or a group: use protobuf's path)."""
    span = None
    offset, end = 0, len(data)
    while offset < end:
        tag, offset = _varint(data, offset)
        wire = tag & 7
        if wire == _VARINT:
            _, offset = _varint(data, offset)
        elif wire == _LEN:
            length, offset = _varint(data, offset)
            if tag == _PACKED_TAG:
                if span is not None:
                    return None
                span = (offset, length)
            offset += length
        elif wire in (_I64, _I32):
            if tag >> 3 == _VALUES:
                return None
            offset += 8 if wire == _I64 else 4
        else:
            return None
    return span if offset == end else None


def packed_span(data: bytes) -> tuple[int, int] | None:
    """(offset, length in bytes) of the values in ``data`` when the field is one packed
    record of whole floats, else None (protobuf's path)."""
    try:
        span = _packed_span(data)
    except IndexError:  # cut short: not what protobuf parsed, so take its path
        return None
    return None if span is None or span[1] % 4 else span


def decode_values(data: bytes, message: ClusterIO_Message) -> np.ndarray:
    """``message.values`` (``message`` parsed from ``data``) as a float32 array, a read-only
    view of ``data`` where the field is one packed record."""
    span = packed_span(data)
    if span is None:
        return np.array(message.values, dtype=np.float32)
    offset, length = span
    return np.frombuffer(data, dtype=_FLOAT, count=length // 4, offset=offset)


def encode_values(message: ClusterIO_Message, values: np.ndarray) -> bytes:
    """``message`` (its ``values`` left empty) serialized with ``values`` as its packed
    float field."""
    raw = np.ascontiguousarray(values, dtype=_FLOAT).ravel().tobytes()
    if not raw:
        return message.SerializeToString()
    return b"".join((message.SerializeToString(), _encode_varint(_PACKED_TAG),
                     _encode_varint(len(raw)), raw))  # fmt: skip


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)

"""The batch frame of direct cluster I/O (docs/websocket.md, "Batched mode").

One codec for both ends, so the server and the SDK cannot drift apart: a frame is a
4-byte little-endian header length, a compact JSON header, then float32 payload, every
buffer ``[samples, width]`` row-major in header order. Clients send :func:`encode_batch`
frames that the server reads with :func:`parse_batch` (strict: it faces the network); the
server answers :func:`encode_reply` / :func:`error_reply` frames that clients read with
:func:`decode_batch_reply`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "BATCH_VERSION",
    "MAX_FRAME_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_SAMPLES",
    "Batch",
    "BatchError",
    "decode_batch_reply",
    "encode_batch",
    "encode_reply",
    "error_reply",
    "parse_batch",
]

BATCH_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024
"""uvicorn's default websocket message limit."""
MAX_HEADER_BYTES = 64 * 1024
MAX_SAMPLES = 65_536
_LENGTH = struct.Struct("<I")

Kind = Literal["train", "request"]


class BatchError(ValueError):
    """A frame that cannot be used; ``seq`` is known once the header parsed."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class _BufferSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=254)
    kind: Literal["input", "expected"]
    width: Annotated[int, Field(ge=1, le=1 << 24)]


class _BatchHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    seq: Annotated[int, Field(ge=0, le=(1 << 53) - 1)]
    type: Kind
    samples: Annotated[int, Field(ge=1, le=MAX_SAMPLES)]
    buffers: list[_BufferSpec] = Field(min_length=1, max_length=256)


@dataclass
class Batch:
    """One parsed client frame: ``[samples, width]`` float32 arrays per buffer name."""

    seq: int
    type: Kind
    samples: int
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]


def _frame(header: dict[str, Any], arrays: list[np.ndarray]) -> bytes:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    payload = b"".join(np.ascontiguousarray(a, dtype="<f4").tobytes() for a in arrays)
    return _LENGTH.pack(len(encoded)) + encoded + payload


def _split_frame(frame: bytes | str) -> tuple[dict[str, Any], memoryview]:
    if isinstance(frame, str):
        raise BatchError("Batch frames must be binary")
    if len(frame) < _LENGTH.size:
        raise BatchError("Batch frame is shorter than its 4-byte header length")
    (length,) = _LENGTH.unpack_from(frame)
    if length > MAX_HEADER_BYTES or _LENGTH.size + length > len(frame):
        raise BatchError(f"Batch header length {length} is invalid for a {len(frame)}-byte frame")
    try:
        header = json.loads(bytes(frame[_LENGTH.size : _LENGTH.size + length]))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BatchError(f"Batch header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise BatchError("Batch header must be a JSON object")
    return header, memoryview(frame)[_LENGTH.size + length :]


def encode_batch(
    seq: int,
    kind: Kind,
    inputs: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray] | None = None,
) -> bytes:
    """A client frame from ``[samples, width]`` arrays (inputs first, then expected)."""
    arrays = [(n, "input", np.asarray(a, dtype="<f4")) for n, a in inputs.items()]
    arrays += [(n, "expected", np.asarray(a, dtype="<f4")) for n, a in (expected or {}).items()]
    samples = {a.shape[0] for _, _, a in arrays}
    if len(samples) != 1 or any(a.ndim != 2 for _, _, a in arrays):
        raise ValueError("every buffer must be [samples, width] with the same sample count")
    header = {
        "seq": seq,
        "type": kind,
        "samples": samples.pop(),
        "buffers": [{"name": n, "kind": k, "width": a.shape[1]} for n, k, a in arrays],
    }
    return _frame(header, [a for _, _, a in arrays])


def parse_batch(frame: bytes | str) -> Batch:
    """Parse a client frame; raises :class:`BatchError` with a message for the client."""
    raw, payload = _split_frame(frame)
    seq = raw.get("seq") if isinstance(raw.get("seq"), int) else None
    try:
        header = _BatchHeader.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'header'}: {e['msg']}" for e in exc.errors()
        )
        raise BatchError(f"Invalid batch header: {problems}", seq) from exc
    needed = sum(header.samples * b.width * 4 for b in header.buffers)
    if len(payload) != needed:
        raise BatchError(
            f"Batch payload has {len(payload)} bytes; the header describes {needed} "
            f"({header.samples} samples of float32)",
            header.seq,
        )
    inputs: dict[str, np.ndarray] = {}
    expected: dict[str, np.ndarray] = {}
    offset = 0
    for spec in header.buffers:
        target = inputs if spec.kind == "input" else expected
        if spec.name in target:
            raise BatchError(f"Buffer '{spec.name}' ({spec.kind}) appears twice", header.seq)
        count = header.samples * spec.width
        array = np.frombuffer(payload, dtype="<f4", count=count, offset=offset)
        offset += count * 4
        if not np.isfinite(array).all():
            raise BatchError(f"Buffer '{spec.name}' holds NaN or inf", header.seq)
        target[spec.name] = array.astype(np.float32).reshape(header.samples, spec.width)
    if not inputs:
        raise BatchError("A batch needs at least one input buffer", header.seq)
    if header.type == "request" and expected:
        raise BatchError("A request batch takes no expected buffers", header.seq)
    return Batch(header.seq, header.type, header.samples, inputs, expected)


def encode_reply(batch: Batch, outputs: Mapping[str, np.ndarray]) -> bytes:
    """The server's answer to ``batch``: ``ok`` and the ``[samples, width]`` outputs."""
    header = {
        "seq": batch.seq,
        "ok": True,
        "type": batch.type,
        "samples": batch.samples,
        "buffers": [{"name": name, "width": int(rows.shape[1])} for name, rows in outputs.items()],
    }
    return _frame(header, list(outputs.values()))


def error_reply(seq: int | None, message: str) -> bytes:
    """The server's answer to a frame it refused."""
    return _frame({"seq": seq, "ok": False, "error": message}, [])


def decode_batch_reply(frame: bytes | str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Split a server answer into its header and ``{name: [samples, width]}`` float32
    outputs; raises :class:`BatchError` when the frame does not hold what its header says."""
    header, payload = _split_frame(frame)
    outputs: dict[str, np.ndarray] = {}
    offset = 0
    try:
        samples = int(header.get("samples") or 0)
        for spec in header.get("buffers") or []:
            width = int(spec["width"])
            count = samples * width
            array = np.frombuffer(payload, dtype="<f4", count=count, offset=offset)
            outputs[str(spec["name"])] = array.astype(np.float32).reshape(samples, width)
            offset += count * 4
    except (KeyError, TypeError, ValueError) as exc:
        raise BatchError(f"Batch answer does not match its header: {exc}") from exc
    return header, outputs

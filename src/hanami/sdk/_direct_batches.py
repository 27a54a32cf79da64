"""The batched extension of direct I/O: many rows per frame, several frames in flight.

Only Hanami servers offer it (their init answer carries ``batched`` capabilities); the frame
codec is ``hanami.protocol.batch``, shared with the server.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from hanami.protocol.batch import (
    MAX_FRAME_BYTES,
    MAX_HEADER_BYTES,
    BatchError,
    decode_batch_reply,
    encode_batch,
)
from hanami.sdk._direct_values import row_count
from hanami.sdk._exceptions import WebsocketError

__all__ = ["run_batches"]


def chunk_rows(
    buffers: Mapping[str, np.ndarray], capabilities: Mapping[str, Any], batch_size: int
) -> int:
    """Rows per frame: at most ``batch_size`` and what the server's limits allow."""
    width = sum(int(a.shape[1]) for a in buffers.values()) or 1
    frame_bytes = int(capabilities.get("max_frame_bytes", MAX_FRAME_BYTES))
    max_frame = frame_bytes - MAX_HEADER_BYTES
    by_size = max(1, max_frame // (4 * width))
    max_samples = int(capabilities.get("max_samples", batch_size))
    return max(1, min(batch_size, max_samples, by_size))


async def run_batches(
    send: Callable[[bytes], Awaitable[None]],
    receive: Callable[[], Awaitable[str | bytes]],
    kind: str,
    inputs: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray] | None,
    *,
    seq: itertools.count[int],
    capabilities: Mapping[str, Any],
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Send ``[rows, width]`` buffers as batch frames numbered from ``seq``, keeping up to
    ``max_in_flight`` frames unanswered; returns the outputs of a request, rows in order."""
    buffers = {**inputs, **(expected or {})}
    n = row_count(inputs, "x")
    chunk = chunk_rows(buffers, capabilities, batch_size)
    window = max(1, int(capabilities.get("max_in_flight", 1)))
    pending: collections.deque[tuple[int, int]] = collections.deque()
    pieces: dict[str, list[np.ndarray]] = {}
    done = 0
    error: str | None = None

    async def receive_one() -> None:
        nonlocal done, error
        frame_seq, frame_rows = pending.popleft()
        try:
            header, outputs = decode_batch_reply(await receive())
        except BatchError as exc:
            raise WebsocketError(f"unreadable batch answer: {exc}") from exc
        if header.get("seq") != frame_seq:
            raise WebsocketError(f"batch answer {header.get('seq')} arrived for {frame_seq}")
        if not header.get("ok"):
            error = error or str(header.get("error") or "unknown error")
            return
        for name, values in outputs.items():
            pieces.setdefault(name, []).append(values)
        done += frame_rows
        if progress is not None:
            progress(done, n)

    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        frame_seq = next(seq)
        frame = encode_batch(
            frame_seq,
            kind,
            {k: v[start:stop] for k, v in inputs.items()},
            {k: v[start:stop] for k, v in (expected or {}).items()},
        )
        await send(frame)
        pending.append((frame_seq, stop - start))
        while len(pending) >= window:
            await receive_one()
    while pending:
        await receive_one()
    if error is not None:
        raise WebsocketError(f"the server refused a {kind} batch: {error}")
    return {name: np.concatenate(parts) for name, parts in pieces.items()}

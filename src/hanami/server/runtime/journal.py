"""Step journal: the direct-I/O steps a cluster took since its last autosave, on disk.

Direct I/O changes a cluster in memory only; the autosave (:mod:`hanami.server.runtime.registry`)
writes it out every few minutes. So that an acknowledged step survives ``kill -9``, each
step is written to ``<cluster_location>/<uuid>.journal`` *before* it is acknowledged; at
start-up the records are replayed on top of the autosave, and every autosave empties the
file (the checkpoint holds them).

File layout: records back to back, nothing else. A record is::

    uint32 LE  payload length P
    uint32 LE  CRC-32 of the next 8 + P bytes
    8 bytes    base: the first 8 bytes of the SHA-256 of the autosave it applies to
    P bytes    payload (:func:`encode_step`)

A record cut short by a crash, or one whose CRC does not match, ends the journal: it and
everything after it are dropped (the step was never acknowledged). Records whose base is
not the current autosave are stale (the crash came between writing the autosave and
emptying the journal): they are skipped, never applied twice.

**When a record counts as written** (:data:`SYNC_MODES`, the ``journal_sync`` setting).
:meth:`StepJournal.append` writes the record into the page cache, under the cluster's lock
(the file order is the order the steps ran in). Once ``write`` returned, the kernel holds
the data: the step survives ``kill -9`` of the server whatever the mode. What the mode
decides is an operating-system crash or a power loss:

- ``always``: :meth:`StepJournal.commit` runs ``fdatasync`` before the step is acknowledged
  (or waits for the sync in progress and shares the next: group commit). The sync runs in
  the caller's thread: for a small step, a hop to another thread and back costs about as
  much as the sync itself. Large steps start a sync in the background
  (:meth:`StepJournal.start_sync`) so that it overlaps their pass.
- ``interval``: :meth:`StepJournal.commit` returns at once; :class:`PeriodicSync` syncs
  every journal with new records every ``journal_sync_interval`` seconds, in one
  background thread. A power loss can cost the steps acknowledged in that last interval
  (the bargain of PostgreSQL's ``synchronous_commit = off`` or Redis's ``appendfsync
  everysec``); a lone client no longer waits for the disk on every step.

**Preallocation** (``always``). Small records are written into space filled with zeros
beforehand (:data:`PREALLOCATE` bytes at a time): overwriting written blocks needs no
metadata update, so the ``fdatasync`` each step waits for flushes the data only. Zeros end
the journal like a torn record. In ``interval`` mode no step waits for a sync, and a
record appended past the end of the file costs half the CPU of one written over zeros
(which were written too), without the pause of writing 4 MiB of zeros on the event loop.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

__all__ = [
    "FRAME_BYTES",
    "PREALLOCATE",
    "REQUEST_STEP",
    "SYNC_INTERVAL_S",
    "SYNC_MODES",
    "TRAIN_STEP",
    "JournalError",
    "JournalSync",
    "Mark",
    "PeriodicSync",
    "Position",
    "Step",
    "StepJournal",
    "base_of",
    "decode_step",
    "encode_step",
    "read_journal",
    "replayable",
]

logger = logging.getLogger("hanami.server.runtime.journal")

TRAIN_STEP, REQUEST_STEP = 1, 2
"""Record kinds: a train step; a request step that changed the cluster (inputs grew)."""
_FRAME = struct.Struct("<II8s")
FRAME_BYTES = _FRAME.size
_STEP = struct.Struct("<BH")  # kind, buffer count
_BUFFER = struct.Struct("<BHB")  # role (0 input, 1 expected), name length, ndim
_MAX_RECORD = 1 << 31
PREALLOCATE = 4 * 1024 * 1024
JournalSync = Literal["always", "interval"]
"""When an acknowledged step reaches the disk (see the module docstring)."""
SYNC_MODES: tuple[str, ...] = get_args(JournalSync)
Position = tuple[bytes, int]
"""A journal record as (base, offset where it ends): the steps before it are the file's."""
SYNC_INTERVAL_S = 0.2
"""``interval`` mode: the default time between two syncs of a journal with new records."""


class JournalError(OSError):
    """The journal could not be written or synced: steps cannot be acknowledged."""


@dataclass(frozen=True)
class Step:
    kind: int
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]


@dataclass(frozen=True)
class Mark:
    """Where :meth:`StepJournal.append` put a record: ``seq`` to wait for, ``offset`` to
    retract it, ``position`` (base, end offset) that names it to an executor."""

    seq: int
    offset: int
    position: Position


def base_of(digest: bytes) -> bytes:
    """The base id of records written on top of a checkpoint with this SHA-256."""
    return digest[:8]


def encode_step(
    kind: int, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]
) -> list[bytes | memoryview]:
    """The payload of one record, as parts for ``os.writev`` (the arrays are not copied)."""
    parts: list[bytes | memoryview] = [_STEP.pack(kind, len(inputs) + len(expected))]
    for role, buffers in ((0, inputs), (1, expected)):
        for name, array in buffers.items():
            values = np.ascontiguousarray(array, dtype="<f4")
            parts.append(_buffer_header(role, name, values.shape))
            parts.append(memoryview(values).cast("B"))
    return parts


@functools.lru_cache(maxsize=256)
def _buffer_header(role: int, name: str, shape: tuple[int, ...]) -> bytes:
    """What precedes a buffer's values; a session sends the same few step after step."""
    encoded = name.encode()
    return (
        _BUFFER.pack(role, len(encoded), len(shape))
        + encoded
        + struct.pack(f"<{len(shape)}I", *shape)
    )


def decode_step(payload: bytes | memoryview) -> Step:
    """Inverse of :func:`encode_step` (``ValueError`` for a payload it did not write)."""
    view = memoryview(payload)
    try:
        kind, count = _STEP.unpack_from(view)
        offset = _STEP.size
        inputs: dict[str, np.ndarray] = {}
        expected: dict[str, np.ndarray] = {}
        for _ in range(count):
            role, length, ndim = _BUFFER.unpack_from(view, offset)
            offset += _BUFFER.size
            name = bytes(view[offset : offset + length]).decode()
            offset += length
            shape = struct.unpack_from(f"<{ndim}I", view, offset)
            offset += 4 * ndim
            size = int(np.prod(shape, dtype=np.int64))
            values = np.frombuffer(view, dtype="<f4", count=size, offset=offset)
            offset += 4 * size
            (expected if role else inputs)[name] = values.astype(np.float32).reshape(shape)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable journal record: {exc}") from exc
    if offset != len(view):
        raise ValueError("unreadable journal record: trailing bytes")
    return Step(kind, inputs, expected)


def read_journal(path: Path) -> tuple[list[tuple[bytes, memoryview]], int]:
    """The intact records of a journal file as ``(base, payload)``, and where they end
    (the first torn or damaged record, if any, starts there)."""
    try:
        data = memoryview(path.read_bytes())
    except FileNotFoundError:
        return [], 0
    records: list[tuple[bytes, memoryview]] = []
    offset = 0
    while offset + _FRAME.size <= len(data):
        length, crc, base = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        if start + length > len(data):
            break
        payload = data[start : start + length]
        if zlib.crc32(payload, zlib.crc32(base)) != crc:
            break
        records.append((base, payload))
        offset = start + length
    return records, offset


class StepJournal:
    """The open journal of one cluster (see the module docstring); thread-safe."""

    def __init__(
        self,
        path: Path,
        digest: bytes,
        pool: Executor,
        *,
        end: int = 0,
        mode: JournalSync = "always",
    ) -> None:
        """Open ``path`` for records on top of the autosave with SHA-256 ``digest``;
        whatever lies beyond ``end`` (a torn record: :func:`read_journal`) is cut off.
        ``mode`` says what :meth:`commit` waits for."""
        self.path = path
        self.mode = mode
        self._base = base_of(digest)
        self._pool = pool
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.ftruncate(self._fd, end)
        self._size = end
        self._allocated = end
        self._changed = threading.Condition()
        self._appended = 0
        self._synced = 0
        self._syncing = False
        self._error: Exception | None = None
        """Why steps are refused: a :class:`JournalError`, or ``LookupError`` once closed."""

    @property
    def size(self) -> int:
        """Bytes of records: what a restart would replay."""
        return self._size

    def append(
        self, kind: int, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]
    ) -> Mark:
        """Write one record (not yet durable: :meth:`sync`); call it under the cluster's
        lock, in the order the steps run."""
        return self.write(encode_step(kind, inputs, expected))

    def append_ahead(
        self, kind: int, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]
    ) -> Future[Mark]:
        """:meth:`append` in a pool thread (the next step's record while a step trains);
        its caller holds the cluster's lock until the record is run or retracted."""
        return self._pool.submit(self.append, kind, inputs, expected)

    def write(self, parts: list[bytes | memoryview]) -> Mark:
        """:meth:`append` of a payload already encoded (:func:`encode_step`'s parts)."""
        length = sum(len(p) for p in parts)
        if length >= _MAX_RECORD:
            raise JournalError(f"a step of {length} bytes is too large for the journal")
        crc = zlib.crc32(self._base)
        for part in parts:
            crc = zlib.crc32(part, crc)
        frame = [_FRAME.pack(length, crc, self._base), *parts]
        with self._changed:
            if self._error is not None:
                raise self._error
            offset = self._size
            try:
                if (
                    self.mode == "always"
                    and length < PREALLOCATE
                    and offset + _FRAME.size + length > self._allocated
                ):
                    os.pwrite(self._fd, bytes(PREALLOCATE), offset)
                    self._allocated = offset + PREALLOCATE
                written = os.pwritev(self._fd, frame, offset)
                if written != _FRAME.size + length:
                    raise OSError(f"short write: {written} of {_FRAME.size + length} bytes")
            except OSError as exc:
                self._error = JournalError(f"could not write the step journal: {exc}")
                raise self._error from exc
            self._size = offset + written
            self._allocated = max(self._allocated, self._size)
            self._appended += 1
            return Mark(self._appended, offset, (self._base, self._size))

    def retract(self, mark: Mark) -> None:
        """Drop the last record again (its step failed); under the same cluster lock."""
        with self._changed:
            try:
                os.pwrite(self._fd, bytes(_FRAME.size), mark.offset)
            except OSError as exc:
                self._error = JournalError(f"could not retract a journal record: {exc}")
            self._size = mark.offset

    def commit(self, mark: Mark) -> float:
        """Return once the record at ``mark`` may be acknowledged: on disk (``always``),
        or at once, as written (``interval``: :class:`PeriodicSync` syncs it soon); returns
        the seconds it waited."""
        if self.mode != "always":
            return 0.0
        started = time.perf_counter()
        self.sync(mark.seq)
        return time.perf_counter() - started

    def start_sync(self) -> None:
        """``always``: sync what was appended in a pool thread (overlapping a long pass)."""
        if self.mode == "always":
            self._pool.submit(self.flush)

    def flush(self) -> None:
        """Sync whatever was appended so far, if anything. A failure is not raised here:
        it refuses every later step (:meth:`append`, :meth:`sync`) and is logged."""
        if self._synced < self._appended:
            with contextlib.suppress(Exception):
                self.sync(self._appended)

    def sync(self, seq: int) -> None:
        """Return once record ``seq`` is on disk; raises :class:`JournalError` (or
        ``LookupError`` when the cluster was deleted) if it cannot be."""
        with self._changed:
            while self._synced < seq:
                if self._error is not None:
                    raise self._error
                if self._syncing:  # share the sync in progress, or the next one
                    self._changed.wait()
                    continue
                self._syncing = True
                target, fd = self._appended, self._fd
                self._changed.release()
                error: OSError | None = None
                try:
                    os.fdatasync(fd)
                except OSError as exc:
                    error = exc
                finally:
                    self._changed.acquire()
                    self._syncing = False
                    self._changed.notify_all()
                if error is not None:
                    self._error = self._error or JournalError(f"could not sync: {error}")
                    logger.error("step journal %s: sync failed: %s", self.path, error)
                else:
                    self._synced = max(self._synced, target)

    def reset(self, digest: bytes) -> None:
        """An autosave with this SHA-256 holds every step so far: empty the file, and count
        the records not yet synced as durable (the checkpoint was fsynced)."""
        with self._changed:
            while self._syncing:  # the fd stays as it is while a sync uses it
                self._changed.wait()
            os.ftruncate(self._fd, 0)
            self._size = self._allocated = 0
            self._base = base_of(digest)
            self._error = None
            self._synced = self._appended
            self._changed.notify_all()

    def close(self, *, remove: bool = False) -> None:
        """Close the file (its cluster was deleted: ``remove``); waiters get an error."""
        with self._changed:
            while self._syncing:
                self._changed.wait()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._error = self._error or LookupError("the cluster was deleted")
            self._changed.notify_all()
        if remove:
            self.path.unlink(missing_ok=True)


class PeriodicSync:
    """``interval`` mode: one thread that syncs every journal with new records every
    ``interval`` seconds, so that a step reaches the disk at most that long after its
    acknowledgement (plus the time of the sync itself)."""

    def __init__(self, journals: Callable[[], Iterable[StepJournal]], interval: float) -> None:
        self._journals = journals
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="JournalSyncInterval", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then sync what is left (a graceful shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self.sync_all()

    def sync_all(self) -> None:
        for journal in self._journals():
            journal.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sync_all()


def replayable(
    path: Path, digest: bytes | None
) -> tuple[Iterator[tuple[Step, Position]], int, int]:
    """What to replay on top of the autosave with SHA-256 ``digest`` (None: none loaded):
    the steps with their positions, the count of intact records whose base is another one
    (stale, or lost with the autosave), and where the intact records end."""
    records, end = read_journal(path)
    base = b"" if digest is None else base_of(digest)
    ends = itertools.accumulate(FRAME_BYTES + len(payload) for _, payload in records)
    matching = [(p, at) for (b, p), at in zip(records, ends, strict=True) if b == base]
    steps = ((decode_step(p), (base, at)) for p, at in matching)
    return steps, len(records) - len(matching), end

"""Direct cluster I/O over a websocket (spec 3.4), and the batched extension.

A cluster in DIRECT mode (``PUT cluster/set_mode``, recorded by the task engine
``ctx.tasks``) can be trained and asked step by step over a websocket initialised with
``target = cluster``. The work is done by the cluster registry (``ctx.clusters``):
``train_direct(uuid, inputs, expected)`` and ``request_direct(uuid, inputs) -> {output
name: values}``, both blocking, serialised per cluster and run here in worker threads so
the event loop stays free (compatible-mode steps that prove quick run on the event loop
instead, :mod:`~hanami.server.websocket.direct_steps`: the hop would cost as much as the
step). Every train
step is recorded in the cluster's step journal (:mod:`hanami.server.runtime.journal`) and
``train_direct`` returns once the record is committed (written, or on disk with
``journal_sync = always``): then it is acknowledged.

**Compatible mode** (what the SDKs speak): strict ping-pong of ``ClusterIO_Message``.

- A message with ``isLast = false`` stores its buffer (``INPUT`` or ``EXPECTED``) for the
  current step and is acknowledged at once with ``processType = TRAIN``,
  ``numberOfValues = 1``, ``values = [0]``, ``isLast = false`` and an empty name.
- A message with ``isLast = true`` stores its buffer and runs the step; its
  ``processType`` decides which. Train: after the pass, once the step's journal record is
  committed, the server sends ``isLast = true``, ``processType = TRAIN``, ``values = [0]``.
  Request: one message per output hexagon, in the executor's order, back to back
  (``bufferName``, ``processType = REQUEST``, ``isLast = false``, the values); the
  original held all but the first back until the next client message.
- Errors close the socket with a code and a reason instead of going silent (the
  original sent nothing and both sides hung): a message that is not a ``ClusterIO_Message``,
  ``targetBufferType = OUTPUT``, ``numberOfValues`` larger than the number of values, an
  empty buffer name, a step the executor rejects (4400 / 4404), a cluster that left DIRECT
  mode (4409) or was deleted (4404).

**Batched mode** (opt-in with ``"batched": true`` in the init message; old clients never
see it): many samples per binary frame, and the client may keep up to ``max_in_flight``
frames unanswered; the server reads ahead while it works and answers every frame, in
order, with a frame carrying the same ``seq``. The frame layout is in docs/websocket.md
and :mod:`hanami.protocol.batch`, the codec shared with the SDK. The train frames already
read when one starts are stepped back to back by one worker thread (``train_frames``: the
next frame's record written while a frame trains), each answered once committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hanami.protocol.batch import (
    BATCH_VERSION,
    MAX_FRAME_BYTES,
    MAX_SAMPLES,
    Batch,
    BatchError,
    encode_reply,
    error_reply,
    parse_batch,
)
from hanami.protocol.cluster_io import encode_values
from hanami.protocol.proto import (
    REQUEST_TYPE,
    TRAIN_TYPE,
    ClusterIO_Message,
)
from hanami.server.context import AppContext
from hanami.server.errors import ApiError, Conflict, NotFound
from hanami.server.runtime.journal import JournalError
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.tasks.remote import held_elsewhere
from hanami.server.websocket.cluster_messages import ACK, ClusterIOParser, StepBuffers
from hanami.server.websocket.direct_lane import CompatibleLane
from hanami.server.websocket.direct_steps import Steps
from hanami.server.websocket.session import WsClose, WsSession

__all__ = [
    "MAX_IN_FLIGHT",
    "batched_capabilities",
    "cluster_is_direct",
    "require_direct_mode",
    "serve_direct_io",
]

MODE_RECHECK_S = 0.25
"""Shared executor: how long a direct-I/O session trusts the DIRECT mode it read."""
MAX_IN_FLIGHT = 8
"""Frames a batched client may send before it waits for the first answer."""
TRAIN_POLICY = ("v1.0alpha/task/train", "POST")
REQUEST_POLICY = ("v1.0alpha/task/request", "POST")


class _Unavailable(ApiError):
    status_code = 503


def _clusters(ctx: AppContext) -> ClusterRegistry:
    clusters = getattr(ctx, "clusters", None)
    if clusters is None:
        raise _Unavailable("Direct I/O is not available: this server has no cluster executor")
    return clusters


def cluster_is_direct(ctx: AppContext, cluster_uuid: str) -> bool:
    """Whether the cluster is in DIRECT mode, as the task engine (``ctx.tasks``) records it.

    A cluster the executor does not hold raises ``LookupError``.
    """
    if not _clusters(ctx).executor.exists(cluster_uuid):
        raise LookupError(cluster_uuid)
    tasks = getattr(ctx, "tasks", None)
    if tasks is None:
        raise _Unavailable("Direct I/O is not available: this server has no task engine")
    return str(tasks.mode(cluster_uuid)).upper() == "DIRECT"


def require_direct_mode(ctx: AppContext, cluster_uuid: str) -> None:
    """Raise 404 for an unknown cluster and 409 unless it is in DIRECT mode."""
    try:
        direct = cluster_is_direct(ctx, cluster_uuid)
    except LookupError as exc:
        clusters = _clusters(ctx)
        if clusters.replicas is not None and clusters.info(cluster_uuid) is not None:
            # the row is there, the cluster lives in another replica's memory
            raise Conflict(held_elsewhere(clusters.database, cluster_uuid)) from exc
        raise NotFound(f"Cluster with UUID '{cluster_uuid}' not found") from exc
    if not direct:
        raise Conflict(
            f"Cluster with UUID '{cluster_uuid}' is not in DIRECT mode; switch it with "
            "PUT v1.0alpha/cluster/set_mode first"
        )


def batched_capabilities() -> dict[str, int]:
    """What the init reply tells a client that asked for batched mode."""
    return {
        "version": BATCH_VERSION,
        "max_in_flight": MAX_IN_FLIGHT,
        "max_frame_bytes": MAX_FRAME_BYTES,
        "max_samples": MAX_SAMPLES,
    }


async def serve_direct_io(session: WsSession, cluster_uuid: str, *, batched: bool) -> None:
    if batched:
        await _serve_batched(session, cluster_uuid)
    else:
        await _serve_compatible(session, cluster_uuid)


class _DirectCheck:
    """Raises :class:`WsClose` unless the session's cluster is (still) in DIRECT mode.

    Runs on the event loop before every step. In process it only looks at memory; with a
    shared executor the mode is in the database, and a query per step would cost more than
    the step: it looks again at most every :data:`MODE_RECHECK_S` (a switch by another
    replica ends the session that much later; its task waits for the cluster meanwhile).
    """

    def __init__(self, session: WsSession, cluster_uuid: str) -> None:
        self.session = session
        self.cluster_uuid = cluster_uuid
        self._until = 0.0

    def settled(self) -> bool:
        """Whether the cluster is known to be in DIRECT mode without a database query."""
        if time.monotonic() < self._until:
            return True
        if _clusters(self.session.ctx).executor.shared:
            return False
        try:
            self()
        except WsClose:
            return False
        return True

    def modes_changed(self) -> int | None:
        """In process: the task engine's count of mode changes, under which a settled
        answer stays true (None: shared, where the mode is in the database)."""
        tasks = getattr(self.session.ctx, "tasks", None)
        if tasks is None or _clusters(self.session.ctx).executor.shared:
            return None
        return tasks.modes_changed

    def __call__(self) -> ClusterRegistry:
        clusters = _clusters(self.session.ctx)
        now = time.monotonic()
        if now < self._until:
            return clusters
        try:
            require_direct_mode(self.session.ctx, self.cluster_uuid)
        except ApiError as exc:
            raise WsClose.from_error(exc) from exc
        if clusters.executor.shared:
            self._until = now + MODE_RECHECK_S
        return clusters


def _step_error(exc: Exception) -> ApiError | None:
    """Map an executor failure onto an HTTP-like error (None: a server bug)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JournalError):
        return _Unavailable(f"Step not persisted: {exc}")
    if isinstance(exc, LookupError):
        detail = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else exc
        return NotFound(f"Step failed: {detail}")
    if isinstance(exc, ValueError | TypeError):
        return ApiError(f"Step failed: {exc}")
    return None


# --------------------------------------------------------------------------- compatible


def _request_replies(outputs: Mapping[str, Any]) -> list[bytes]:
    replies = []
    for name, values in outputs.items():
        flat = np.asarray(values, dtype=np.float32).ravel()
        header = ClusterIO_Message(
            bufferName=name, isLast=False, processType=REQUEST_TYPE, numberOfValues=len(flat)
        )
        replies.append(encode_values(header, flat))
    if not replies:  # never leave a client waiting for a reply that does not come
        replies.append(ClusterIO_Message(isLast=True, processType=REQUEST_TYPE).SerializeToString())
    return replies


async def _serve_compatible(session: WsSession, cluster_uuid: str) -> None:
    steps = Steps(session, cluster_uuid, _clusters(session.ctx))
    direct = _DirectCheck(session, cluster_uuid)
    buffers, parse = StepBuffers(), ClusterIOParser()
    lane = CompatibleLane.attach(session, steps, buffers, parse, _TrainAllowed(session, direct))
    try:
        while True:
            data = await (session.receive() if lane is None else lane.receive())
            if lane is not None and lane.failure is not None:
                raise _closing(lane.failure) or lane.failure
            message, values = parse(data)
            buffers.store(message, values)
            if not message.isLast:
                await session.send_bytes(ACK)
                continue
            train = message.processType == TRAIN_TYPE
            session.require_policy(*(TRAIN_POLICY if train else REQUEST_POLICY))
            clusters = direct()
            step_inputs, step_expected = buffers.take()
            try:
                if train:
                    await steps.train(step_inputs, step_expected)
                    continue
                outputs = await steps.run(clusters.request_direct, cluster_uuid, step_inputs)
            except Exception as exc:
                if (close := _closing(exc)) is None:
                    raise
                raise close from exc
            for reply in _request_replies(outputs):
                await session.send_bytes(reply)
    finally:
        if lane is not None:
            lane.detach()


class _TrainAllowed:
    """Whether a train step may run without a query: the lane's check (else it declines).

    Asked before every lane step; the policy and the task engine's mode under its lock
    cost more than the rest of the lane's checks, so a yes is kept while the principal (a
    new object at every re-check of the token) and :meth:`_DirectCheck.modes_changed` stay
    the same."""

    def __init__(self, session: WsSession, direct: _DirectCheck) -> None:
        self.session = session
        self.direct = direct
        self._granted: tuple[object, int] | None = None

    def __call__(self) -> bool:
        changed = self.direct.modes_changed()  # read first: a change after it is seen next
        if changed is not None and (self.session.principal, changed) == self._granted:
            return True
        if not (self.session.allows(*TRAIN_POLICY) and self.direct.settled()):
            return False
        if changed is not None:
            self._granted = (self.session.principal, changed)
        return True


def _closing(exc: BaseException) -> WsClose | None:
    """The close that ends the session after a step failed (None: a server bug)."""
    error = _step_error(exc) if isinstance(exc, Exception) else None
    return None if error is None else WsClose.from_error(error)


# --------------------------------------------------------------------------- batched


def _request_batch(
    clusters: ClusterRegistry, cluster_uuid: str, batch: Batch
) -> dict[str, np.ndarray]:
    """Answer every sample of ``batch``: ``[samples, width]`` outputs per output hexagon."""
    return {
        name: np.asarray(values, dtype=np.float32).reshape(batch.samples, -1)
        for name, values in clusters.request_direct(cluster_uuid, batch.inputs).items()
    }


@dataclass
class _Closed:
    error: BaseException


def _parsed(data: bytes | str) -> Batch | bytes:
    """A frame parsed, or the error reply that answers it."""
    try:
        return parse_batch(data)
    except BatchError as exc:
        return error_reply(exc.seq, str(exc))


async def _serve_batched(session: WsSession, cluster_uuid: str) -> None:
    queue: asyncio.Queue[Batch | bytes | _Closed] = asyncio.Queue(maxsize=MAX_IN_FLIGHT)
    direct = _DirectCheck(session, cluster_uuid)
    allowed = _TrainAllowed(session, direct)

    async def read_ahead() -> None:
        # frames are parsed as they come, while the frame before them trains in a worker
        # thread: not between two passes (docs/performance.md, "frames parsed ahead")
        try:
            while True:
                await queue.put(_parsed(await session.receive()))
        except Exception as exc:  # WsClose, WebSocketDisconnect, or a bug: end the session
            await queue.put(_Closed(exc))

    reader = asyncio.create_task(read_ahead())
    held: Batch | bytes | _Closed | None = None
    try:
        while True:
            item, held = (held if held is not None else await queue.get()), None
            if isinstance(item, _Closed):
                raise item.error
            if not (isinstance(item, Batch) and item.type == "train"):
                await session.send_bytes(await _process_frame(session, direct, item))
                continue
            run = [item]  # with the train frames already parsed behind it
            while held is None and not queue.empty():
                held = queue.get_nowait()
                if isinstance(held, Batch) and held.type == "train" and allowed():
                    run.append(held)
                    held = None
            await _train_run(session, direct, run)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _train_run(session: WsSession, direct: _DirectCheck, run: list[Batch]) -> None:
    """Train frames stepped back to back by one worker thread (``train_frames``), each
    answered as it is committed: one hop per run of frames, not two per frame. The frames
    behind the first were checked as they were taken (:class:`_TrainAllowed`)."""
    session.require_policy(*TRAIN_POLICY)
    clusters = direct()
    loop = asyncio.get_running_loop()
    answers = [loop.create_future() for _ in run]

    def answer(index: int, error: Exception | None) -> None:
        loop.call_soon_threadsafe(answers[index].set_result, error)

    steps = [(batch.inputs, batch.expected) for batch in run]
    stepping = asyncio.ensure_future(
        session.run_sync(clusters.train_frames, direct.cluster_uuid, steps, answer)
    )
    try:
        for batch, answered in zip(run, answers, strict=True):
            await session.send_bytes(_reply(batch, await answered, {}))
    finally:
        await stepping


async def _process_frame(session: WsSession, direct: _DirectCheck, batch: Batch | bytes) -> bytes:
    if isinstance(batch, bytes):  # a frame that did not parse: its error reply
        return batch
    session.require_policy(*REQUEST_POLICY)
    clusters, cluster_uuid = direct(), direct.cluster_uuid
    try:
        outputs = await session.run_sync(_request_batch, clusters, cluster_uuid, batch)
    except Exception as exc:
        return _reply(batch, exc, {})
    return _reply(batch, None, outputs)


def _reply(batch: Batch, error: Exception | None, outputs: dict[str, np.ndarray]) -> bytes:
    """A frame's answer: its outputs, or the error that refused it (a server bug raises)."""
    if error is None:
        return encode_reply(batch, outputs)
    api_error = _step_error(error)
    if api_error is None:
        raise error
    return error_reply(batch.seq, api_error.message)

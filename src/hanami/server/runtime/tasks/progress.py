"""What a running task sees: its row, its stop flags, and how it records progress.

Runners work in chunks of rows sized by :class:`ChunkSizer` to take about
:data:`CHUNK_SECONDS`; between chunks :meth:`TaskRun.advance` records the progress (rows per
second, ETA), autosaves the cluster when due and checks the cancel and suspend flags.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from hanami.core import TrainStats
from hanami.server.db.models import Task
from hanami.server.runtime.executor import ClusterNotFound
from hanami.server.runtime.tasks.remote import fenced

if TYPE_CHECKING:
    from hanami.server.runtime.tasks.engine import TaskEngine

__all__ = [
    "CHUNK_SECONDS",
    "ChunkSizer",
    "Control",
    "Runner",
    "TaskCancelled",
    "TaskRun",
    "TaskSnapshot",
    "TaskSuspended",
    "error_text",
]

CHUNK_SECONDS = 0.4
"""Target duration of one chunk: how quickly progress moves and cancellation takes effect."""
PROGRESS_WRITE_S = 0.25
MAX_ERROR_TEXT = 4000


class TaskCancelled(Exception):
    """Raised between chunks when the task was deleted while running."""


class TaskSuspended(Exception):
    """Raised between chunks when the server shuts down gracefully."""


@dataclass
class Control:
    """In-memory handle of a running task."""

    task_uuid: str
    cluster_uuid: str
    cancel: threading.Event = field(default_factory=threading.Event)
    suspend: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    rate: float = 0.0
    """Rows (cycles) per second, smoothed over the last chunks."""
    training_error: float | None = None
    """Mean squared error of the last chunk, each row scored before it was learned."""
    training_accuracy: float | None = None
    """Share of the last chunk's rows whose largest output was the expected one."""


@dataclass(frozen=True)
class TaskSnapshot:
    """The columns of a claimed task row that runners need."""

    uuid: str
    cluster_uuid: str
    name: str
    task_type: str
    owner_id: str
    project_id: str
    time_length: int
    current_cycle: int
    total_number_of_cycles: int
    parameters: dict[str, Any]


class TaskRun:
    """What a runner gets: the task, the services, and :meth:`advance` for progress."""

    def __init__(self, engine: TaskEngine, task: TaskSnapshot, control: Control) -> None:
        self.engine = engine
        self.task = task
        self.control = control
        self.executor = engine.executor
        self.registry = engine.registry
        self.database = engine.database
        self.params = task.parameters
        self.suspendable = True
        self._last_write = 0.0
        self._written_cycle = task.current_cycle
        self.cycle = task.current_cycle
        """The cycles done so far (what a suspended train task resumes from)."""

    @property
    def cluster_uuid(self) -> str:
        return self.task.cluster_uuid

    def check(self) -> None:
        """Raise :class:`TaskCancelled`/:class:`TaskSuspended` if asked to stop."""
        if self.control.cancel.is_set():
            raise TaskCancelled()
        if self.suspendable and self.control.suspend.is_set():
            raise TaskSuspended()

    def advance(
        self, cycle: int, rows: int, seconds: float, stats: TrainStats | None = None
    ) -> None:
        """Record that ``cycle`` cycles are done (``rows`` of them in ``seconds``), then check.

        The check is skipped after the last cycle: a finished task is not aborted.
        """
        self.cycle = cycle
        control = self.control
        if stats is not None:
            control.training_error = stats.mean_squared_error
            control.training_accuracy = stats.accuracy
            if cycle >= self.task.total_number_of_cycles:  # keep the last values
                self.update_parameters(training_error=stats.mean_squared_error,
                                       training_accuracy=stats.accuracy)  # fmt: skip
        if rows > 0 and seconds > 0:
            instant = rows / seconds
            control.rate = instant if control.rate == 0 else 0.6 * control.rate + 0.4 * instant
        now = time.monotonic()
        if cycle != self._written_cycle and (
            now - self._last_write >= PROGRESS_WRITE_S or cycle >= self.task.total_number_of_cycles
        ):
            self.write_progress(cycle)
        registry = self.registry
        if registry.seconds_since_save(self.cluster_uuid) >= registry.autosave_interval:
            self.write_progress(cycle)
            if registry.is_changed(self.cluster_uuid):
                registry.autosave(self.cluster_uuid)
        if cycle < self.task.total_number_of_cycles:
            self.check()

    def write_progress(self, cycle: int) -> None:
        """Store the cycle; a task whose row is gone, was taken over by another replica, or
        whose cancellation another replica requested is cancelled."""
        replica_id = self.engine.replica_id
        with self.database.session() as session:
            row = fenced(update(Task), self.task.uuid, replica_id)
            written = session.execute(row.values(current_cycle=cycle)).rowcount
            cancel = session.scalar(
                select(Task.cancel_requested).where(Task.uuid == self.task.uuid)
            )
            session.commit()
        if not written or cancel:
            self.control.cancel.set()
        self._written_cycle = cycle
        self._last_write = time.monotonic()

    def update_parameters(self, **values: Any) -> None:
        self.params = {**self.params, **values}
        with self.database.session() as session:
            session.execute(
                fenced(update(Task), self.task.uuid, self.engine.replica_id).values(
                    parameters=self.params)
            )  # fmt: skip
            session.commit()


Runner = Callable[[TaskRun], None]


class ChunkSizer:
    """Grows or shrinks the chunk so that one takes about :data:`CHUNK_SECONDS`."""

    def __init__(self, initial: int = 32, minimum: int = 1, maximum: int = 16384) -> None:
        self.size = initial
        self.minimum = minimum
        self.maximum = maximum

    def update(self, rows: int, seconds: float) -> None:
        if rows <= 0:
            return
        wanted = self.size * 4 if seconds <= 0 else int(rows * CHUNK_SECONDS / seconds)
        wanted = min(wanted, self.size * 4)  # grow gradually (first chunks include warm-up)
        self.size = max(self.minimum, min(self.maximum, wanted))


def error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ValueError | OSError | ClusterNotFound) and text:
        message = text
    else:
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return message[:MAX_ERROR_TEXT]

"""Tasks and their bindings."""

from __future__ import annotations

from pydantic import Field

from hanami.protocol.models.base import Model
from hanami.protocol.timestamps import OptionalTimestamp

__all__ = ["TASK_DONE_STATES", "Task", "TaskInput", "TaskResult", "TaskRow"]


class TaskInput(Model):
    """Binds an input (or, for training, an expected-output) hexagon to a dataset column."""

    hexagon_name: str
    dataset_uuid: str
    dataset_column: str


class TaskResult(Model):
    """Binds an output hexagon to a column of a request task's result dataset."""

    hexagon_name: str
    dataset_column: str


TASK_DONE_STATES = frozenset({"finished", "failed", "cancelled", "aborted"})


class Task(Model):
    """Progress of a task.

    The original server sends only the first eight fields; ``cluster_uuid`` is then filled
    in by the SDK. Hanami adds the task ``type``, the ``error`` of a failed task, the rate
    and ETA while it runs, the epochs of a train task, and how its latest rows did while
    they were learned (``training_accuracy``, ``training_error``).
    """

    uuid: str
    name: str = ""
    current_cycle: int = 0
    total_number_of_cycles: int = 0
    state: str = Field(description="queued, active, finished, aborted or failed")
    queue_timestamp: OptionalTimestamp = None
    start_timestamp: OptionalTimestamp = None
    end_timestamp: OptionalTimestamp = None
    cluster_uuid: str | None = None
    type: str | None = Field(
        None, description="train, request, checkpoint_save or checkpoint_restore"
    )
    error: str | None = Field(None, description="why the task failed")
    percentage: float | None = Field(None, description="fraction done, 0 to 1")
    samples_per_second: float | None = None
    eta_seconds: float | None = Field(None, description="estimated seconds left while active")
    time_length: int | None = None
    epoch: int | None = Field(None, description="current epoch, from 1")
    epochs: int | None = None
    shuffle: bool | None = None
    training_error: float | None = Field(
        None,
        description="train tasks: mean squared error of the latest rows, each scored before "
        "it was learned",
    )
    training_accuracy: float | None = Field(
        None,
        description="train tasks: share of the latest rows whose largest output was expected",
    )

    @property
    def done(self) -> bool:
        """True once the task will not change any more."""
        return self.state in TASK_DONE_STATES

    @property
    def fraction(self) -> float:
        """Progress from 0.0 to 1.0."""
        if self.state == "finished":
            return 1.0
        if self.total_number_of_cycles <= 0:
            return 0.0
        return min(1.0, self.current_cycle / self.total_number_of_cycles)


class TaskRow(Model):
    """Row of ``/task/all``; every value is a string, ``percentage`` is a 0-1 fraction."""

    uuid: str
    state: str
    percentage: str
    queued: OptionalTimestamp
    start: OptionalTimestamp
    end: OptionalTimestamp

"""The JSON answers of the REST API (service spec section 2), one model per answer shape.

The server declares them as its ``response_model`` and the SDK parses answers with them, so
both ends share one definition. Fields the original server does not send have defaults, so
the SDK reads its answers too; Hanami's server always sends them. Every model keeps fields
it does not declare (``extra="allow"``), so a newer server can add some without breaking
older clients. Timestamps are :class:`datetime` in Python and keep their wire text
(``YYYY-MM-DD HH:MM:SS``, ``-`` when unset) in ``model_dump(mode="json")`` and in the
server's answers. List endpoints answer :class:`Table` (``header`` + ``body``, the
original's list shape); its ``rows()`` turns the body into typed row models.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hanami.protocol.timestamps import OptionalTimestamp, Timestamp

__all__ = [
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenRow",
    "AuditLogRow",
    "Checkpoint",
    "CheckpointRow",
    "Cluster",
    "ClusterMode",
    "ClusterPublic",
    "ClusterRow",
    "ColumnRange",
    "Dataset",
    "DatasetCheck",
    "DatasetPublic",
    "DatasetRow",
    "DatasetUpload",
    "ErrorLogRow",
    "HostRow",
    "MnistUpload",
    "Model",
    "Project",
    "ProjectAssignment",
    "ProjectRow",
    "ResourceRow",
    "SystemInfo",
    "Table",
    "Task",
    "TaskInput",
    "TaskRef",
    "TaskResult",
    "TaskRow",
    "ThreadMapping",
    "TimeSeries",
    "Token",
    "UploadProgress",
    "User",
    "UserProjects",
    "UserRow",
    "table_of",
]


class Model(BaseModel):
    """Base of all answer models: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


RowT = TypeVar("RowT", bound=Model)


class Table(Model, Generic[RowT]):
    """The list shape of every ``/all`` endpoint and the logs: column names, then rows.

    ``rows()`` gives one typed model per row (looked up by column name, so the column order
    does not matter); iterating a table yields those rows as well.
    """

    header: list[str]
    body: list[list[Any]]
    row_model: ClassVar[type[Model]] = Model

    def rows(self) -> list[RowT]:
        return [self.row_model.model_validate(r) for r in self.records()]  # type: ignore[misc]

    def records(self) -> list[dict[str, Any]]:
        """The rows as plain dicts keyed by column name."""
        return [dict(zip(self.header, row, strict=False)) for row in self.body]

    def column(self, name: str) -> list[Any]:
        """All values of one column."""
        index = self.header.index(name)
        return [row[index] for row in self.body]

    def __iter__(self) -> Iterator[RowT]:  # type: ignore[override]
        return iter(self.rows())

    def __len__(self) -> int:
        return len(self.body)


class ResourceRow(Model):
    """A row of the cluster, dataset and checkpoint lists (the columns are the same)."""

    created_at: Timestamp
    uuid: str
    project_id: str
    owner_id: str
    visibility: str
    name: str


# ------------------------------------------------------------------------ auth, users, projects


class Token(Model):
    """Answer of POST/PUT ``/token``: the user and a JWT for ``X-Auth-Token``."""

    id: str
    name: str
    is_admin: bool
    token: str


class ProjectAssignment(Model):
    project_id: str
    role: str
    is_project_admin: bool


class User(Model):
    created_at: Timestamp
    id: str
    name: str
    is_admin: bool
    creator_id: str
    projects: list[ProjectAssignment] = Field(default_factory=list)


class UserProjects(Model):
    """Answer of ``GET /user/project``."""

    projects: list[ProjectAssignment]


class UserRow(Model):
    created_at: Timestamp
    id: str
    name: str
    creator_id: str
    projects: list[ProjectAssignment] = Field(default_factory=list)
    is_admin: bool


class Project(Model):
    created_at: Timestamp
    id: str
    name: str
    creator_id: str


class ProjectRow(Project):
    pass


class ApiToken(Model):
    """A long-lived API token (the secret is only in :class:`ApiTokenCreated`)."""

    created_at: Timestamp
    id: str
    user_id: str
    project_id: str
    name: str
    expires_at: OptionalTimestamp = Field(description="unset: the token does not expire")
    last_used_at: OptionalTimestamp


class ApiTokenCreated(ApiToken):
    token: str = Field(description="the secret; shown only in this answer")


class ApiTokenRow(Model):
    created_at: Timestamp
    id: str
    user_id: str
    project_id: str
    expires_at: OptionalTimestamp
    last_used_at: OptionalTimestamp
    name: str


# ------------------------------------------------------------------------------------ clusters


class ClusterPublic(Model):
    """A cluster as created (``POST /cluster``) or moved (``PUT /cluster/switch_host``)."""

    created_at: Timestamp
    uuid: str
    name: str
    owner_id: str
    project_id: str
    visibility: str


class Cluster(ClusterPublic):
    """A cluster; ``get`` adds the core metrics and (Hanami) mode, hexagon widths and
    template."""

    number_of_blocks: int | None = None
    number_of_sections: int | None = None
    mode: str | None = Field(None, description="TASK or DIRECT")
    inputs: dict[str, int] | None = Field(
        None, description="input hexagon name -> width (0 until data came)"
    )
    outputs: dict[str, int] | None = Field(
        None, description="output hexagon name -> width (0 until trained)"
    )
    metrics: dict[str, Any] | None = None
    template: str | None = Field(None, description="the template text the cluster was created from")


class ClusterRow(ResourceRow):
    pass


class ClusterMode(Model):
    """Answer of ``PUT /cluster/set_mode``."""

    created_at: Timestamp
    uuid: str
    name: str
    new_state: str


class TaskRef(Model):
    """A queued task as answered by save/restore: its uuid (= checkpoint uuid for a save).

    ``state`` (Hanami) is ``finished`` when the task ran inside the request."""

    uuid: str = Field(description="task uuid (for a save also the checkpoint uuid)")
    name: str | None = None
    state: str | None = Field(None, description="'finished' when it ran inside the request")


# --------------------------------------------------------------------------------------- tasks


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


# ------------------------------------------------------------------------------------ datasets


class ColumnRange(Model):
    column_start: int
    column_end: int

    @property
    def width(self) -> int:
        return self.column_end - self.column_start


class Dataset(Model):
    uuid: str
    name: str
    description: dict[str, ColumnRange] = Field(default_factory=dict)
    owner_id: str = ""
    project_id: str = ""
    visibility: str = ""
    version: str = ""
    number_of_rows: int = 0
    number_of_columns: int = 0
    created_at: OptionalTimestamp = None

    @property
    def columns(self) -> list[str]:
        """Names of the column groups."""
        return list(self.description)


class DatasetRow(ResourceRow):
    pass


class DatasetPublic(Model):
    created_at: OptionalTimestamp = None
    uuid: str
    name: str
    owner_id: str = ""
    project_id: str = ""
    visibility: str = ""


class DatasetUpload(DatasetPublic):
    """Answer of the upload init calls: the dataset and one tempfile uuid per file (the
    label file in :class:`MnistUpload` only)."""

    uuid_input_file: str


class MnistUpload(DatasetUpload):
    uuid_label_file: str


class UploadProgress(Model):
    uuid: str
    complete: bool


class DatasetCheck(Model):
    """Answer of ``GET /dataset/check``: accuracy in percent (the original's only field);
    Hanami adds ``rows``, ``mode`` and the errors ``mse``/``mae`` (accuracy ``None`` for a
    regression)."""

    accuracy: float | None = Field(
        None, description="percentage of rows whose class matches (null for regression)"
    )
    rows: int | None = None
    mode: Literal["classification", "regression"] | None = None
    mse: float | None = None
    mae: float | None = None


# --------------------------------------------------------------------------------- checkpoints


class Checkpoint(Model):
    uuid: str
    name: str
    created_at: OptionalTimestamp = None
    owner_id: str | None = None
    project_id: str | None = None
    visibility: str | None = None
    cluster_uuid: str | None = Field(
        None, description="cluster it was saved from (null if uploaded)"
    )
    size: int | None = Field(None, description="file size in bytes")


class CheckpointRow(ResourceRow):
    pass


# -------------------------------------------------------------------------- logs and monitoring


class AuditLogRow(Model):
    created_at: Timestamp
    user_id: str
    endpoint: str
    request_type: str


class ErrorLogRow(Model):
    created_at: Timestamp
    user_id: str
    component: str
    context: str
    input_values: Any = None
    message: str


class HostRow(Model):
    uuid: str
    type: str


class TimeSeries(Model):
    """A measurement ring buffer, oldest first: 60 s, 60 min, 24 h, 365 days.

    ``source`` (Hanami) names the sensor, ``"unavailable"`` when the values are zeros."""

    seconds: list[float] = Field(default_factory=list)
    minutes: list[float] = Field(default_factory=list)
    hours: list[float] = Field(default_factory=list)
    days: list[float] = Field(default_factory=list)
    source: str | None = None


class SystemInfo(Model):
    info: dict[str, Any]


class ThreadMapping(Model):
    thread_map: dict[str, list[int]]


def table_of(row_model: type[RowT]) -> type[Table[RowT]]:
    """A :class:`Table` subclass whose ``rows()`` builds ``row_model`` instances."""
    cls = type(f"{row_model.__name__.removesuffix('Row')}Table", (Table[row_model],), {})
    cls.row_model = row_model  # type: ignore[attr-defined]
    return cls  # type: ignore[return-value]

"""Pydantic models of the server's answers (service spec section 2).

Every model accepts fields it does not declare (``extra="allow"``), so a newer server can add
fields without breaking older clients; ``model_dump()`` returns the JSON the server sent.
List endpoints answer :class:`Table` (``header`` + ``body``, the original's list shape); its
``rows()`` turns the body into typed row models.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenRow",
    "AuditLogRow",
    "Checkpoint",
    "CheckpointRow",
    "Cluster",
    "ClusterMode",
    "ClusterRow",
    "ColumnRange",
    "Dataset",
    "DatasetCheck",
    "DatasetRow",
    "DatasetUpload",
    "ErrorLogRow",
    "HostRow",
    "Model",
    "Project",
    "ProjectAssignment",
    "ProjectRow",
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
    "UserRow",
]


class Model(BaseModel):
    """Base of all response models: unknown fields are kept, not rejected."""

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
    created_at: str
    id: str
    name: str
    is_admin: bool
    creator_id: str
    projects: list[ProjectAssignment] = Field(default_factory=list)


class UserRow(Model):
    created_at: str
    id: str
    name: str
    creator_id: str
    projects: list[ProjectAssignment] = Field(default_factory=list)
    is_admin: bool


class Project(Model):
    created_at: str
    id: str
    name: str
    creator_id: str


class ProjectRow(Project):
    pass


class ApiToken(Model):
    """A long-lived API token (the secret is only in :class:`ApiTokenCreated`)."""

    created_at: str
    id: str
    user_id: str
    project_id: str
    name: str
    expires_at: str
    last_used_at: str


class ApiTokenCreated(ApiToken):
    token: str


class ApiTokenRow(Model):
    created_at: str
    id: str
    user_id: str
    project_id: str
    expires_at: str
    last_used_at: str
    name: str


# ------------------------------------------------------------------------------------ clusters


class Cluster(Model):
    """A cluster; ``get`` adds the core metrics and (Hanami) mode and hexagon widths."""

    created_at: str
    uuid: str
    name: str
    owner_id: str
    project_id: str
    visibility: str
    number_of_blocks: int | None = None
    number_of_sections: int | None = None
    mode: str | None = None
    inputs: dict[str, int] | None = None
    outputs: dict[str, int] | None = None
    metrics: dict[str, Any] | None = None


class ClusterRow(Model):
    created_at: str
    uuid: str
    project_id: str
    owner_id: str
    visibility: str
    name: str


class ClusterMode(Model):
    """Answer of ``PUT /cluster/set_mode``."""

    created_at: str
    uuid: str
    name: str
    new_state: str


class TaskRef(Model):
    """A queued task as answered by save/restore: its uuid (= checkpoint uuid for a save).

    ``state`` (Hanami) is ``finished`` when the task ran inside the request."""

    uuid: str
    name: str | None = None
    state: str | None = None


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
    state: str
    queue_timestamp: str = "-"
    start_timestamp: str = "-"
    end_timestamp: str = "-"
    cluster_uuid: str | None = None
    type: str | None = None
    error: str | None = None
    samples_per_second: float | None = None
    eta_seconds: float | None = None
    epoch: int | None = None
    epochs: int | None = None
    training_accuracy: float | None = None
    training_error: float | None = None

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
    queued: str
    start: str
    end: str


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
    created_at: str = ""

    @property
    def columns(self) -> list[str]:
        """Names of the column groups."""
        return list(self.description)


class DatasetRow(Model):
    created_at: str
    uuid: str
    project_id: str
    owner_id: str
    visibility: str
    name: str


class DatasetUpload(Model):
    """Answer of the upload init calls: the dataset and one tempfile uuid per file."""

    created_at: str = ""
    uuid: str
    name: str
    owner_id: str = ""
    project_id: str = ""
    visibility: str = ""
    uuid_input_file: str
    uuid_label_file: str | None = None


class UploadProgress(Model):
    uuid: str
    complete: bool


class DatasetCheck(Model):
    """Answer of ``GET /dataset/check``: accuracy in percent (the original's only field);
    Hanami adds ``rows``, ``mode`` and the errors ``mse``/``mae`` (accuracy ``None`` for a
    regression)."""

    accuracy: float | None = None
    rows: int | None = None
    mode: str | None = None
    mse: float | None = None
    mae: float | None = None


# --------------------------------------------------------------------------------- checkpoints


class Checkpoint(Model):
    uuid: str
    name: str
    created_at: str | None = None
    owner_id: str | None = None
    project_id: str | None = None
    visibility: str | None = None
    cluster_uuid: str | None = None
    size: int | None = None


class CheckpointRow(Model):
    created_at: str
    uuid: str
    project_id: str
    owner_id: str
    visibility: str
    name: str


# -------------------------------------------------------------------------- logs and monitoring


class AuditLogRow(Model):
    created_at: str
    user_id: str
    endpoint: str
    request_type: str


class ErrorLogRow(Model):
    created_at: str
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


UserTable = table_of(UserRow)
ProjectTable = table_of(ProjectRow)
ClusterTable = table_of(ClusterRow)
TaskTable = table_of(TaskRow)
DatasetTable = table_of(DatasetRow)
CheckpointTable = table_of(CheckpointRow)
HostTable = table_of(HostRow)
AuditLogTable = table_of(AuditLogRow)
ErrorLogTable = table_of(ErrorLogRow)
ApiTokenTable = table_of(ApiTokenRow)


def coerce_bindings(items: Sequence[Any], model: type[BaseModel]) -> list[dict[str, Any]]:
    """Turn models, dicts or CLI-style tuples into the JSON objects the task endpoints take."""
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, BaseModel):
            out.append(item.model_dump(include=set(model.model_fields)))
        elif isinstance(item, dict):
            out.append(model.model_validate(item).model_dump(include=set(model.model_fields)))
        else:
            values = tuple(item)
            if model is TaskInput and len(values) == 3:
                dataset_uuid, column, hexagon = values
                out.append(
                    {
                        "hexagon_name": hexagon,
                        "dataset_uuid": dataset_uuid,
                        "dataset_column": column,
                    }
                )
            elif model is TaskResult and len(values) == 2:
                hexagon, column = values
                out.append({"hexagon_name": hexagon, "dataset_column": column})
            else:
                raise TypeError(f"cannot turn {item!r} into a {model.__name__}")
    return out

"""What only a client does with the answer models of :mod:`hanami.protocol.models` (shared
with the server): typed tables of the list endpoints, task bindings turned into JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from hanami.protocol.models import (
    ApiTokenRow,
    AuditLogRow,
    CheckpointRow,
    ClusterRow,
    DatasetRow,
    ErrorLogRow,
    HostRow,
    ProjectRow,
    TaskInput,
    TaskResult,
    TaskRow,
    UserRow,
    table_of,
)

__all__ = [
    "ApiTokenTable",
    "AuditLogTable",
    "CheckpointTable",
    "ClusterTable",
    "DatasetTable",
    "ErrorLogTable",
    "HostTable",
    "ProjectTable",
    "TaskTable",
    "UserTable",
    "coerce_bindings",
]

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

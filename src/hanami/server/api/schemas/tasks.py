"""What the task endpoints take: the task and the bindings of hexagons to dataset columns."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import ColumnName, NameStr, UuidStr

__all__ = [
    "MAX_BINDINGS",
    "Bindings",
    "ClusterTasks",
    "DataBinding",
    "HexagonName",
    "RequestCreate",
    "ResultBinding",
    "TaskRef",
    "TimeLength",
    "TrainCreate",
]


MAX_BINDINGS = 64

HexagonName = Annotated[str, Field(min_length=1, max_length=254)]


class DataBinding(InputModel):
    hexagon_name: HexagonName
    dataset_uuid: UuidStr
    dataset_column: ColumnName


class ResultBinding(InputModel):
    hexagon_name: HexagonName
    dataset_column: ColumnName


Bindings = Annotated[list[DataBinding], Field(min_length=1, max_length=MAX_BINDINGS)]
TimeLength = Annotated[int, Field(ge=1, le=1000, description="rows per window (sliding, step 1)")]


class TrainCreate(InputModel):
    name: NameStr
    cluster_uuid: UuidStr
    inputs: Bindings
    outputs: Bindings
    time_length: TimeLength = 1
    epochs: Annotated[int, Field(ge=1, le=100_000, description="passes over the data")] = 1
    shuffle: bool = Field(False, description="new random window order in every epoch")
    # lt=2**63, not le=2**63-1: 2**63 survives FastAPI's float bounds (api/openapi.py)
    seed: Annotated[int, Field(ge=0, lt=2**63)] | None = Field(
        None, description="seed of the shuffle (random if unset)"
    )


class RequestCreate(InputModel):
    name: NameStr
    cluster_uuid: UuidStr
    inputs: Bindings
    results: Annotated[list[ResultBinding], Field(min_length=1, max_length=MAX_BINDINGS)]
    time_length: TimeLength = 1


class TaskRef(InputModel):
    uuid: UuidStr
    cluster_uuid: UuidStr


class ClusterTasks(InputModel):
    cluster_uuid: UuidStr

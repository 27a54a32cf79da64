"""What the dataset endpoints take, and the two answers only they give."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from hanami.server.api.inputs import InputModel
from hanami.server.api.openapi import LIMIT_SETTING
from hanami.server.api.schemas import ColumnName, NameStr, UuidStr

__all__ = [
    "CheckInput",
    "Content",
    "ContentInput",
    "CsvCreate",
    "CsvFinalize",
    "DatasetRef",
    "MnistCreate",
    "MnistFinalize",
    "MultipartFields",
    "UuidOut",
]

MAX_FILE_SIZE = 10_000_000_000
MAX_CONTENT_ROWS = 10_000
MAX_MULTIPART_BYTES = 1 << 30
"""Largest accepted multipart upload (larger files go through the websocket protocol)."""

FileSize = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_FILE_SIZE,
        description="exact size in bytes (over dataset_max_bytes: 413)",
        json_schema_extra={LIMIT_SETTING: "dataset_max_bytes"},
    ),
]


class UuidOut(BaseModel):
    uuid: str


class Content(BaseModel):
    data: list[list[float]]


class MnistCreate(InputModel):
    name: NameStr
    input_data_size: FileSize
    label_data_size: FileSize


class CsvCreate(InputModel):
    name: NameStr
    input_data_size: FileSize


class MnistFinalize(InputModel):
    uuid: UuidStr
    uuid_input_file: UuidStr
    uuid_label_file: UuidStr


class CsvFinalize(InputModel):
    uuid: UuidStr
    uuid_input_file: UuidStr


class DatasetRef(InputModel):
    uuid: UuidStr


class ContentInput(InputModel):
    uuid: UuidStr
    column_name: ColumnName
    row_offset: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    number_of_rows: Annotated[int, Field(ge=1, le=MAX_CONTENT_ROWS)] = 1


class CheckInput(InputModel):
    uuid: UuidStr = Field(description="the dataset to grade (e.g. a request result)")
    reference_uuid: UuidStr = Field(description="the dataset with the expected values")
    result_column: ColumnName | None = Field(
        None, description="column group of the result; default: its only group"
    )
    reference_column: ColumnName | None = Field(
        None, description="column group of the reference; default: 'label', or its only group"
    )
    mode: Literal["auto", "classification", "regression"] = "auto"
    reference_offset: Annotated[int, Field(ge=0, le=1_000_000_000)] = Field(
        0, description="result row i is compared with reference row i + reference_offset"
    )


class MultipartFields(InputModel):
    name: NameStr
    type: Literal["mnist", "csv"]

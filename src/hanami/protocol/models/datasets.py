"""Datasets and uploads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hanami.protocol.models.base import Model, ResourceRow
from hanami.protocol.timestamps import OptionalTimestamp

__all__ = [
    "ColumnRange",
    "Dataset",
    "DatasetCheck",
    "DatasetPublic",
    "DatasetRow",
    "DatasetUpload",
    "MnistUpload",
    "UploadProgress",
]


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

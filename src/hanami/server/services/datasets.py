"""Dataset behaviour behind the routes: the answers' shapes, reading rows, grading a result
against a reference, deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from hanami.datasets import Dataset as DatasetFile
from hanami.datasets import DatasetError, DatasetHeader, check, open_dataset, read_dataset_header
from hanami.protocol.timestamps import format_timestamp
from hanami.server.context import AppContext
from hanami.server.db.models import Dataset, Tempfile
from hanami.server.errors import BadRequest, Conflict, NotFound
from hanami.server.runtime.uploads import dataset_is_finalized

__all__ = [
    "clean_paths",
    "dataset_info",
    "dataset_public",
    "delete",
    "grade",
    "open_content",
    "read_content_header",
    "read_rows",
]


def dataset_public(dataset: Dataset) -> dict[str, Any]:
    return {
        "created_at": format_timestamp(dataset.created_at),
        "uuid": dataset.uuid,
        "name": dataset.name,
        "owner_id": dataset.owner_id,
        "project_id": dataset.project_id,
        "visibility": dataset.visibility,
    }


def dataset_info(
    dataset: Dataset | Row[Any], content: DatasetFile | DatasetHeader
) -> dict[str, Any]:
    return {
        "uuid": dataset.uuid,
        "name": content.name or dataset.name,
        "description": content.description,
        "owner_id": dataset.owner_id,
        "project_id": dataset.project_id,
        "visibility": dataset.visibility,
        "version": content.version,
        "number_of_rows": content.rows,
        "number_of_columns": content.columns,
        "created_at": format_timestamp(dataset.created_at),
    }


def open_content(dataset: Dataset | Row[Any]) -> DatasetFile:
    """Open the dataset file, or 409 while it does not exist yet."""
    return open_dataset(_written(dataset))


def read_content_header(dataset: Dataset | Row[Any]) -> DatasetHeader:
    """The dataset file's header alone, or 409 while the file does not exist yet."""
    return read_dataset_header(_written(dataset))


def _written(dataset: Dataset | Row[Any]) -> str:
    """The dataset file's location, or 409 while it does not exist yet."""
    if not dataset_is_finalized(dataset):
        raise Conflict(
            f"Dataset with uuid '{dataset.uuid}' has no data yet: its upload was not finalized "
            "or its task has not written it"
        )
    return dataset.location


def clean_paths(message: str, paths: dict[str, str]) -> str:
    """Replace server paths in a library message with names the client knows."""
    for path, label in paths.items():
        message = message.replace(path, label)
    return message


def column(content: DatasetFile, dataset_uuid: str, column: str) -> np.ndarray:
    if column not in content.description:
        known = ", ".join(repr(group) for group in content.description)
        raise NotFound(
            f"Dataset with uuid '{dataset_uuid}' has no column '{column}' (it has {known})"
        )
    return content.column(column)


def only_group(content: DatasetFile, dataset_uuid: str, role: str, preferred: str | None) -> str:
    groups = list(content.description)
    if preferred is not None and preferred in groups:
        return preferred
    if len(groups) == 1:
        return groups[0]
    raise BadRequest(
        f"Dataset with uuid '{dataset_uuid}' has several column groups "
        f"({', '.join(groups)}); choose one with '{role}'"
    )


def json_floats(values: np.ndarray) -> list[list[float]]:
    """Rows as JSON numbers; float32 values get their shortest decimal form (0.1, not
    0.10000000149011612), which reads back as the same float32."""
    if values.dtype == np.float32:
        return values.astype(str).astype(np.float64).tolist()
    return values.astype(np.float64).tolist()


def read_rows(
    dataset: Dataset, column_name: str, row_offset: int, number_of_rows: int
) -> dict[str, Any]:
    """Rows ``[row_offset, row_offset + number_of_rows)`` of one column group, as floats;
    400 when the window is not inside the dataset."""
    content = open_content(dataset)
    view = column(content, dataset.uuid, column_name)
    end = row_offset + number_of_rows
    if end > content.rows:
        raise BadRequest(
            f"Rows {row_offset}..{end - 1} requested, but dataset '{dataset.uuid}' has "
            f"{content.rows} rows (0..{content.rows - 1})"
        )
    return {"data": json_floats(np.asarray(view[row_offset:end]))}


def grade(
    result: Dataset,
    reference: Dataset,
    result_column: str | None,
    reference_column: str | None,
    *,
    mode: Literal["auto", "classification", "regression"],
    reference_offset: int,
) -> dict[str, Any]:
    """Compare a column group of ``result`` with one of ``reference`` over all rows.

    Defaults fit the original MNIST check: the result's only group against the reference's
    ``label`` group."""
    result_content, reference_content = open_content(result), open_content(reference)
    result_column = result_column or only_group(result_content, result.uuid, "result_column", None)
    reference_column = reference_column or only_group(
        reference_content, reference.uuid, "reference_column", "label"
    )
    column(result_content, result.uuid, result_column)
    column(reference_content, reference.uuid, reference_column)
    try:
        report = check(
            result_content,
            reference_content,
            result_column,
            reference_column,
            mode=mode,
            reference_offset=reference_offset,
        )
    except DatasetError as exc:
        paths = {
            str(result_content.path): f"dataset '{result.uuid}'",
            str(reference_content.path): f"dataset '{reference.uuid}'",
        }
        raise BadRequest(clean_paths(str(exc), paths)) from exc
    return {
        "accuracy": report.accuracy,
        "rows": report.rows,
        "mode": report.mode,
        "mse": report.mse,
        "mae": report.mae,
    }


def delete(ctx: AppContext, session: Session, dataset: Dataset) -> None:
    """Delete the row, the file and any tempfiles of an unfinished upload (the caller holds
    the dataset's upload lock)."""
    location = dataset.location
    tempfiles = session.scalars(
        select(Tempfile).where(Tempfile.related_resource_uuid == dataset.uuid)
    ).all()
    uuids = [t.uuid for t in tempfiles]
    for row in tempfiles:
        session.delete(row)
    session.delete(dataset)
    session.commit()
    ctx.uploads.forget(uuids)
    if location:
        Path(location).unlink(missing_ok=True)

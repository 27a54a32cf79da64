"""Datasets: uploads (websocket protocol and multipart), listing, reading, grading, deletion.

Two ways to upload an MNIST (IDX image + label file) or CSV dataset:

1. The original protocol (spec 3.3): ``POST dataset/upload/{mnist,csv}`` with the byte
   sizes allocates one tempfile per file, the client sends the chunks over websockets
   (:mod:`hanami.server.websocket.endpoint`), polls ``GET dataset/progress`` and finalizes with
   ``PUT dataset/upload/{mnist,csv}``.
2. New: one ``POST dataset/upload`` with ``multipart/form-data`` fields ``name``, ``type``
   (``mnist`` or ``csv``), ``input_file`` and, for MNIST, ``label_file``. IDX files may be
   gzip-compressed.

Both parse strictly (:mod:`hanami.datasets`): a truncated IDX file, a label above 9 or a
CSV cell that is not a number answer 400 with a message that names the file, the row and
the column. The limits of the settings (``dataset_max_columns``, ``dataset_max_rows``,
``dataset_max_bytes``) are checked while the files are read: too many columns or rows
answer 400, more bytes than allowed after decompression 413. Datasets are stored in the
dataset file format under ``<dataset_location>/<uuid>`` and read through memory maps.

Memory stays bounded per request: multipart bodies stream into files in the tempfile
folder (:mod:`hanami.server.api.multipart`) and conversions stream from file to dataset file,
in a worker thread that a cancelled request or a server stop ends between chunks
(:mod:`hanami.server.runtime.stoppable`).
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hanami.datasets import Dataset as DatasetFile
from hanami.datasets import (
    DatasetError,
    InputTooLarge,
    check,
    convert_csv,
    convert_mnist,
    open_dataset,
)
from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, SessionDep
from hanami.server.api.inputs import InputModel, NoInput, PayloadRoute
from hanami.server.api.multipart import Form, receive_form
from hanami.server.api.schemas import Empty, NameStr, Table, UuidStr, table
from hanami.server.context import AppContext
from hanami.server.db.models import Dataset, Tempfile
from hanami.server.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    format_validation_errors,
)
from hanami.server.runtime.stoppable import run_stoppable
from hanami.server.runtime.uploads import UploadHandle, dataset_is_finalized
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import get_in_scope, owner_fields, scope_filter

__all__ = ["router"]

router = APIRouter(tags=["dataset"], route_class=PayloadRoute)

DATASET_LIST_HEADER = ("created_at", "uuid", "project_id", "owner_id", "visibility", "name")
MAX_FILE_SIZE = 10_000_000_000
MAX_CONTENT_ROWS = 10_000
MAX_MULTIPART_BYTES = 1 << 30
"""Largest accepted multipart upload (larger files go through the websocket protocol)."""

FileSize = Annotated[int, Field(ge=1, le=MAX_FILE_SIZE, description="exact size in bytes")]
ColumnName = Annotated[str, Field(min_length=1, max_length=1024, description="column group")]


# --------------------------------------------------------------------------- shapes


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


# --------------------------------------------------------------------------- helpers


def dataset_public(dataset: Dataset) -> dict[str, Any]:
    return {
        "created_at": format_timestamp(dataset.created_at),
        "uuid": dataset.uuid,
        "name": dataset.name,
        "owner_id": dataset.owner_id,
        "project_id": dataset.project_id,
        "visibility": dataset.visibility,
    }


def dataset_info(dataset: Dataset, content: DatasetFile) -> dict[str, Any]:
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


def _open(dataset: Dataset) -> DatasetFile:
    """Open the dataset file, or 409 while it does not exist yet."""
    if not dataset_is_finalized(dataset):
        raise Conflict(
            f"Dataset with uuid '{dataset.uuid}' has no data yet: its upload was not finalized "
            "or its task has not written it"
        )
    return open_dataset(dataset.location)


def _clean(message: str, paths: dict[str, str]) -> str:
    """Replace server paths in a library message with names the client knows."""
    for path, label in paths.items():
        message = message.replace(path, label)
    return message


def _column(content: DatasetFile, dataset_uuid: str, column: str) -> np.ndarray:
    if column not in content.description:
        known = ", ".join(repr(group) for group in content.description)
        raise NotFound(
            f"Dataset with uuid '{dataset_uuid}' has no column '{column}' (it has {known})"
        )
    return content.column(column)


def _only_group(content: DatasetFile, dataset_uuid: str, role: str, preferred: str | None) -> str:
    groups = list(content.description)
    if preferred is not None and preferred in groups:
        return preferred
    if len(groups) == 1:
        return groups[0]
    raise BadRequest(
        f"Dataset with uuid '{dataset_uuid}' has several column groups "
        f"({', '.join(groups)}); choose one with '{role}'"
    )


def _json_floats(values: np.ndarray) -> list[list[float]]:
    """Rows as JSON numbers; float32 values get their shortest decimal form (0.1, not
    0.10000000149011612), which reads back as the same float32."""
    if values.dtype == np.float32:
        return values.astype(str).astype(np.float64).tolist()
    return values.astype(np.float64).tolist()


@contextmanager
def _conversion_errors(paths: dict[str, str]) -> Iterator[None]:
    """Turn a conversion's errors into 400 (bad content) or 413 (over the byte limit),
    with server paths replaced by names the client knows."""
    try:
        yield
    except InputTooLarge as exc:
        raise PayloadTooLarge(_clean(str(exc), paths)) from exc
    except DatasetError as exc:
        raise BadRequest(_clean(str(exc), paths)) from exc


def _convert(
    ctx: AppContext,
    kind: str,
    files: dict[str, Path],
    target: Path,
    name: str,
    stop: threading.Event,
) -> DatasetFile:
    """Convert the uploaded files ``{label for messages: path}`` into the dataset ``target``."""
    options: dict[str, Any] = {"name": name, "limits": ctx.settings.parse_limits, "stop": stop}
    paths = {str(path): label for label, path in files.items()}
    paths[str(target)] = f"dataset '{target.name}'"
    with _conversion_errors(paths):
        if kind == "mnist":
            images, labels = files.values()
            return convert_mnist(images, labels, target, file_names=tuple(files), **options)
        ((label, source),) = files.items()
        return convert_csv(source, target, file_name=label, **options)


def _dataset_path(ctx: AppContext, dataset_uuid: str) -> Path:
    directory = ctx.settings.dataset_location
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    return directory / dataset_uuid


def _new_upload(
    ctx: AppContext,
    session: Session,
    user: Principal,
    name: str,
    kind: str,
    files: dict[str, int],
) -> dict[str, Any]:
    limit = ctx.settings.dataset_max_bytes
    for field_name, size in files.items():
        if size > limit:  # its content is over the limit too (gzip adds only a few bytes)
            raise PayloadTooLarge(
                f"The {field_name.removeprefix('uuid_').replace('_', ' ')} has {size} bytes; "
                f"the limit is {limit} bytes"
            )
    dataset_uuid = str(uuid.uuid4())
    dataset = Dataset(
        uuid=dataset_uuid,
        name=name,
        kind=kind,
        location=str(_dataset_path(ctx, dataset_uuid)),
        **owner_fields(user),
    )
    session.add(dataset)
    ctx.quotas.check(
        session, user.project_id, storage=sum(files.values()), datasets=True, upload=True
    )
    allocated: dict[str, str] = {}
    try:
        for field_name, size in files.items():
            row = ctx.uploads.allocate(
                session, user, dataset_uuid, field_name.removeprefix("uuid_"), size
            )
            allocated[field_name] = row.uuid
        session.commit()
    except BaseException:
        session.rollback()
        ctx.uploads.forget(allocated.values())
        raise
    return {**dataset_public(dataset), **allocated}


def _finalize(
    ctx: AppContext,
    session: Session,
    user: Principal,
    dataset_uuid: str,
    kind: str,
    files: dict[str, str],
    stop: threading.Event,
) -> dict[str, Any]:
    """Convert the complete tempfiles ``{label: tempfile uuid}`` into the dataset file."""
    uploads = ctx.uploads
    if len(set(files.values())) != len(files):
        raise BadRequest("The same tempfile was given for two different files")
    with uploads.dataset_lock(dataset_uuid):
        dataset = get_in_scope(session, user, Dataset, dataset_uuid, "Dataset")
        if dataset.kind != kind:
            raise BadRequest(
                f"Dataset with uuid '{dataset_uuid}' is not a {kind} upload"
                + (f"; finalize it with PUT dataset/upload/{dataset.kind}" if dataset.kind else "")
            )
        if dataset_is_finalized(dataset):
            raise Conflict(f"Dataset with uuid '{dataset_uuid}' is already finalized")
        handles: dict[str, UploadHandle] = {}
        for label, tempfile_uuid in files.items():
            row = session.get(Tempfile, tempfile_uuid)
            handle = uploads.get(tempfile_uuid)
            if (
                row is None
                or handle is None
                or row.related_resource_uuid != dataset_uuid
                or row.owner_id != user.user_id
                or row.project_id != user.project_id
            ):
                raise NotFound(f"Tempfile with uuid '{tempfile_uuid}' not found")
            handles[label] = handle
        with uploads.claim(handles.values()):
            for label, handle in handles.items():
                if not handle.complete:
                    raise Conflict(
                        f"The upload of the {label} (tempfile '{handle.uuid}') is incomplete: "
                        f"{handle.received} of {handle.size} bytes received"
                    )
            sources = {label: h.path for label, h in handles.items()}
            _convert(ctx, kind, sources, Path(dataset.location), dataset.name, stop)
            for tempfile_uuid in files.values():
                row = session.get(Tempfile, tempfile_uuid)
                if row is not None:
                    session.delete(row)
            session.commit()
        uploads.forget(files.values())
    return {"uuid": dataset_uuid}


async def _finalize_stoppable(
    ctx: AppContext,
    session: Session,
    user: Principal,
    dataset_uuid: str,
    kind: str,
    files: dict[str, str],
) -> dict[str, Any]:
    """:func:`_finalize` in a worker thread that a cancelled request (or a server stop)
    stops between chunks; the session's transaction ends in that thread, as after any
    sync endpoint (:class:`~hanami.server.api.inputs.PayloadRoute`)."""

    def work(stop: threading.Event) -> dict[str, Any]:
        try:
            return _finalize(ctx, session, user, dataset_uuid, kind, files, stop)
        finally:
            if session.in_transaction():
                session.rollback()

    async with ctx.work.section() as stop:
        return await run_stoppable(work, stop)


# --------------------------------------------------------------------------- upload


@router.post("/dataset/upload/mnist", response_model=wire.MnistUpload, summary="Start MNIST upload")
def create_mnist_upload(
    user: CurrentUser, data: Payload[MnistCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    """Allocates the image and label tempfiles; send them with the websocket upload protocol."""
    return _new_upload(
        ctx,
        session,
        user,
        data.name,
        "mnist",
        {"uuid_input_file": data.input_data_size, "uuid_label_file": data.label_data_size},
    )


@router.put("/dataset/upload/mnist", response_model=UuidOut, summary="Finalize MNIST upload")
async def finalize_mnist_upload(
    user: CurrentUser, data: Payload[MnistFinalize], session: SessionDep, ctx: ContextDep
) -> Any:
    return await _finalize_stoppable(
        ctx,
        session,
        user,
        data.uuid,
        "mnist",
        {"input file": data.uuid_input_file, "label file": data.uuid_label_file},
    )


@router.post("/dataset/upload/csv", response_model=wire.DatasetUpload, summary="Start CSV upload")
def create_csv_upload(
    user: CurrentUser, data: Payload[CsvCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    return _new_upload(
        ctx, session, user, data.name, "csv", {"uuid_input_file": data.input_data_size}
    )


@router.put("/dataset/upload/csv", response_model=UuidOut, summary="Finalize CSV upload")
async def finalize_csv_upload(
    user: CurrentUser, data: Payload[CsvFinalize], session: SessionDep, ctx: ContextDep
) -> Any:
    return await _finalize_stoppable(
        ctx, session, user, data.uuid, "csv", {"input file": data.uuid_input_file}
    )


@router.get("/dataset/progress", response_model=wire.UploadProgress, summary="Upload progress")
def get_progress(
    user: CurrentUser, data: Payload[DatasetRef], session: SessionDep, ctx: ContextDep
) -> Any:
    """``complete`` once every byte of every tempfile of the upload has arrived."""
    dataset = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
    tempfiles = session.scalars(
        select(Tempfile.uuid).where(Tempfile.related_resource_uuid == dataset.uuid)
    ).all()
    handles = [ctx.uploads.get(t) for t in tempfiles]
    return {"uuid": dataset.uuid, "complete": all(h is not None and h.complete for h in handles)}


_MULTIPART_HELP = (
    "Send multipart/form-data with the fields 'name', 'type' (mnist or csv), the file "
    "'input_file' and, for mnist, the file 'label_file'"
)
_FILE_FIELDS = ("input_file", "label_file")


def _check_form(form: Form) -> MultipartFields:
    try:
        fields = MultipartFields.model_validate(form.fields)
    except ValidationError as exc:
        raise BadRequest(format_validation_errors(list(exc.errors()))) from exc
    needed = _FILE_FIELDS if fields.type == "mnist" else _FILE_FIELDS[:1]
    for key in needed:
        if key not in form.files:
            raise BadRequest(
                f"Validation failed, because variable '{key}' is required, but is not set"
            )
    for key in form.files:
        if key not in needed:
            raise BadRequest(f"Field '{key}' is not used for {fields.type} datasets")
    return fields


def _store_multipart(
    ctx: AppContext,
    user: Principal,
    fields: MultipartFields,
    files: dict[str, Path],
    stop: threading.Event,
) -> dict[str, Any]:
    dataset_uuid = str(uuid.uuid4())
    target = _dataset_path(ctx, dataset_uuid)
    sources = {key: files[key] for key in _FILE_FIELDS if key in files}
    content = _convert(ctx, fields.type, sources, target, fields.name, stop)
    dataset = Dataset(
        uuid=dataset_uuid,
        name=fields.name,
        kind=fields.type,
        location=str(target),
        **owner_fields(user),
    )
    try:
        with ctx.database.session() as session:
            session.add(dataset)
            ctx.quotas.check(session, user.project_id, storage=0, datasets=True)
            session.commit()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return dataset_info(dataset, content)


@router.post(
    "/dataset/upload",
    response_model=wire.Dataset,
    summary="Upload a dataset in one request (multipart)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "type", "input_file"],
                        "additionalProperties": False,
                        "properties": {
                            "name": MultipartFields.model_json_schema()["properties"]["name"],
                            "type": {"type": "string", "enum": ["mnist", "csv"]},
                            "input_file": {"type": "string", "format": "binary"},
                            "label_file": {"type": "string", "format": "binary"},
                        },
                    }
                }
            },
        }
    },
)
async def upload_dataset(user: CurrentUser, request: Request, ctx: ContextDep) -> Any:
    """New: ``input_file`` is the IDX image file (raw or gzip) or the CSV file,
    ``label_file`` the IDX label file (mnist only). Answers like ``GET dataset``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest(_MULTIPART_HELP)
    directory = ctx.settings.tempfile_location
    assert directory is not None
    async with (
        ctx.quotas.streaming(user.project_id, request),
        ctx.work.section() as stop,
        receive_form(
            request, directory, file_fields=_FILE_FIELDS, max_bytes=MAX_MULTIPART_BYTES
        ) as form,
    ):
        fields = _check_form(form)
        store = functools.partial(_store_multipart, ctx, user, fields, form.files)
        return await run_stoppable(store, stop)


# --------------------------------------------------------------------------- read


@router.get("/dataset", response_model=wire.Dataset, summary="Show dataset")
def get_dataset(user: CurrentUser, data: Payload[DatasetRef], session: SessionDep) -> Any:
    dataset = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
    return dataset_info(dataset, _open(dataset))


@router.get("/dataset/all", response_model=Table, summary="List datasets")
def list_datasets(user: CurrentUser, data: Payload[NoInput], session: SessionDep) -> Any:
    rows = session.scalars(
        select(Dataset)
        .where(scope_filter(user, Dataset))
        .order_by(Dataset.created_at, Dataset.uuid)
    )
    return table(
        DATASET_LIST_HEADER,
        (
            [
                format_timestamp(d.created_at),
                d.uuid,
                d.project_id,
                d.owner_id,
                d.visibility,
                d.name,
            ]
            for d in rows
        ),
    )


@router.get("/dataset/content", response_model=Content, summary="Read rows of a column group")
def get_content(user: CurrentUser, data: Payload[ContentInput], session: SessionDep) -> Any:
    """Rows ``[row_offset, row_offset + number_of_rows)`` of one column group, as floats.
    The window must lie inside the dataset (400 otherwise)."""
    dataset = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
    content = _open(dataset)
    view = _column(content, dataset.uuid, data.column_name)
    end = data.row_offset + data.number_of_rows
    if end > content.rows:
        raise BadRequest(
            f"Rows {data.row_offset}..{end - 1} requested, but dataset '{dataset.uuid}' has "
            f"{content.rows} rows (0..{content.rows - 1})"
        )
    return {"data": _json_floats(np.asarray(view[data.row_offset : end]))}


@router.get("/dataset/check", response_model=wire.DatasetCheck, summary="Grade a result dataset")
def check_dataset(user: CurrentUser, data: Payload[CheckInput], session: SessionDep) -> Any:
    """Compares a column group of ``uuid`` with one of ``reference_uuid`` over all rows.

    Defaults fit the original MNIST check: the result's only group against the reference's
    ``label`` group. One-hot references are graded as classification (``accuracy`` in
    percent); anything else as regression (``accuracy`` null). ``mse``/``mae`` always."""
    result = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
    reference = get_in_scope(session, user, Dataset, data.reference_uuid, "Dataset")
    result_content, reference_content = _open(result), _open(reference)
    result_column = data.result_column or _only_group(
        result_content, result.uuid, "result_column", None
    )
    reference_column = data.reference_column or _only_group(
        reference_content, reference.uuid, "reference_column", "label"
    )
    _column(result_content, result.uuid, result_column)
    _column(reference_content, reference.uuid, reference_column)
    try:
        report = check(
            result_content,
            reference_content,
            result_column,
            reference_column,
            mode=data.mode,
            reference_offset=data.reference_offset,
        )
    except DatasetError as exc:
        paths = {
            str(result_content.path): f"dataset '{result.uuid}'",
            str(reference_content.path): f"dataset '{reference.uuid}'",
        }
        raise BadRequest(_clean(str(exc), paths)) from exc
    return {
        "accuracy": report.accuracy,
        "rows": report.rows,
        "mode": report.mode,
        "mse": report.mse,
        "mae": report.mae,
    }


# --------------------------------------------------------------------------- delete


@router.delete("/dataset", response_model=Empty, summary="Delete dataset")
def delete_dataset(
    user: CurrentUser, data: Payload[DatasetRef], session: SessionDep, ctx: ContextDep
) -> Any:
    """Deletes the row, the file and any tempfiles of an unfinished upload."""
    with ctx.uploads.dataset_lock(data.uuid):
        dataset = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
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
    return {}

"""Datasets: uploads (websocket protocol and multipart), listing, reading, grading, deletion.

Two ways to upload an MNIST (IDX image + label file) or CSV dataset:

1. The original protocol (spec 3.3): ``POST dataset/upload/{mnist,csv}`` with the byte
   sizes allocates one tempfile per file, the client sends the chunks over websockets
   (:mod:`hanami.server.websocket.file_upload`), polls ``GET dataset/progress`` and finalizes with
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
(:mod:`hanami.server.runtime.stoppable`). The work is done in
:mod:`hanami.server.services.datasets` and :mod:`hanami.server.services.dataset_uploads`.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select

from hanami.protocol import models as wire
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, ReaderDep, SessionDep
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.listing import resource_table
from hanami.server.api.multipart import Form, receive_form
from hanami.server.api.schemas import Empty, Table
from hanami.server.api.schemas.datasets import (
    MAX_MULTIPART_BYTES,
    CheckInput,
    Content,
    ContentInput,
    CsvCreate,
    CsvFinalize,
    DatasetRef,
    MnistCreate,
    MnistFinalize,
    MultipartFields,
    UuidOut,
)
from hanami.server.db.models import Dataset, Tempfile
from hanami.server.errors import BadRequest, format_validation_errors
from hanami.server.runtime.stoppable import run_stoppable
from hanami.server.security.tenancy import get_in_scope, row_in_scope
from hanami.server.services import dataset_uploads as uploads
from hanami.server.services import datasets
from hanami.server.services.dataset_uploads import FILE_FIELDS

__all__ = ["router"]

router = APIRouter(tags=["dataset"], route_class=PayloadRoute)


# --------------------------------------------------------------------------- upload


@router.post("/dataset/upload/mnist", response_model=wire.MnistUpload, summary="Start MNIST upload")
def create_mnist_upload(
    user: CurrentUser, data: Payload[MnistCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    """Allocates the image and label tempfiles; send them with the websocket upload protocol."""
    return uploads.new_upload(
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
    return await uploads.finalize_stoppable(
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
    return uploads.new_upload(
        ctx, session, user, data.name, "csv", {"uuid_input_file": data.input_data_size}
    )


@router.put("/dataset/upload/csv", response_model=UuidOut, summary="Finalize CSV upload")
async def finalize_csv_upload(
    user: CurrentUser, data: Payload[CsvFinalize], session: SessionDep, ctx: ContextDep
) -> Any:
    return await uploads.finalize_stoppable(
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


def _needed_files(kind: str) -> tuple[str, ...]:
    return FILE_FIELDS if kind == "mnist" else FILE_FIELDS[:1]


def _form_schema(kind: str) -> dict[str, Any]:
    """OpenAPI of the form for one dataset type (the files it takes differ)."""
    files = _needed_files(kind)
    return {
        "type": "object",
        "required": ["name", "type", *files],
        "additionalProperties": False,
        "properties": {
            "name": MultipartFields.model_json_schema()["properties"]["name"],
            "type": {"type": "string", "const": kind},
            **{key: {"type": "string", "format": "binary"} for key in files},
        },
    }


def _check_form(form: Form) -> MultipartFields:
    try:
        fields = MultipartFields.model_validate(form.fields)
    except ValidationError as exc:
        raise BadRequest(format_validation_errors(list(exc.errors()))) from exc
    needed = _needed_files(fields.type)
    for key in needed:
        if key not in form.files:
            raise BadRequest(
                f"Validation failed, because variable '{key}' is required, but is not set"
            )
    for key in form.files:
        if key not in needed:
            raise BadRequest(f"Field '{key}' is not used for {fields.type} datasets")
    return fields


@router.post(
    "/dataset/upload",
    response_model=wire.Dataset,
    summary="Upload a dataset in one request (multipart)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"oneOf": [_form_schema("mnist"), _form_schema("csv")]}
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
            request, directory, file_fields=FILE_FIELDS, max_bytes=MAX_MULTIPART_BYTES
        ) as form,
    ):
        fields = _check_form(form)
        store = functools.partial(
            uploads.store_multipart, ctx, user, fields.type, fields.name, form.files
        )
        return await run_stoppable(store, stop)


# --------------------------------------------------------------------------- read


@router.get("/dataset", response_model=wire.Dataset, summary="Show dataset")
def get_dataset(user: CurrentUser, data: Payload[DatasetRef], reader: ReaderDep) -> Any:
    dataset = row_in_scope(reader, user, Dataset, data.uuid, "Dataset")
    return datasets.dataset_info(dataset, datasets.read_content_header(dataset))


@router.get("/dataset/all", response_model=Table, summary="List datasets")
def list_datasets(user: CurrentUser, data: Payload[NoInput], reader: ReaderDep) -> Any:
    return resource_table(reader, user, Dataset)


@router.get("/dataset/content", response_model=Content, summary="Read rows of a column group")
def get_content(user: CurrentUser, data: Payload[ContentInput], session: SessionDep) -> Any:
    """Rows ``[row_offset, row_offset + number_of_rows)`` of one column group, as floats.
    The window must lie inside the dataset (400 otherwise)."""
    dataset = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
    return datasets.read_rows(dataset, data.column_name, data.row_offset, data.number_of_rows)


@router.get("/dataset/check", response_model=wire.DatasetCheck, summary="Grade a result dataset")
def check_dataset(user: CurrentUser, data: Payload[CheckInput], session: SessionDep) -> Any:
    """Compares a column group of ``uuid`` with one of ``reference_uuid`` over all rows.

    Defaults fit the original MNIST check: the result's only group against the reference's
    ``label`` group. One-hot references are graded as classification (``accuracy`` in
    percent); anything else as regression (``accuracy`` null). ``mse``/``mae`` always."""
    result = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
    reference = get_in_scope(session, user, Dataset, data.reference_uuid, "Dataset")
    return datasets.grade(
        result,
        reference,
        data.result_column,
        data.reference_column,
        mode=data.mode,
        reference_offset=data.reference_offset,
    )


# --------------------------------------------------------------------------- delete


@router.delete("/dataset", response_model=Empty, summary="Delete dataset")
def delete_dataset(
    user: CurrentUser, data: Payload[DatasetRef], session: SessionDep, ctx: ContextDep
) -> Any:
    """Deletes the row, the file and any tempfiles of an unfinished upload."""
    with ctx.uploads.dataset_lock(data.uuid):
        dataset = get_in_scope(session, user, Dataset, data.uuid, "Dataset")
        datasets.delete(ctx, session, dataset)
    return {}

"""Checkpoints: saved copies of clusters (``cluster/save``), listed, shown, deleted, moved.

New compared with the original: ``GET checkpoint`` works (it always answered 500), and
checkpoint files can be downloaded (``GET checkpoint/download``) and uploaded
(``POST checkpoint/upload?name=...`` with the raw file as the body); an uploaded file is
verified (format, checksum, contents) before it becomes a checkpoint, and can then be
restored into any cluster with ``cluster/load``. The server path is never shown.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy import Row

from hanami.core import CheckpointError, Cluster
from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp, utcnow
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, ReaderDep, SessionDep
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.listing import resource_table
from hanami.server.api.schemas import Empty, Table
from hanami.server.api.schemas.checkpoints import (
    CheckpointRef,
    CheckpointUpload,
)
from hanami.server.context import AppContext
from hanami.server.db.models import Checkpoint
from hanami.server.errors import BadRequest, Conflict, PayloadTooLarge, format_validation_errors
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import get_in_scope, owner_fields, row_in_scope

__all__ = ["router"]

router = APIRouter(tags=["checkpoint"], route_class=PayloadRoute)

MAX_CHECKPOINT_BYTES = 4 << 30
"""Largest accepted checkpoint upload (4 GiB)."""


def checkpoint_public(checkpoint: Checkpoint | Row[Any]) -> dict[str, Any]:
    try:
        size = Path(checkpoint.location).stat().st_size
    except OSError:
        size = 0
    return {
        "uuid": checkpoint.uuid,
        "name": checkpoint.name,
        "created_at": format_timestamp(checkpoint.created_at),
        "owner_id": checkpoint.owner_id,
        "project_id": checkpoint.project_id,
        "visibility": checkpoint.visibility,
        "cluster_uuid": checkpoint.cluster_uuid,
        "size": size,
    }


@router.get("/checkpoint", response_model=wire.Checkpoint, summary="Show checkpoint")
def get_checkpoint(user: CurrentUser, data: Payload[CheckpointRef], reader: ReaderDep) -> Any:
    checkpoint = row_in_scope(reader, user, Checkpoint, data.uuid, "Checkpoint")
    return checkpoint_public(checkpoint)


@router.get("/checkpoint/all", response_model=Table, summary="List checkpoints")
def list_checkpoints(user: CurrentUser, data: Payload[NoInput], reader: ReaderDep) -> Any:
    return resource_table(reader, user, Checkpoint)


@router.delete("/checkpoint", response_model=Empty, summary="Delete checkpoint")
def delete_checkpoint(user: CurrentUser, data: Payload[CheckpointRef], session: SessionDep) -> Any:
    """Deletes the row and the file (a restore queued before keeps its own pinned copy)."""
    checkpoint = get_in_scope(session, user, Checkpoint, data.uuid, "Checkpoint")
    location = checkpoint.location
    session.delete(checkpoint)
    session.commit()
    if location:
        Path(location).unlink(missing_ok=True)
    return {}


@router.get(
    "/checkpoint/download",
    summary="Download checkpoint file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_checkpoint(
    user: CurrentUser, data: Payload[CheckpointRef], session: SessionDep
) -> Any:
    """The checkpoint file as ``application/octet-stream`` (upload it elsewhere to move it)."""
    checkpoint = get_in_scope(session, user, Checkpoint, data.uuid, "Checkpoint")
    if not Path(checkpoint.location).is_file():
        raise Conflict(f"Checkpoint with uuid '{checkpoint.uuid}' has no file")
    return FileResponse(
        checkpoint.location,
        media_type="application/octet-stream",
        filename=f"{checkpoint.name}.hnmckpt",
    )


def _upload_input(request: Request) -> CheckpointUpload:
    values: dict[str, Any] = dict(parse_qsl(request.url.query, keep_blank_values=True))
    values.pop("token", None)
    request.state.input_values = values
    try:
        return CheckpointUpload.model_validate(values)
    except ValidationError as exc:
        raise BadRequest(format_validation_errors(list(exc.errors()))) from exc


@router.post(
    "/checkpoint/upload",
    response_model=wire.Checkpoint,
    summary="Upload checkpoint file",
    openapi_extra={
        "parameters": [
            {"name": "name", "in": "query", "required": True,
             "schema": CheckpointUpload.model_json_schema()["properties"]["name"]}
        ],
        "requestBody": {
            "required": True,
            "description": "the raw checkpoint file (as written by checkpoint/download)",
            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                "format": "binary"}}},
        },
    },
)  # fmt: skip
async def upload_checkpoint(user: CurrentUser, request: Request, ctx: ContextDep) -> Any:
    """Store an uploaded checkpoint file (query ``name``; body: the file) after verifying it."""
    data = _upload_input(request)
    directory = ctx.settings.checkpoint_location
    assert directory is not None
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CHECKPOINT_BYTES:
        raise PayloadTooLarge(f"Checkpoint is larger than {MAX_CHECKPOINT_BYTES} bytes")
    async with ctx.quotas.streaming(user.project_id, request):
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".tmp")
        temp_path = Path(temp)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_CHECKPOINT_BYTES:
                        raise PayloadTooLarge(
                            f"Checkpoint is larger than {MAX_CHECKPOINT_BYTES} bytes"
                        )
                    await anyio.to_thread.run_sync(out.write, chunk)
            if size == 0:
                raise BadRequest("The request body is empty: send the checkpoint file as the body")
            return await anyio.to_thread.run_sync(_store_upload, ctx, user, data.name, temp_path)
        finally:
            temp_path.unlink(missing_ok=True)


def _store_upload(ctx: AppContext, user: Principal, name: str, temp: Path) -> dict[str, Any]:
    try:
        Cluster.load(temp)
    except CheckpointError as exc:
        message = str(exc).replace(str(temp), "uploaded file")
        raise BadRequest(f"Uploaded file is not a valid checkpoint: {message}") from None
    checkpoint_uuid = str(uuid.uuid4())
    target = temp.with_name(f"{checkpoint_uuid}.ckpt")
    os.replace(temp, target)
    checkpoint = Checkpoint(
        uuid=checkpoint_uuid,
        name=name,
        cluster_uuid=None,
        location=str(target),
        created_at=utcnow(),
        **owner_fields(user),
    )
    try:
        with ctx.database.session() as session:
            session.add(checkpoint)
            ctx.quotas.check(session, user.project_id, storage=0)
            session.commit()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return checkpoint_public(checkpoint)

"""Dataset uploads behind the routes: tempfiles for the websocket protocol, their
finalisation, and the one-request multipart upload; all convert through :func:`convert`,
which turns parse errors into 400 and oversized content into 413."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hanami.datasets import Dataset as DatasetFile
from hanami.datasets import DatasetError, InputTooLarge, convert_csv, convert_mnist
from hanami.server.context import AppContext
from hanami.server.db.models import Dataset, Tempfile
from hanami.server.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from hanami.server.runtime.stoppable import run_stoppable
from hanami.server.runtime.upload_handles import UploadHandle
from hanami.server.runtime.uploads import dataset_is_finalized
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import get_in_scope, owner_fields
from hanami.server.services.datasets import clean_paths, dataset_info, dataset_public

__all__ = [
    "FILE_FIELDS",
    "convert",
    "finalize",
    "finalize_stoppable",
    "new_upload",
    "store_multipart",
]

FILE_FIELDS = ("input_file", "label_file")
"""The file fields of a multipart upload, in the order the converters take them."""


@contextmanager
def conversion_errors(paths: dict[str, str]) -> Iterator[None]:
    """Turn a conversion's errors into 400 (bad content) or 413 (over the byte limit),
    with server paths replaced by names the client knows."""
    try:
        yield
    except InputTooLarge as exc:
        raise PayloadTooLarge(clean_paths(str(exc), paths)) from exc
    except DatasetError as exc:
        raise BadRequest(clean_paths(str(exc), paths)) from exc


def convert(
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
    with conversion_errors(paths):
        if kind == "mnist":
            images, labels = files.values()
            return convert_mnist(images, labels, target, file_names=tuple(files), **options)
        ((label, source),) = files.items()
        return convert_csv(source, target, file_name=label, **options)


def dataset_path(ctx: AppContext, dataset_uuid: str) -> Path:
    directory = ctx.settings.dataset_location
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    return directory / dataset_uuid


def new_upload(
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
        location=str(dataset_path(ctx, dataset_uuid)),
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


def finalize(
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
            convert(ctx, kind, sources, Path(dataset.location), dataset.name, stop)
            for tempfile_uuid in files.values():
                row = session.get(Tempfile, tempfile_uuid)
                if row is not None:
                    session.delete(row)
            session.commit()
        uploads.forget(files.values())
    return {"uuid": dataset_uuid}


async def finalize_stoppable(
    ctx: AppContext,
    session: Session,
    user: Principal,
    dataset_uuid: str,
    kind: str,
    files: dict[str, str],
) -> dict[str, Any]:
    """:func:`finalize` in a worker thread that a cancelled request (or a server stop)
    stops between chunks; the session's transaction ends in that thread, as after any
    sync endpoint (:class:`~hanami.server.api.inputs.PayloadRoute`)."""

    def work(stop: threading.Event) -> dict[str, Any]:
        try:
            return finalize(ctx, session, user, dataset_uuid, kind, files, stop)
        finally:
            if session.in_transaction():
                session.rollback()

    async with ctx.work.section() as stop:
        return await run_stoppable(work, stop)


def store_multipart(
    ctx: AppContext,
    user: Principal,
    kind: str,
    name: str,
    files: dict[str, Path],
    stop: threading.Event,
) -> dict[str, Any]:
    """Convert the files of a multipart upload into a new dataset; answers like ``GET dataset``."""
    dataset_uuid = str(uuid.uuid4())
    target = dataset_path(ctx, dataset_uuid)
    sources = {key: files[key] for key in FILE_FIELDS if key in files}
    content = convert(ctx, kind, sources, target, name, stop)
    dataset = Dataset(
        uuid=dataset_uuid,
        name=name,
        kind=kind,
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

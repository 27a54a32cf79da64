"""Datasets and checkpoints: the resources that move files in and out."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any, Literal

import numpy as np

from hanami.protocol.models import (
    Checkpoint,
    Dataset,
    DatasetCheck,
    DatasetUpload,
    UploadProgress,
)
from hanami.sdk._checkpoint_transfer import download_checkpoint, upload_checkpoint
from hanami.sdk._models import (
    CheckpointTable,
    DatasetTable,
)
from hanami.sdk._resource import Resource
from hanami.sdk._wire import ModeT, Op, operation

__all__ = ["Checkpoints", "Datasets", "FileSource", "UploadProgressCallback"]

FileSource = str | os.PathLike[str] | bytes | IO[bytes]
"""A file to upload: a path, the bytes themselves, or a binary file object."""
UploadProgressCallback = Callable[[int, int], None]
"""``progress(bytes_sent, bytes_total)``."""
Transport = Literal["websocket", "multipart"]

MAX_CONTENT_ROWS = 10_000


class Datasets(Resource[ModeT]):
    """Datasets: upload (MNIST IDX files or CSV), inspect, read, grade, delete."""

    @operation
    def upload_mnist(
        self,
        name: str,
        images: FileSource,
        labels: FileSource,
        *,
        progress: UploadProgressCallback | None = None,
        transport: Transport = "websocket",
        timeout: float | None = 600.0,
    ) -> Op[Dataset]:
        """Upload an IDX image file and its label file as one dataset; returns it.

        ``transport="websocket"`` runs the protocol of spec §3.3 (init, 128 KiB chunks over
        one websocket per file, progress polling, finalize) and works with the original
        server as well; ``"multipart"`` sends both files in one ``multipart/form-data``
        request (Hanami only). ``progress(sent, total)`` reports bytes.
        """
        from hanami.sdk import _upload

        return (
            yield from _upload.upload(
                self._client,
                "mnist",
                name,
                [images, labels],
                progress=progress,
                transport=transport,
                timeout=timeout,
            )
        )

    @operation
    def upload_csv(
        self,
        name: str,
        file: FileSource,
        *,
        progress: UploadProgressCallback | None = None,
        transport: Transport = "websocket",
        timeout: float | None = 600.0,
    ) -> Op[Dataset]:
        """Upload a CSV file (header line, then numeric rows) as a dataset; returns it."""
        from hanami.sdk import _upload

        return (
            yield from _upload.upload(
                self._client,
                "csv",
                name,
                [file],
                progress=progress,
                transport=transport,
                timeout=timeout,
            )
        )

    # low-level steps of the websocket upload (spec §3.3)

    @operation
    def init_mnist_upload(
        self, name: str, input_data_size: int, label_data_size: int
    ) -> Op[DatasetUpload]:
        """``POST /dataset/upload/mnist``: create the dataset and two tempfiles."""
        body = {
            "name": name,
            "input_data_size": input_data_size,
            "label_data_size": label_data_size,
        }
        return (yield from self._model(DatasetUpload, self._post("dataset/upload/mnist", body)))

    @operation
    def finalize_mnist_upload(
        self, uuid: str, uuid_input_file: str, uuid_label_file: str
    ) -> Op[str]:
        """``PUT /dataset/upload/mnist``: convert the uploaded files; returns the uuid."""
        body = {
            "uuid": uuid,
            "uuid_input_file": uuid_input_file,
            "uuid_label_file": uuid_label_file,
        }
        return str((yield self._put("dataset/upload/mnist", body))["uuid"])

    @operation
    def init_csv_upload(self, name: str, input_data_size: int) -> Op[DatasetUpload]:
        """``POST /dataset/upload/csv``: create the dataset and one tempfile."""
        body = {"name": name, "input_data_size": input_data_size}
        return (yield from self._model(DatasetUpload, self._post("dataset/upload/csv", body)))

    @operation
    def finalize_csv_upload(self, uuid: str, uuid_input_file: str) -> Op[str]:
        """``PUT /dataset/upload/csv``."""
        body = {"uuid": uuid, "uuid_input_file": uuid_input_file}
        return str((yield self._put("dataset/upload/csv", body))["uuid"])

    @operation
    def progress(self, uuid: str) -> Op[UploadProgress]:
        """``GET /dataset/progress``: whether every chunk of the upload has arrived."""
        return (yield from self._model(UploadProgress, self._get("dataset/progress", uuid=uuid)))

    # reading

    @operation
    def get(self, uuid: str) -> Op[Dataset]:
        return (yield from self._model(Dataset, self._get("dataset", uuid=uuid)))

    @operation
    def list(self) -> Op[DatasetTable]:
        return (yield from self._model(DatasetTable, self._get("dataset/all")))

    @operation
    def delete(self, uuid: str) -> Op[None]:
        yield self._delete("dataset", uuid=uuid)

    @operation
    def check(
        self,
        uuid: str,
        reference_uuid: str,
        *,
        result_column: str | None = None,
        reference_column: str | None = None,
        mode: str | None = None,
        reference_offset: int | None = None,
    ) -> Op[DatasetCheck]:
        """``GET /dataset/check``: grade result ``uuid`` against ``reference_uuid``.

        ``accuracy`` is the percentage of rows whose class (arg-max) matches. The keyword
        options are Hanami extensions (column groups, ``classification``/``regression``,
        row offset) and are only sent when set; the original grades MNIST only.
        """
        call = self._get(
            "dataset/check",
            uuid=uuid,
            reference_uuid=reference_uuid,
            result_column=result_column,
            reference_column=reference_column,
            mode=mode,
            reference_offset=reference_offset,
        )
        return (yield from self._model(DatasetCheck, call))

    @operation
    def content(
        self, uuid: str, column: str, *, row_offset: int = 0, number_of_rows: int = 1
    ) -> Op[np.ndarray]:
        """``GET /dataset/content``: up to 10000 rows of one column group, as float32
        ``(rows, width)``."""
        data = yield self._get(
            "dataset/content",
            uuid=uuid,
            column_name=column,
            row_offset=row_offset,
            number_of_rows=number_of_rows,
        )
        return _rows_array(data.get("data", []) if isinstance(data, dict) else data)

    @operation
    def download(
        self,
        uuid: str,
        column: str | None = None,
        *,
        start: int = 0,
        stop: int | None = None,
        page_size: int = MAX_CONTENT_ROWS,
        progress: Callable[[int, int], None] | None = None,
    ) -> Op[np.ndarray]:
        """Rows ``start:stop`` of one column group (default: the first) as a float32 array,
        fetched in pages of up to 10000 rows. ``progress(rows_read, rows_total)``."""
        info = yield from Datasets.get.op(self, uuid)
        if column is None:
            if not info.description:
                raise ValueError(f"dataset {uuid} has no columns")
            column = next(iter(info.description))
        stop = info.number_of_rows if stop is None else min(stop, info.number_of_rows)
        width = info.description[column].width if column in info.description else 0
        page_size = max(1, min(page_size, MAX_CONTENT_ROWS))
        pages = []
        offset = start
        while offset < stop:
            count = min(page_size, stop - offset)
            page = yield from Datasets.content.op(
                self, uuid, column, row_offset=offset, number_of_rows=count
            )
            pages.append(page)
            offset += count
            if progress is not None:
                progress(offset - start, stop - start)
        if not pages:
            return np.zeros((0, width), dtype=np.float32)
        return np.concatenate(pages, axis=0)


def _rows_array(rows: Any) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(len(array), -1) if array.size else array.reshape(0, 0)
    return array


class Checkpoints(Resource[ModeT]):
    """Checkpoints; Hanami can also move checkpoint files in and out."""

    @operation
    def get(self, uuid: str) -> Op[Checkpoint]:
        """``GET /checkpoint`` (always 500 on the original server)."""
        return (yield from self._model(Checkpoint, self._get("checkpoint", uuid=uuid)))

    @operation
    def list(self) -> Op[CheckpointTable]:
        return (yield from self._model(CheckpointTable, self._get("checkpoint/all")))

    @operation
    def delete(self, uuid: str) -> Op[None]:
        yield self._delete("checkpoint", uuid=uuid)

    @operation
    def download(
        self,
        uuid: str,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        progress: UploadProgressCallback | None = None,
    ) -> Op[int]:
        """``GET /checkpoint/download`` (Hanami): write the checkpoint file to ``target``
        (a path or a binary file object); returns the number of bytes."""
        return (yield from download_checkpoint(uuid, target, progress=progress))

    @operation
    def upload(
        self, name: str, file: FileSource, *, progress: UploadProgressCallback | None = None
    ) -> Op[Checkpoint]:
        """``POST /checkpoint/upload`` (Hanami): store a checkpoint file under ``name``; the
        server verifies it. Restore it with ``clusters.restore``."""
        return (yield from upload_checkpoint(name, file, progress=progress))

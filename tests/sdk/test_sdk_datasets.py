"""Dataset uploads (websocket protocol and multipart), reading, grading and errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from sdk_server import (
    csv_text,
    needs_datasets,
    needs_websocket,
    synthetic_digits,
    unique,
    write_mnist,
)

from hanami.sdk import (
    BadRequest,
    Dataset,
    DatasetRow,
    HanamiClient,
    NotFound,
    StatusError,
    UploadProgress,
)
from hanami.sdk._streaming import CHUNK_SIZE


@needs_websocket
def test_csv_upload_over_websocket_reports_progress(admin: HanamiClient) -> None:
    text = csv_text(rows=50)
    seen: list[tuple[int, int]] = []
    dataset = admin.datasets.upload_csv(
        unique("csv"), text.encode(), progress=lambda sent, total: seen.append((sent, total))
    )
    assert isinstance(dataset, Dataset)
    assert dataset.number_of_rows == 50
    assert dataset.columns == ["x", "y"]
    assert dataset.description["y"].width == 1
    assert seen[0] == (0, len(text))
    assert seen[-1] == (len(text), len(text))
    assert isinstance(admin.datasets.progress(dataset.uuid), UploadProgress)
    assert admin.datasets.progress(dataset.uuid).complete is True


@needs_websocket
def test_mnist_upload_over_websocket_in_several_chunks(admin: HanamiClient, tmp_path: Path) -> None:
    images, labels = synthetic_digits(300, side=28)  # 235 KB: two 128 KiB chunks
    image_file, label_file = tmp_path / "images.idx", tmp_path / "labels.idx"
    from sdk_server import idx_bytes

    image_file.write_bytes(idx_bytes(images))
    label_file.write_bytes(idx_bytes(labels))
    chunks: list[int] = []
    dataset = admin.datasets.upload_mnist(
        unique("mnist"), image_file, label_file, progress=lambda sent, total: chunks.append(sent)
    )
    assert dataset.number_of_rows == 300
    assert dataset.description["picture"].width == 28 * 28
    assert dataset.description["label"].width == 10
    assert CHUNK_SIZE in chunks  # progress after the first full chunk
    assert chunks[-1] == image_file.stat().st_size + label_file.stat().st_size
    labels_read = admin.datasets.content(dataset.uuid, "label", row_offset=0, number_of_rows=5)
    assert labels_read.shape == (5, 10)
    assert list(labels_read.argmax(axis=1)) == list(labels[:5])


@needs_websocket
def test_upload_from_file_object(admin: HanamiClient) -> None:
    stream = io.BytesIO(csv_text(rows=10).encode())
    dataset = admin.datasets.upload_csv(unique("stream"), stream)
    assert dataset.number_of_rows == 10


@needs_websocket
def test_invalid_csv_upload_raises_bad_request_and_cleans_up(admin: HanamiClient) -> None:
    name = unique("broken")
    with pytest.raises(BadRequest) as info:
        admin.datasets.upload_csv(name, b"x,y\n1,not a number\n")
    assert str(info.value)
    assert name not in admin.datasets.list().column("name")


@needs_datasets
def test_multipart_upload(admin: HanamiClient, tmp_path: Path) -> None:
    image_file, label_file = write_mnist(tmp_path, rows=30)
    seen: list[int] = []
    dataset = admin.datasets.upload_mnist(
        unique("multi"),
        image_file,
        label_file,
        transport="multipart",
        progress=lambda sent, total: seen.append(sent),
    )
    assert dataset.number_of_rows == 30
    assert seen[-1] == image_file.stat().st_size + label_file.stat().st_size
    csv = admin.datasets.upload_csv(unique("multicsv"), csv_text(8).encode(), transport="multipart")
    assert csv.number_of_rows == 8


@needs_datasets
def test_dataset_read_list_download_check_delete(admin: HanamiClient, tmp_path: Path) -> None:
    image_file, label_file = write_mnist(tmp_path, rows=25)
    dataset = admin.datasets.upload_mnist(
        unique("read"), image_file, label_file, transport="multipart"
    )
    assert admin.datasets.get(dataset.uuid).name == dataset.name
    rows = admin.datasets.list().rows()
    assert all(isinstance(row, DatasetRow) for row in rows)
    assert dataset.uuid in [row.uuid for row in rows]

    page = admin.datasets.content(dataset.uuid, "label", row_offset=20, number_of_rows=5)
    assert page.dtype == np.float32
    assert page.shape == (5, 10)
    everything = admin.datasets.download(dataset.uuid, "label", page_size=7)
    assert everything.shape == (25, 10)
    np.testing.assert_array_equal(everything[20:], page)
    first_group = admin.datasets.download(dataset.uuid, stop=3)
    assert first_group.shape == (3, 64)

    report = admin.datasets.check(dataset.uuid, dataset.uuid, result_column="label")
    assert report.accuracy == pytest.approx(100.0)

    admin.datasets.delete(dataset.uuid)
    with pytest.raises(NotFound):
        admin.datasets.get(dataset.uuid)
    with pytest.raises(NotFound):
        admin.datasets.delete(dataset.uuid)


@needs_datasets
def test_dataset_errors(admin: HanamiClient) -> None:
    with pytest.raises(BadRequest):
        admin.datasets.get("fail_dataset")
    with pytest.raises(NotFound):
        admin.datasets.get("00000000-0000-0000-0000-000000000000")
    dataset = admin.datasets.upload_csv(unique("err"), csv_text(5).encode(), transport="multipart")
    with pytest.raises(NotFound) as info:
        admin.datasets.content(dataset.uuid, "no_such_column")
    assert "no_such_column" in str(info.value)
    with pytest.raises(StatusError) as info:
        admin.datasets.content(dataset.uuid, "x", row_offset=10, number_of_rows=2)
    assert info.value.status_code == 400


@needs_datasets
def test_datasets_are_private_to_their_project(admin: HanamiClient, make_member) -> None:  # type: ignore[no-untyped-def]
    owner, stranger = make_member(), make_member()
    dataset = owner.client.datasets.upload_csv(
        unique("private"), csv_text(5).encode(), transport="multipart"
    )
    assert dataset.owner_id == owner.id
    assert admin.datasets.get(dataset.uuid).project_id == owner.project_id
    with pytest.raises(NotFound):
        stranger.client.datasets.get(dataset.uuid)
    assert dataset.uuid not in stranger.client.datasets.list().column("uuid")

"""Datasets over the real server: uploads (websocket protocol and multipart), finalize,
list/get/content/check/delete with exact shapes, strict parsing errors, tenancy."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from dataset_helpers import (
    content,
    finalize,
    gz,
    idx_bytes,
    make_mnist,
    multipart,
    new_member,
    start_upload,
    upload_csv_ws,
    upload_mnist_ws,
    ws_upload,
)

MNIST_DIR = Path("/work/shared/data/mnist")
MNIST_DESCRIPTION = {
    "picture": {"column_start": 0, "column_end": 784},
    "label": {"column_start": 784, "column_end": 794},
}
CSV_TEXT = "input,output\n0.1,1\n-2.5,0\n3e2,true\n"
LIST_HEADER = ["created_at", "uuid", "project_id", "owner_id", "visibility", "name"]


@pytest.fixture(scope="module")
def member(admin, http):
    """One uploader per backend for the whole module (creating users costs ~1 s each)."""
    return new_member(admin, http)


def one_hot(labels) -> list[list[float]]:
    return [[1.0 if i == label else 0.0 for i in range(10)] for label in labels]


def test_mnist_websocket_upload_finalize_and_read(server, member):
    api = member.api
    mnist = make_mnist(300)
    images, labels = mnist.image_file, mnist.label_file
    created = start_upload(api, "mnist", "mnist_ws", len(images), len(labels))
    assert set(created) == {
        "created_at",
        "uuid",
        "name",
        "owner_id",
        "project_id",
        "visibility",
        "uuid_input_file",
        "uuid_label_file",
    }
    assert (created["name"], created["owner_id"], created["project_id"]) == (
        "mnist_ws",
        member.id,
        member.project_id,
    )
    uuid = created["uuid"]
    assert api.get("dataset/progress", uuid=uuid).json() == {"uuid": uuid, "complete": False}
    assert api.get("dataset", uuid=uuid).status_code == 409  # not finalized yet
    ws_upload(server.url, api.token, created["uuid_input_file"], images)
    assert api.get("dataset/progress", uuid=uuid).json()["complete"] is False
    ws_upload(server.url, api.token, created["uuid_label_file"], labels)
    assert api.get("dataset/progress", uuid=uuid).json() == {"uuid": uuid, "complete": True}

    response = finalize(api, "mnist", created)
    assert response.status_code == 200, response.text
    assert response.json() == {"uuid": uuid}
    assert api.get("dataset/progress", uuid=uuid).json()["complete"] is True
    assert finalize(api, "mnist", created).status_code == 409  # already finalized

    info = api.get("dataset", uuid=uuid).json()
    assert info == {
        "uuid": uuid,
        "name": "mnist_ws",
        "description": MNIST_DESCRIPTION,
        "owner_id": member.id,
        "project_id": member.project_id,
        "visibility": "private",
        "version": "v2.0",
        "number_of_rows": 300,
        "number_of_columns": 794,
        "created_at": created["created_at"],
    }
    rows = content(api, uuid, "label", 295, 5).json()["data"]
    assert rows == one_hot(mnist.labels[295:300])
    pixels = content(api, uuid, "picture", 7, 2).json()["data"]
    assert pixels == mnist.images[7:9].reshape(2, 784).astype(float).tolist()

    listing = api.get("dataset/all").json()
    assert listing["header"] == LIST_HEADER
    assert [
        created["created_at"],
        uuid,
        member.project_id,
        member.id,
        "private",
        "mnist_ws",
    ] in listing["body"]

    assert api.delete("dataset", uuid=uuid).json() == {}
    assert api.get("dataset", uuid=uuid).status_code == 404
    assert api.delete("dataset", uuid=uuid).status_code == 404
    assert uuid not in [row[1] for row in api.get("dataset/all").json()["body"]]


def test_csv_websocket_upload_and_content(server, member):
    api = member.api
    uuid = upload_csv_ws(api, server.url, "csv_ws", CSV_TEXT)
    info = api.get("dataset", uuid=uuid).json()
    assert info["description"] == {
        "input": {"column_start": 0, "column_end": 1},
        "output": {"column_start": 1, "column_end": 2},
    }
    assert (info["number_of_rows"], info["number_of_columns"]) == (3, 2)
    assert content(api, uuid, "input", 0, 3).json() == {"data": [[0.1], [-2.5], [300.0]]}
    assert content(api, uuid, "output", 1, 2).json() == {"data": [[0.0], [1.0]]}


def test_multipart_upload_mnist_gzip_and_csv(member):
    api = member.api
    mnist = make_mnist(40, side=5, seed=3)
    response = multipart(
        api, "mnist_multi", "mnist", input_file=gz(mnist.image_file), label_file=mnist.label_file
    )
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["description"] == {
        "picture": {"column_start": 0, "column_end": 25},
        "label": {"column_start": 25, "column_end": 35},
    }
    assert (info["name"], info["number_of_rows"], info["number_of_columns"]) == (
        "mnist_multi",
        40,
        35,
    )
    assert api.get("dataset", uuid=info["uuid"]).json() == info
    assert content(api, info["uuid"], "label", 0, 3).json()["data"] == one_hot([0, 1, 2])

    response = multipart(api, "csv multi", "csv", input_file=CSV_TEXT.encode())
    assert response.status_code == 200, response.text
    uuid = response.json()["uuid"]
    assert content(api, uuid, "input", 2).json() == {"data": [[300.0]]}

    # a file part without a filename is a file too (RFC 7578 makes the filename optional)
    response = api.http.post(
        "/v1.0alpha/dataset/upload",
        data={"name": "csv plain", "type": "csv"},
        files={"input_file": (None, CSV_TEXT.encode())},
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text
    assert content(api, response.json()["uuid"], "input", 2).json() == {"data": [[300.0]]}


@pytest.mark.parametrize(
    ("fields", "files", "message"),
    [
        ({"name": "x_multi", "type": "mnist"}, {"input_file": b"1"}, "label_file"),
        ({"name": "x_multi", "type": "tsv"}, {"input_file": b"1"}, "type"),
        ({"name": "1bad", "type": "csv"}, {"input_file": b"1"}, "name"),
        ({"name": "x_multi", "type": "csv", "extra": "1"}, {"input_file": b"1"}, "extra"),
        (
            {"name": "x_multi", "type": "csv"},
            {"input_file": b"a\n", "label_file": b""},
            "label_file",
        ),
    ],
)
def test_multipart_rejects_bad_forms(member, fields, files, message):
    response = member.api.http.post(
        "/v1.0alpha/dataset/upload",
        data=fields,
        files={k: ("f", v) for k, v in files.items()},
        headers=member.api.headers(),
    )
    assert response.status_code == 400, response.text
    assert message in response.text


def test_multipart_needs_multipart(member):
    response = member.api.post("dataset/upload", {"name": "json_body", "type": "csv"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.text


def test_malformed_files_name_row_and_column(server, member):
    api = member.api
    mnist = make_mnist(12, side=4)
    truncated = mnist.image_file[:-5]
    response = multipart(api, "bad_idx", "mnist", input_file=truncated, label_file=mnist.label_file)
    assert response.status_code == 400
    assert response.text.startswith("input_file: truncated IDX data")

    labels = mnist.labels.copy()
    labels[3] = 10
    response = multipart(
        api, "bad_label", "mnist", input_file=mnist.image_file, label_file=idx_bytes(labels)
    )
    assert response.status_code == 400
    assert "label 10 at row 3" in response.text

    response = multipart(
        api, "bad_count", "mnist", input_file=mnist.image_file, label_file=idx_bytes(labels[:5])
    )
    assert response.status_code == 400
    assert "12 images but the label file 5 labels" in response.text

    response = multipart(api, "bad_csv", "csv", input_file=b"input,output\n1,2\n3,abc\n")
    assert response.status_code == 400
    assert response.text == "input_file: row 3, column 'output': value 'abc' is not a number"

    # The same strictness after a websocket upload; the tempfiles stay for another try.
    text = b"input,output\n1,2\n3,4,5\n"
    created = start_upload(api, "csv", "bad_csv_ws", len(text))
    ws_upload(server.url, api.token, created["uuid_input_file"], text)
    response = finalize(api, "csv", created)
    assert response.status_code == 400
    assert response.text == "input file: row 3 has 3 fields but the header has 2 columns"
    assert str(server.data_dir) not in response.text
    assert api.get("dataset/progress", uuid=created["uuid"]).json()["complete"] is True
    assert api.delete("dataset", uuid=created["uuid"]).status_code == 200
    assert finalize(api, "csv", created).status_code == 404


def test_finalize_checks_tempfiles_and_completeness(server, member, admin, http):
    api = member.api
    data = b"a,b\n1,2\n"
    created = start_upload(api, "csv", "partial_csv", len(data))
    response = finalize(api, "csv", created)
    assert response.status_code == 409
    assert f"0 of {len(data)} bytes received" in response.text

    other = start_upload(api, "csv", "other_csv", len(data))
    mixed = {**created, "uuid_input_file": other["uuid_input_file"]}
    assert finalize(api, "csv", mixed).status_code == 404  # tempfile of another dataset
    wrong = {**created, "uuid_input_file": "00000000-0000-4000-8000-000000000000"}
    assert finalize(api, "csv", wrong).status_code == 404
    assert (
        api.put(
            "dataset/upload/mnist", {**created, "uuid_label_file": other["uuid_input_file"]}
        ).status_code
        == 400
    )
    assert (
        api.put(
            "dataset/upload/csv", {"uuid": created["uuid"], "uuid_input_file": "nope"}
        ).status_code
        == 400
    )

    ws_upload(server.url, api.token, created["uuid_input_file"], data)
    stranger = new_member(admin, http, member.project_id)
    assert finalize(stranger.api, "csv", created).status_code == 404
    assert finalize(api, "csv", created).status_code == 200


def test_content_errors(server, member):
    api = member.api
    uuid = upload_csv_ws(api, server.url, "content_errors", CSV_TEXT)
    response = content(api, uuid, "missing")
    assert response.status_code == 404
    assert "no column 'missing'" in response.text
    response = content(api, uuid, "input", 2, 2)
    assert response.status_code == 400
    assert "Rows 2..3 requested" in response.text and "has 3 rows" in response.text
    assert content(api, uuid, "input", 0, 10001).status_code == 400
    assert (
        api.get(
            "dataset/content", uuid=uuid, column_name="input", row_offset=-1, number_of_rows=1
        ).status_code
        == 400
    )
    assert api.get("dataset", uuid="fail_dataset").status_code == 400
    assert api.get("dataset", uuid="00000000-0000-4000-8000-000000000000").status_code == 404


def test_check_classification_and_regression(server, member):
    api = member.api
    reference = make_mnist(50, side=3, seed=1)
    result = make_mnist(50, side=3, seed=2)
    result.labels = result.labels.copy()
    result.labels[[4, 17, 33]] = (result.labels[[4, 17, 33]] + 1) % 10
    ref_uuid = upload_mnist_ws(api, server.url, "check_reference", reference)
    res_uuid = upload_mnist_ws(api, server.url, "check_result", result)

    response = api.get("dataset/check", uuid=res_uuid, reference_uuid=ref_uuid)
    assert response.status_code == 400  # the result has two groups: which one?
    assert "result_column" in response.text
    report = api.get(
        "dataset/check", uuid=res_uuid, reference_uuid=ref_uuid, result_column="label"
    ).json()
    assert report == {
        "accuracy": pytest.approx(94.0),
        "rows": 50,
        "mode": "classification",
        "mse": pytest.approx(6 / 500),
        "mae": pytest.approx(6 / 500),
    }

    a = upload_csv_ws(api, server.url, "check_a", "y\n1\n2\n3\n4\n")
    b = upload_csv_ws(api, server.url, "check_b", "y\n0\n2\n3\n")
    report = api.get("dataset/check", uuid=b, reference_uuid=a, reference_offset=1).json()
    # [0, 2, 3] against reference rows 1..3 = [2, 3, 4]
    assert report == {
        "accuracy": None,
        "rows": 3,
        "mode": "regression",
        "mse": 2.0,
        "mae": pytest.approx(4 / 3),
    }
    response = api.get("dataset/check", uuid=a, reference_uuid=b)
    assert response.status_code == 400
    assert "the result has 4 rows but the reference has only 3" in response.text
    response = api.get("dataset/check", uuid=a, reference_uuid=ref_uuid, reference_column="label")
    assert response.status_code == 400  # widths 1 and 10
    missing = api.get("dataset/check", uuid=a, reference_uuid=b, result_column="nope")
    assert missing.status_code == 404


def test_cross_project_access_is_404(server, member, admin, http):
    owner = member
    colleague = new_member(admin, http, owner.project_id)
    project_admin = new_member(admin, http, owner.project_id, is_project_admin=True)
    outsider = new_member(admin, http)
    uuid = upload_csv_ws(owner.api, server.url, "private_csv", CSV_TEXT)
    pending = start_upload(owner.api, "csv", "pending_csv", 10)

    for api in (outsider.api, colleague.api):
        assert api.get("dataset", uuid=uuid).status_code == 404
        assert content(api, uuid, "input").status_code == 404
        assert api.get("dataset/check", uuid=uuid, reference_uuid=uuid).status_code == 404
        assert api.get("dataset/progress", uuid=pending["uuid"]).status_code == 404
        assert finalize(api, "csv", pending).status_code == 404
        assert api.delete("dataset", uuid=uuid).status_code == 404
        assert uuid not in [row[1] for row in api.get("dataset/all").json()["body"]]

    assert project_admin.api.get("dataset", uuid=uuid).status_code == 200
    assert (
        project_admin.api.get("dataset/progress", uuid=pending["uuid"]).json()["complete"] is False
    )
    assert uuid in [row[1] for row in admin.get("dataset/all").json()["body"]]
    assert owner.api.get("dataset", uuid=uuid).status_code == 200


@pytest.mark.mnist
def test_real_mnist_test_set_over_websocket(server, member):
    files = [
        MNIST_DIR / f"t10k-{kind}-idx{n}-ubyte.gz" for kind, n in (("images", 3), ("labels", 1))
    ]
    if not all(f.is_file() for f in files):
        pytest.skip(f"MNIST files not found in {MNIST_DIR}")
    if server.backend != "sqlite":
        pytest.skip("the upload path does not depend on the database; run once")
    images, labels = (gzip.decompress(f.read_bytes()) for f in files)
    api = member.api
    created = start_upload(api, "mnist", "request_test_dataset", len(images), len(labels))
    ws_upload(server.url, api.token, created["uuid_input_file"], images)
    ws_upload(server.url, api.token, created["uuid_label_file"], labels)
    assert api.get("dataset/progress", uuid=created["uuid"]).json()["complete"] is True
    assert finalize(api, "mnist", created).status_code == 200
    info = api.get("dataset", uuid=created["uuid"]).json()
    assert (info["number_of_rows"], info["number_of_columns"]) == (10000, 794)
    assert info["description"] == MNIST_DESCRIPTION
    label_bytes = np.frombuffer(labels, dtype=np.uint8, offset=8)
    rows = content(api, created["uuid"], "label", 100, 10).json()["data"]
    assert rows == one_hot(label_bytes[100:110])
    pixels = np.frombuffer(images, dtype=np.uint8, offset=16).reshape(10000, 784)
    assert content(api, created["uuid"], "picture", 9999).json()["data"] == [
        pixels[9999].astype(float).tolist()
    ]
    report = api.get(
        "dataset/check", uuid=created["uuid"], reference_uuid=created["uuid"], result_column="label"
    ).json()
    assert (report["accuracy"], report["rows"]) == (100.0, 10000)
    assert api.delete("dataset", uuid=created["uuid"]).status_code == 200

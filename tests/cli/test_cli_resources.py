"""``hanami cluster/dataset/task/checkpoint/host/metrics`` against the real server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import Cli
from sdk_server import (
    BAD_TEMPLATE,
    needs_checkpoints,
    needs_clusters,
    needs_datasets,
    needs_hosts,
    needs_tasks,
    needs_websocket,
    route_missing,
    websocket_missing,
    write_mnist,
)

MISSING = "00000000-0000-4000-8000-000000000000"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------- clusters


@needs_clusters
def test_cluster_create_show_list_delete(admin_cli: Cli, template_file: Path) -> None:
    name = unique("clicluster")
    created = admin_cli.json("cluster", "create", name, "-t", str(template_file))
    assert {"created_at", "uuid", "name", "owner_id", "project_id", "visibility"} <= set(created)
    assert created["name"] == name
    shown = admin_cli.json("cluster", "show", created["uuid"])
    assert shown["uuid"] == created["uuid"]
    assert "number_of_blocks" in shown
    table = admin_cli.json("cluster", "list")
    assert table["header"] == ["created_at", "uuid", "project_id", "owner_id", "visibility", "name"]
    assert [created["uuid"], name] in [[row[1], row[-1]] for row in table["body"]]
    assert created["uuid"] in admin_cli.ok("cluster", "list").stdout
    assert name in admin_cli.ok("cluster", "show", created["uuid"]).stdout
    assert admin_cli.json("cluster", "delete", created["uuid"]) == {
        "uuid": created["uuid"],
        "deleted": True,
    }
    message = admin_cli.fails("cluster", "show", created["uuid"])
    assert "not found" in message and "(HTTP 404 Not Found)" in message


def test_bad_template_names_file_line_and_column(admin_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad_template"
    path.write_text(BAD_TEMPLATE)
    message = admin_cli.fails("cluster", "create", "badcluster", "-t", str(path), code=1)
    assert message.startswith(f"{path}:7:5: invalid template: ")
    assert "expected ':'" in message


def test_missing_template_file(admin_cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    message = admin_cli.fails("cluster", "create", "somecluster", "-t", str(missing), code=2)
    assert message == f"cannot read template {missing}: No such file or directory"


@needs_clusters
def test_unknown_and_malformed_uuid(admin_cli: Cli) -> None:
    assert "(HTTP 404 Not Found)" in admin_cli.fails("cluster", "show", MISSING)
    assert "(HTTP 400 Bad Request)" in admin_cli.fails("cluster", "show", "fail_cluster")
    assert "(HTTP 404 Not Found)" in admin_cli.fails("cluster", "delete", MISSING)


@needs_clusters
def test_cluster_mode(admin_cli: Cli, template_file: Path) -> None:
    cluster = admin_cli.json("cluster", "create", unique("mode"), "-t", str(template_file))["uuid"]
    assert admin_cli.json("cluster", "mode", cluster, "DIRECT")["new_state"] == "DIRECT"
    assert "(HTTP 409 Conflict)" in admin_cli.fails("cluster", "mode", cluster, "DIRECT")
    assert admin_cli.json("cluster", "mode", cluster, "TASK")["new_state"] == "TASK"
    assert admin_cli.fails("cluster", "mode", cluster, "SIDEWAYS", code=2)


# ---------------------------------------------------------------------------------- datasets


@needs_websocket
def test_dataset_upload_csv_and_read(admin_cli: Cli, csv_file: Path, tmp_path: Path) -> None:
    name = unique("clicsv")
    dataset = admin_cli.json("dataset", "upload", "csv", name, "-i", str(csv_file))
    assert (dataset["name"], dataset["number_of_rows"]) == (name, 40)
    assert set(dataset["description"]) == {"x", "y"}
    uuid_ = dataset["uuid"]
    assert admin_cli.json("dataset", "show", uuid_)["uuid"] == uuid_
    listed = admin_cli.json("dataset", "list")
    assert [uuid_, name] in [[row[1], row[-1]] for row in listed["body"]]
    rows = admin_cli.json("dataset", "content", uuid_, "-c", "y", "-o", "3", "-n", "4")
    assert isinstance(rows, list) and len(rows) == 4 and len(rows[0]) == 1
    text = admin_cli.ok("dataset", "content", uuid_, "-c", "x", "-n", "2").stdout
    assert text.startswith("0: ")
    target = tmp_path / "x.npy"
    saved = admin_cli.json("dataset", "download", uuid_, "-c", "x", "-o", str(target))
    assert saved["shape"] == [40, 1]
    assert np.load(target).shape == (40, 1)
    check = admin_cli.json(
        "dataset", "check", uuid_, "-r", uuid_, "--result-column", "y", "--reference-column", "y"
    )
    assert check["accuracy"] == pytest.approx(100.0) or check["mse"] == pytest.approx(0.0)
    assert admin_cli.json("dataset", "delete", uuid_) == {"uuid": uuid_, "deleted": True}
    assert "(HTTP 404 Not Found)" in admin_cli.fails("dataset", "show", uuid_)


@needs_datasets
def test_dataset_upload_mnist_multipart(admin_cli: Cli, tmp_path: Path) -> None:
    images, labels = write_mnist(tmp_path, rows=20)
    dataset = admin_cli.json(
        "dataset",
        "upload",
        "mnist",
        unique("climnist"),
        "-i",
        str(images),
        "-l",
        str(labels),
        "--multipart",
    )
    assert dataset["number_of_rows"] == 20
    assert set(dataset["description"]) == {"picture", "label"}
    if not websocket_missing():  # hanamictl's spelling, websocket protocol
        name = unique("climnist")
        created = admin_cli.json(
            "dataset", "create", "mnist", name, "-i", str(images), "-l", str(labels)
        )
        assert (created["name"], created["number_of_rows"]) == (name, 20)


def test_upload_missing_file_is_a_usage_error(admin_cli: Cli, tmp_path: Path) -> None:
    message = admin_cli.fails(
        "dataset", "upload", "csv", "somename", "-i", str(tmp_path / "none.csv"), code=2
    )
    assert "does not exist" in message


@needs_websocket
def test_upload_invalid_csv_is_one_line(admin_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("x,y\n1,abc\n")
    message = admin_cli.fails("dataset", "upload", "csv", unique("broken"), "-i", str(path))
    assert "(HTTP 400 Bad Request)" in message


# ------------------------------------------------------------------------------------- tasks


@needs_tasks
@needs_datasets
def test_task_train_wait_request_list_cancel(
    admin_cli: Cli, template_file: Path, csv_file: Path
) -> None:
    cluster = admin_cli.json("cluster", "create", unique("taskcluster"), "-t", str(template_file))[
        "uuid"
    ]
    dataset = admin_cli.json(
        "dataset", "upload", "csv", unique("taskcsv"), "-i", str(csv_file), "--multipart"
    )["uuid"]
    task = admin_cli.json(
        "task", "train", "cli_train_task",
        "-c", cluster,
        "-i", f"{dataset}:x:picture_hex",
        "-o", f"{dataset}:y:label_hex",
        "--wait", "--timeout", "120",
    )  # fmt: skip
    assert task["state"] == "finished"
    assert task["current_cycle"] == task["total_number_of_cycles"] == 40
    request = admin_cli.json(
        "task", "create", "request", "cli_request_task",
        "-c", cluster,
        "-i", f"{dataset}:x:picture_hex",
        "-r", "label_hex:cli_output",
    )  # fmt: skip
    done = admin_cli.json("task", "wait", request["uuid"], "-c", cluster, "--timeout", "120")
    assert done["state"] == "finished"
    shown = admin_cli.json("task", "show", request["uuid"], "-c", cluster)
    assert shown["uuid"] == request["uuid"]
    tasks = admin_cli.json("task", "list", "-c", cluster)
    assert tasks["header"] == ["uuid", "state", "percentage", "queued", "start", "end"]
    assert [row[0] for row in tasks["body"]] == [task["uuid"], request["uuid"]]
    results = admin_cli.json("dataset", "list")
    matches = [row[1] for row in results["body"] if row[-1] == "cli_request_task"]
    assert request["uuid"] in matches
    rows = admin_cli.json("dataset", "content", request["uuid"], "-c", "cli_output", "-n", "10")
    assert len(rows) == 10
    assert admin_cli.json("task", "cancel", task["uuid"], "-c", cluster)["deleted"] is True
    assert "(HTTP 404 Not Found)" in admin_cli.fails("task", "show", task["uuid"], "-c", cluster)
    assert "(HTTP 404 Not Found)" in admin_cli.fails("task", "delete", MISSING, "-c", cluster)


def test_task_binding_syntax_is_checked(admin_cli: Cli) -> None:
    message = admin_cli.fails(
        "task", "train", "x_task", "-c", MISSING, "-i", "only:two", "-o", "a:b:c", code=2
    )
    assert "DATASET_UUID:COLUMN:HEXAGON" in message


# ------------------------------------------------------------------------------- checkpoints


@needs_checkpoints
def test_checkpoints(admin_cli: Cli, template_file: Path, tmp_path: Path) -> None:
    cluster = admin_cli.json("cluster", "create", unique("ckcluster"), "-t", str(template_file))[
        "uuid"
    ]
    first = admin_cli.json("cluster", "save", cluster, "-n", "cli_test_checkpoint", "--wait")
    second = admin_cli.json("cluster", "save", cluster, "-n", "cli_test_checkpoint")
    assert first["uuid"] != second["uuid"]
    listed = admin_cli.json("checkpoint", "list")
    assert {first["uuid"], second["uuid"]} <= {row[1] for row in listed["body"]}
    assert admin_cli.json("checkpoint", "show", first["uuid"])["name"] == "cli_test_checkpoint"
    restored = admin_cli.json("cluster", "restore", cluster, "-c", second["uuid"], "--wait")
    assert restored["uuid"]
    if not route_missing("GET", "checkpoint/download"):
        target = tmp_path / "saved.ckpt"
        saved = admin_cli.json("checkpoint", "download", first["uuid"], "-o", str(target))
        assert saved["size"] == target.stat().st_size
        uploaded = admin_cli.json("checkpoint", "upload", "cli_uploaded", "-i", str(target))
        assert uploaded["name"] == "cli_uploaded"
    assert admin_cli.json("checkpoint", "delete", first["uuid"])["deleted"] is True
    assert "(HTTP 404 Not Found)" in admin_cli.fails("checkpoint", "delete", first["uuid"])


# ---------------------------------------------------------------------------- hosts, metrics


@needs_hosts
def test_hosts_and_metrics(admin_cli: Cli) -> None:
    hosts = admin_cli.json("host", "list")
    assert hosts["header"] == ["uuid", "type"]
    assert hosts["body"][0][1] == "cpu"
    power = admin_cli.json("metrics", "power")
    assert len(power["seconds"]) == 60 and "source" in power
    assert "WINDOW" in admin_cli.ok("metrics", "temperature").stdout
    assert "packages" in admin_cli.json("metrics", "system")["info"]
    assert "thread_map" in admin_cli.json("metrics", "threading")


def test_metrics_series_show_na_not_padding(admin_cli: Cli) -> None:
    for what in ("power", "speed", "temperature"):
        series = admin_cli.json("metrics", what)
        assert {"source", "reason", "filled"} <= set(series)
        text = admin_cli.ok("metrics", what).stdout
        rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()}
        assert rows["days"] == ["n/a"] * 4  # the server has not run for a day
        words = " ".join(text.split())
        if series["source"] == "unavailable":
            assert rows["seconds"] == ["n/a"] * 4
            assert f"n/a: {' '.join(series['reason'].split())}" in words
        else:
            assert rows["seconds"] != ["n/a"] * 4
            assert f"source: {series['source']}" in words


def test_prometheus_metrics(admin_cli: Cli) -> None:
    samples = admin_cli.json("metrics", "prometheus", "--match", "hanami_http_requests_total")
    assert samples and all(s["name"] == "hanami_http_requests_total" for s in samples)
    assert {"name", "labels", "value"} == set(samples[0])
    text = admin_cli.ok("metrics", "prometheus").stdout
    assert "# TYPE" in text
    json.dumps(samples)

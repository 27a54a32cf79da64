"""Train and request tasks over real HTTP: progress, results, queueing, cancel, failure."""

from __future__ import annotations

import numpy as np
import pytest
from cluster_helpers import (
    Target,
    accuracy,
    binding,
    create_cluster,
    get_task,
    request,
    server_database_url,
    train,
    upload_mnist,
    wait_task,
)
from server_helpers import unique

from hanami.datasets import open_dataset

ROWS = 300
UNKNOWN = "0b2f8a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
TASK_FIELDS = {
    "uuid", "name", "current_cycle", "total_number_of_cycles", "state", "queue_timestamp",
    "start_timestamp", "end_timestamp", "cluster_uuid", "type", "error", "percentage",
    "samples_per_second", "eta_seconds", "time_length", "epoch", "epochs", "shuffle",
    "training_error", "training_accuracy",
}  # fmt: skip


@pytest.fixture(scope="module")
def target(server, request) -> Target:
    url = request.getfixturevalue("postgres_url") if server.backend == "postgresql" else None
    return Target(server.data_dir, server_database_url(server.data_dir, url))


@pytest.fixture(scope="module")
def digits(admin, target) -> str:
    return upload_mnist(admin, target, "task_digits", ROWS)


def _result(target: Target, task_uuid: str) -> np.ndarray:
    return np.asarray(open_dataset(target.data_dir / "datasets" / task_uuid).column("output"))


def test_train_then_request(admin, digits, target):
    cluster = create_cluster(admin, unique("cluster"))
    created = train(admin, cluster, digits, "train_digits", epochs=3, shuffle=True, seed=5)
    assert set(created) == TASK_FIELDS
    assert created["state"] == "queued" and created["current_cycle"] == 0
    assert created["total_number_of_cycles"] == 3 * ROWS
    assert created["start_timestamp"] == created["end_timestamp"] == "-"
    assert (created["epochs"], created["shuffle"], created["type"]) == (3, True, "train")

    done = wait_task(admin, cluster, created["uuid"])
    assert done["state"] == "finished", done
    assert created["training_accuracy"] is None  # nothing learned yet when queued
    assert 0.0 <= done["training_accuracy"] <= 1.0 and done["training_error"] >= 0.0
    assert done["current_cycle"] == done["total_number_of_cycles"] == 3 * ROWS
    assert done["percentage"] == 1.0 and done["epoch"] == 3 and done["eta_seconds"] == 0.0
    assert done["samples_per_second"] > 0 and done["error"] is None
    assert done["start_timestamp"] != "-" and done["end_timestamp"] != "-"
    shown = admin.get("cluster", uuid=cluster).json()
    assert shown["inputs"] == {"picture_hex": 64} and shown["outputs"] == {"label_hex": 10}
    assert shown["number_of_sections"] > 0

    created = request(admin, cluster, digits, "request_digits")
    assert created["total_number_of_cycles"] == ROWS and created["type"] == "request"
    # the result dataset is listed at once, with the task's uuid and name
    listing = admin.get("dataset/all").json()["body"]
    assert [created["uuid"], "request_digits"] in [[r[1], r[-1]] for r in listing]
    done = wait_task(admin, cluster, created["uuid"])
    assert done["state"] == "finished", done
    info = admin.get("dataset", uuid=created["uuid"]).json()
    assert info["number_of_rows"] == ROWS
    assert info["description"] == {"output": {"column_start": 0, "column_end": 10}}
    content = admin.get(
        "dataset/content", uuid=created["uuid"], column_name="output", row_offset=100,
        number_of_rows=10,
    )  # fmt: skip
    assert content.status_code == 200, content.text
    assert len(content.json()["data"]) == 10 and len(content.json()["data"][0]) == 10
    result = _result(target, created["uuid"])
    assert accuracy(result, ROWS) > 0.5

    tasks = admin.get("task/all", cluster_uuid=cluster).json()
    assert tasks["header"] == ["uuid", "state", "percentage", "queued", "start", "end"]
    assert [row[:3] for row in tasks["body"]] == [
        [tasks["body"][0][0], "finished", "1.000000"],
        [created["uuid"], "finished", "1.000000"],
    ]
    assert all(isinstance(v, str) for row in tasks["body"] for v in row)
    # deleting finished tasks keeps the results
    for row in tasks["body"]:
        assert admin.delete("task", uuid=row[0], cluster_uuid=cluster).json() == {}
    assert admin.get("task/all", cluster_uuid=cluster).json()["body"] == []
    assert admin.get("dataset", uuid=created["uuid"]).status_code == 200
    assert admin.get("task", uuid=created["uuid"], cluster_uuid=cluster).status_code == 404


def test_progress_queue_and_cancel(admin, digits):
    cluster = create_cluster(admin, unique("cluster"))
    long = train(admin, cluster, digits, "long_train", epochs=100_000)
    active = wait_task(admin, cluster, long["uuid"], {"active"}, min_cycle=1)
    assert active["samples_per_second"] > 0 and active["eta_seconds"] > 0
    assert 0 < active["percentage"] < 1 and active["epoch"] >= 1

    # a second task waits in the queue; deleting it removes it and its result dataset
    queued = request(admin, cluster, digits, "waiting_request")
    assert get_task(admin, cluster, queued["uuid"])["state"] == "queued"
    assert admin.delete("task", uuid=queued["uuid"], cluster_uuid=cluster).status_code == 200
    assert admin.get("task", uuid=queued["uuid"], cluster_uuid=cluster).status_code == 404
    assert admin.get("dataset", uuid=queued["uuid"]).status_code == 404

    # DIRECT mode is refused while a task runs
    busy = admin.put("cluster/set_mode", {"uuid": cluster, "new_state": "DIRECT"})
    assert busy.status_code == 409

    # cancelling the running task stops it between chunks
    assert admin.delete("task", uuid=long["uuid"], cluster_uuid=cluster).status_code == 200
    aborted = wait_task(admin, cluster, long["uuid"], timeout=10)
    assert aborted["state"] == "aborted", aborted
    assert aborted["end_timestamp"] != "-"
    assert 0 < aborted["current_cycle"] < aborted["total_number_of_cycles"]
    # the lane is free again
    short = train(admin, cluster, digits, "short_train")
    assert wait_task(admin, cluster, short["uuid"])["state"] == "finished"
    # a second delete removes the aborted task
    assert admin.delete("task", uuid=long["uuid"], cluster_uuid=cluster).status_code == 200
    assert admin.get("task", uuid=long["uuid"], cluster_uuid=cluster).status_code == 404


def test_clusters_run_in_parallel_and_delete_stops_tasks(admin, digits):
    first = create_cluster(admin, unique("cluster"))
    second = create_cluster(admin, unique("cluster"))
    a = train(admin, first, digits, "parallel_a", epochs=100_000)
    b = train(admin, second, digits, "parallel_b", epochs=100_000)
    wait_task(admin, first, a["uuid"], {"active"}, min_cycle=1)
    wait_task(admin, second, b["uuid"], {"active"}, min_cycle=1)
    assert get_task(admin, first, a["uuid"])["state"] == "active"
    # deleting a cluster cancels its running task and frees it
    for cluster in (first, second):
        assert admin.delete("cluster", uuid=cluster).status_code == 200
        assert admin.get("task/all", cluster_uuid=cluster).status_code == 404


def test_failing_task_is_failed_with_error_text(admin, digits):
    cluster = create_cluster(admin, unique("cluster"))
    created = request(admin, cluster, digits, "untrained_request")
    done = wait_task(admin, cluster, created["uuid"])
    assert done["state"] == "failed"
    assert "train it first" in done["error"]
    assert done["end_timestamp"] != "-"
    assert admin.get("dataset", uuid=created["uuid"]).status_code == 404
    # the failure does not block the queue
    trained = train(admin, cluster, digits, "after_failure")
    assert wait_task(admin, cluster, trained["uuid"])["state"] == "finished"


def test_time_length_windows(admin, digits, target):
    cluster = create_cluster(admin, unique("cluster"))
    created = train(admin, cluster, digits, "windowed", time_length=3)
    assert created["total_number_of_cycles"] == ROWS - 2
    assert wait_task(admin, cluster, created["uuid"])["state"] == "finished"
    assert admin.get("cluster", uuid=cluster).json()["inputs"] == {"picture_hex": 64 * 3}
    created = request(admin, cluster, digits, "windowed_request", time_length=3)
    assert created["total_number_of_cycles"] == ROWS - 2
    assert wait_task(admin, cluster, created["uuid"])["state"] == "finished"
    assert _result(target, created["uuid"]).shape == (ROWS - 2, 10)


def test_task_validation(admin, digits, make_member):
    cluster = create_cluster(admin, unique("cluster"))

    def create(kind: str = "train", **changes):
        body = {
            "name": "bad_task",
            "cluster_uuid": cluster,
            "inputs": [binding("picture_hex", digits, "picture")],
            "outputs": [binding("label_hex", digits, "label")],
        }
        if kind == "request":
            del body["outputs"]
            body["results"] = [{"hexagon_name": "label_hex", "dataset_column": "out"}]
        body.update(changes)
        return admin.post(f"task/{kind}", body)

    cases = [
        (create(cluster_uuid=UNKNOWN), 404, f"Cluster with uuid '{UNKNOWN}' not found"),
        (create(inputs=[binding("picture_hex", UNKNOWN, "picture")]), 404,
         f"Dataset with uuid '{UNKNOWN}' not found"),
        (create(inputs=[binding("picture_hex", digits, "nope")]), 404, "has no column 'nope'"),
        (create(inputs=[binding("nope", digits, "picture")]), 404,
         "Cluster has no input hexagon with name 'nope'"),
        (create(outputs=[]), 400, "outputs"),
        (create(inputs=[{"hexagon_name": "picture_hex", "dataset_uuid": digits}]), 400,
         "'inputs[0].dataset_column' is required"),
        (create(inputs=[binding("picture_hex", "x" * 36, "picture")]), 400, "invalid format"),
        (create(time_length=ROWS + 1), 400, "longer than the data"),
        (create(time_length=0), 400, "time_length"),
        (create(epochs=0), 400, "epochs"),
        (create(shuffle="yes"), 400, "shuffle"),
        (create(inputs=[binding("picture_hex", digits, "picture")] * 2), 400, "bound twice"),
        (create("request", results=[{"hexagon_name": "x", "dataset_column": "out"}]), 404,
         "Cluster has no output hexagon with name 'x'"),
        (create("request", results=[{"hexagon_name": "label_hex", "dataset_column": "o"}] * 2),
         400, "given twice"),
        (create("request", outputs=[]), 400, "not in the list of allowed keys"),
    ]  # fmt: skip
    for response, status, text in cases:
        assert response.status_code == status, response.text
        assert text in response.text, response.text
    assert admin.get("task/all", cluster_uuid=cluster).json()["body"] == []

    # another user's dataset is invisible, the cluster too
    stranger = make_member()
    response = stranger.api.post(
        "task/train",
        {
            "name": "bad_task",
            "cluster_uuid": cluster,
            "inputs": [binding("picture_hex", digits, "picture")],
            "outputs": [binding("label_hex", digits, "label")],
        },
    )
    assert response.status_code == 404
    own = create_cluster(stranger.api, unique("cluster"))
    response = stranger.api.post(
        "task/train",
        {
            "name": "bad_task",
            "cluster_uuid": own,
            "inputs": [binding("picture_hex", digits, "picture")],
            "outputs": [binding("label_hex", digits, "label")],
        },
    )
    assert response.status_code == 404
    assert f"Dataset with uuid '{digits}' not found" in response.text


def test_unknown_task_is_404(admin, digits):
    cluster = create_cluster(admin, unique("cluster"))
    other = create_cluster(admin, unique("cluster"))
    created = train(admin, cluster, digits, "lookup")
    assert admin.get("task", uuid=UNKNOWN, cluster_uuid=cluster).status_code == 404
    assert admin.get("task", uuid=created["uuid"], cluster_uuid=other).status_code == 404
    assert admin.delete("task", uuid=created["uuid"], cluster_uuid=other).status_code == 404
    assert admin.get("task", uuid=created["uuid"], cluster_uuid=UNKNOWN).status_code == 404
    wait_task(admin, cluster, created["uuid"])

"""Clusters, tasks, checkpoints, hosts and measurements against the real server."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from sdk_server import (
    BAD_TEMPLATE,
    TEMPLATE,
    csv_text,
    needs_checkpoint_files,
    needs_checkpoints,
    needs_clusters,
    needs_datasets,
    needs_hosts,
    needs_tasks,
    unique,
    write_mnist,
)

from hanami.sdk import (
    BadRequest,
    Cluster,
    ClusterRow,
    Conflict,
    HanamiClient,
    NotFound,
    Task,
    TaskFailed,
    TaskRow,
    WaitTimeout,
)

MISSING = "00000000-0000-4000-8000-000000000000"


# ---------------------------------------------------------------------------------- clusters


@needs_clusters
def test_cluster_crud(admin: HanamiClient) -> None:
    name = unique("cluster")
    created = admin.clusters.create(name, TEMPLATE)
    assert isinstance(created, Cluster)
    assert (created.name, created.owner_id, created.visibility) == (name, "asdf", "private")
    shown = admin.clusters.get(created.uuid)
    assert shown.uuid == created.uuid
    assert shown.number_of_blocks is not None
    assert shown.mode == "TASK"
    assert shown.inputs == {"picture_hex": 0}
    rows = admin.clusters.list().rows()
    assert all(isinstance(row, ClusterRow) for row in rows)
    assert created.uuid in [row.uuid for row in rows]
    with pytest.raises(Conflict) as info:
        admin.clusters.create(name, TEMPLATE)
    assert str(info.value) == f"Cluster with name '{name}' already exist."
    admin.clusters.delete(created.uuid)
    with pytest.raises(NotFound):
        admin.clusters.get(created.uuid)
    with pytest.raises(NotFound):
        admin.clusters.delete(created.uuid)


@needs_clusters
def test_cluster_from_parsed_template(admin: HanamiClient) -> None:
    from hanami.core import parse_template

    created = admin.clusters.create(unique("parsed"), parse_template(TEMPLATE))
    assert admin.clusters.get(created.uuid).outputs == {"label_hex": 0}
    admin.clusters.delete(created.uuid)


@needs_clusters
def test_bad_template_and_bad_uuid_raise_bad_request(admin: HanamiClient) -> None:
    with pytest.raises(BadRequest) as info:
        admin.clusters.create(unique("bad"), BAD_TEMPLATE)
    assert "line 7, column 5" in str(info.value)
    with pytest.raises(BadRequest):
        admin.clusters.get("fail_cluster")
    with pytest.raises(NotFound):
        admin.clusters.get(MISSING)


@needs_clusters
def test_cluster_mode_switch(admin: HanamiClient, cluster: str) -> None:
    result = admin.clusters.set_mode(cluster, "DIRECT")
    assert (result.uuid, result.new_state) == (cluster, "DIRECT")
    assert admin.clusters.get(cluster).mode == "DIRECT"
    with pytest.raises(Conflict):
        admin.clusters.set_mode(cluster, "DIRECT")
    assert admin.clusters.set_mode(cluster, "TASK").new_state == "TASK"


@needs_clusters
def test_clusters_are_private_to_their_project(make_member) -> None:  # type: ignore[no-untyped-def]
    owner, stranger = make_member(), make_member()
    created = owner.client.clusters.create(unique("mine"), TEMPLATE)
    assert created.project_id == owner.project_id
    with pytest.raises(NotFound):
        stranger.client.clusters.get(created.uuid)
    with pytest.raises(NotFound):
        stranger.client.clusters.delete(created.uuid)


# ------------------------------------------------------------------------------------- tasks


@pytest.fixture
def csv_dataset(admin: HanamiClient) -> str:
    return admin.datasets.upload_csv(
        unique("csv"), csv_text(80).encode(), transport="multipart"
    ).uuid


@needs_tasks
@needs_datasets
def test_train_wait_request_and_result(admin: HanamiClient, cluster: str, csv_dataset: str) -> None:
    task = admin.tasks.train(
        cluster,
        "train task",
        [(csv_dataset, "x", "picture_hex")],
        [(csv_dataset, "y", "label_hex")],
    )
    assert isinstance(task, Task)
    assert task.cluster_uuid == cluster
    assert task.state in ("queued", "active", "finished")
    seen: list[Task] = []
    done = admin.wait(task, progress=seen.append, timeout=120, interval=0.1)
    assert done.state == "finished"
    assert done.current_cycle == done.total_number_of_cycles == 80
    assert seen[-1] == done
    assert done.fraction == 1.0

    request = admin.tasks.request(
        cluster,
        "request task",
        [{"hexagon_name": "picture_hex", "dataset_uuid": csv_dataset, "dataset_column": "x"}],
        [("label_hex", "prediction")],
    )
    admin.tasks.wait(request.uuid, cluster_uuid=cluster, timeout=120)
    result = admin.tasks.result(request)
    assert result.shape == (80, 1)
    assert result.dtype == np.float32
    assert admin.datasets.get(request.uuid).name == "request task"

    rows = admin.tasks.list(cluster).rows()
    assert all(isinstance(row, TaskRow) for row in rows)
    assert [row.uuid for row in rows] == [task.uuid, request.uuid]
    assert rows[0].percentage == "1.000000"

    admin.tasks.delete(task.uuid, cluster)
    with pytest.raises(NotFound):
        admin.tasks.get(task.uuid, cluster)
    admin.tasks.delete(request.uuid)  # the client remembers the cluster of its tasks
    assert admin.datasets.download(request.uuid, "prediction").shape == (80, 1)


@needs_tasks
@needs_datasets
def test_train_with_epochs(admin: HanamiClient, cluster: str, csv_dataset: str) -> None:
    task = admin.tasks.train(
        cluster,
        "epochs",
        [(csv_dataset, "x", "picture_hex")],
        [(csv_dataset, "y", "label_hex")],
        epochs=2,
        shuffle=True,
        seed=3,
    )
    done = admin.wait(task, timeout=120, interval=0.1)
    assert done.total_number_of_cycles == 160
    assert done.epochs == 2


@needs_tasks
@needs_datasets
def test_task_errors(admin: HanamiClient, cluster: str, csv_dataset: str) -> None:
    with pytest.raises(NotFound):
        admin.tasks.train(
            MISSING,
            "x task",
            [(csv_dataset, "x", "picture_hex")],
            [(csv_dataset, "y", "label_hex")],
        )
    with pytest.raises(NotFound):
        admin.tasks.train(
            cluster,
            "x task",
            [(csv_dataset, "nope", "picture_hex")],
            [(csv_dataset, "y", "label_hex")],
        )
    with pytest.raises(NotFound):
        admin.tasks.get(MISSING, cluster)
    with pytest.raises(ValueError, match="cluster_uuid"):
        admin.tasks.get(MISSING)
    with pytest.raises(TypeError):
        admin.tasks.train(cluster, "x task", [("only", "two")], [])


@needs_tasks
@needs_datasets
def test_wait_timeout_and_cancel(admin: HanamiClient, cluster: str, tmp_path: Path) -> None:
    image_file, label_file = write_mnist(tmp_path, rows=2000)
    dataset = admin.datasets.upload_mnist(
        unique("long"), image_file, label_file, transport="multipart"
    ).uuid
    task = admin.tasks.train(
        cluster,
        "long task",
        [(dataset, "picture", "picture_hex")],
        [(dataset, "label", "label_hex")],
        epochs=50,
    )
    with pytest.raises(WaitTimeout) as info:
        admin.wait(task, timeout=0.3, interval=0.1)
    assert isinstance(info.value, TimeoutError)
    assert info.value.task.uuid == task.uuid
    admin.tasks.cancel(task.uuid, cluster)
    with pytest.raises(TaskFailed) as failed:
        admin.wait(task, timeout=60, interval=0.1)
    assert failed.value.task.state == "aborted"


# ------------------------------------------------------------------------------- checkpoints


@needs_checkpoints
def test_save_restore_and_checkpoint_crud(admin: HanamiClient, cluster: str) -> None:
    saved = admin.clusters.save(cluster, "test checkpoint")
    assert saved.name == "test checkpoint"
    admin.wait(saved.uuid, timeout=60)
    checkpoint = admin.checkpoints.get(saved.uuid)
    assert (checkpoint.uuid, checkpoint.name) == (saved.uuid, "test checkpoint")
    assert saved.uuid in admin.checkpoints.list().column("uuid")
    restored = admin.clusters.restore(cluster, saved.uuid)
    admin.wait(restored.uuid, cluster_uuid=cluster, timeout=60)
    admin.checkpoints.delete(saved.uuid)
    with pytest.raises(NotFound):
        admin.checkpoints.get(saved.uuid)
    with pytest.raises(NotFound):
        admin.checkpoints.delete(saved.uuid)
    with pytest.raises(NotFound):
        admin.clusters.restore(cluster, saved.uuid)


@needs_checkpoint_files
def test_checkpoint_download_and_upload(admin: HanamiClient, cluster: str, tmp_path: Path) -> None:
    saved = admin.clusters.save(cluster, "portable")
    admin.wait(saved.uuid, timeout=60)
    target = tmp_path / "cluster.ckpt"
    seen: list[int] = []
    size = admin.checkpoints.download(saved.uuid, target, progress=lambda n, t: seen.append(n))
    assert size == target.stat().st_size > 0
    assert seen[-1] == size
    buffer = io.BytesIO()
    assert admin.checkpoints.download(saved.uuid, buffer) == size
    uploaded = admin.checkpoints.upload("uploaded copy", target)
    assert uploaded.name == "uploaded copy"
    assert uploaded.uuid != saved.uuid
    restored = admin.clusters.restore(cluster, uploaded.uuid)
    admin.wait(restored.uuid, cluster_uuid=cluster, timeout=60)
    with pytest.raises(BadRequest) as info:
        admin.checkpoints.upload("garbage", b"not a checkpoint at all")
    assert "not a valid checkpoint" in str(info.value)
    with pytest.raises(NotFound):
        admin.checkpoints.download(MISSING, tmp_path / "missing.ckpt")
    assert not (tmp_path / "missing.ckpt").exists()


# ----------------------------------------------------------------------------- hosts, system


@needs_hosts
def test_hosts_and_measurements(admin: HanamiClient, member) -> None:  # type: ignore[no-untyped-def]
    hosts = admin.hosts.list()
    assert hosts.header == ["uuid", "type"]
    assert hosts.rows()[0].type == "cpu"
    for series in (admin.system.power(), admin.system.speed(), admin.system.temperature()):
        assert (len(series.seconds), len(series.minutes), len(series.hours)) == (60, 60, 24)
        assert len(series.days) == 365
        assert series.source
    assert "packages" in admin.system.info().info
    assert isinstance(member.client.system.threading().thread_map, dict)


@needs_hosts
@needs_clusters
def test_switch_host(admin: HanamiClient, cluster: str) -> None:
    host = admin.hosts.list().rows()[0].uuid
    moved = admin.clusters.switch_host(cluster, host, hexagon_id=1)
    assert moved.uuid == cluster
    with pytest.raises(NotFound):
        admin.clusters.switch_host(cluster, MISSING)

"""Checkpoints over real HTTP: save/restore (inline when idle), show, list, delete, move."""

from __future__ import annotations

import numpy as np
import pytest
from cluster_helpers import (
    Target,
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

ROWS = 200
UNKNOWN = "0b2f8a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
LIST_HEADER = ["created_at", "uuid", "project_id", "owner_id", "visibility", "name"]


@pytest.fixture(scope="module")
def target(server, request) -> Target:
    url = request.getfixturevalue("postgres_url") if server.backend == "postgresql" else None
    return Target(server.data_dir, server_database_url(server.data_dir, url))


@pytest.fixture(scope="module")
def digits(admin, target) -> str:
    return upload_mnist(admin, target, "checkpoint_digits", ROWS, seed=3)


def _outputs(admin, target: Target, cluster: str, digits: str) -> np.ndarray:
    task = request(admin, cluster, digits, unique("req"))
    assert wait_task(admin, cluster, task["uuid"])["state"] == "finished"
    return np.asarray(open_dataset(target.data_dir / "datasets" / task["uuid"]).column("output"))


def _trained(admin, digits: str) -> str:
    cluster = create_cluster(admin, unique("cluster"))
    assert wait_task(admin, cluster, train(admin, cluster, digits)["uuid"])["state"] == "finished"
    return cluster


def test_save_delete_cluster_restore_delete_checkpoint(admin, digits, target):
    """The SDK workflow: every step right after the previous answer."""
    name = unique("cluster")
    cluster = create_cluster(admin, name)
    assert wait_task(admin, cluster, train(admin, cluster, digits)["uuid"])["state"] == "finished"
    before = _outputs(admin, target, cluster, digits)

    saved = admin.post("cluster/save", {"name": "test_checkpoint", "cluster_uuid": cluster})
    assert saved.status_code == 200, saved.text
    checkpoint = saved.json()["uuid"]
    assert saved.json()["name"] == "test_checkpoint"
    assert saved.json()["state"] == "finished"  # ran inside the request: the cluster was idle
    assert get_task(admin, cluster, checkpoint)["type"] == "checkpoint_save"
    shown = admin.get("checkpoint", uuid=checkpoint).json()
    assert shown["uuid"] == checkpoint and shown["name"] == "test_checkpoint"
    assert shown["cluster_uuid"] == cluster and shown["size"] > 0
    assert "location" not in shown
    listing = admin.get("checkpoint/all").json()
    assert listing["header"] == LIST_HEADER
    assert [shown["created_at"], checkpoint, "admin", "asdf", "private", "test_checkpoint"] in (
        listing["body"]
    )
    # the same name twice is fine
    again = admin.post("cluster/save", {"name": "test_checkpoint", "cluster_uuid": cluster})
    assert again.status_code == 200 and again.json()["uuid"] != checkpoint

    assert admin.delete("cluster", uuid=cluster).status_code == 200
    fresh = create_cluster(admin, name)  # same name: no 409
    restored = admin.post("cluster/load", {"cluster_uuid": fresh, "checkpoint_uuid": checkpoint})
    assert restored.status_code == 200, restored.text
    assert restored.json()["state"] == "finished"
    assert admin.delete("checkpoint", uuid=checkpoint).json() == {}
    assert admin.delete("checkpoint", uuid=checkpoint).status_code == 404
    assert admin.get("checkpoint", uuid=checkpoint).status_code == 404

    task = get_task(admin, fresh, restored.json()["uuid"])
    assert task["type"] == "checkpoint_restore" and task["total_number_of_cycles"] == 1
    assert admin.get("cluster", uuid=fresh).json()["outputs"] == {"label_hex": 10}
    np.testing.assert_allclose(_outputs(admin, target, fresh, digits), before, rtol=1e-5)


def test_save_and_restore_wait_for_a_busy_cluster(admin, digits, target):
    cluster = _trained(admin, digits)
    saved = admin.post("cluster/save", {"name": "idle_save", "cluster_uuid": cluster}).json()
    long = train(admin, cluster, digits, "long_train", epochs=100_000)
    wait_task(admin, cluster, long["uuid"], {"active"}, min_cycle=1)

    queued = admin.post("cluster/save", {"name": "busy_save", "cluster_uuid": cluster}).json()
    assert queued["state"] == "queued"
    assert admin.get("checkpoint", uuid=queued["uuid"]).status_code == 404
    restore = admin.post(
        "cluster/load", {"cluster_uuid": cluster, "checkpoint_uuid": saved["uuid"]}
    ).json()
    assert restore["state"] == "queued"
    # deleting the checkpoint does not break the restore that waits for it
    assert admin.delete("checkpoint", uuid=saved["uuid"]).status_code == 200

    admin.delete("task", uuid=long["uuid"], cluster_uuid=cluster)
    assert wait_task(admin, cluster, queued["uuid"])["state"] == "finished"
    assert admin.get("checkpoint", uuid=queued["uuid"]).json()["name"] == "busy_save"
    assert wait_task(admin, cluster, restore["uuid"])["state"] == "finished"


def test_download_upload_restore_elsewhere(admin, digits, target, make_member):
    cluster = _trained(admin, digits)
    before = _outputs(admin, target, cluster, digits)
    checkpoint = admin.post("cluster/save", {"name": "portable", "cluster_uuid": cluster}).json()

    download = admin.get("checkpoint/download", uuid=checkpoint["uuid"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert "portable.hnmckpt" in download.headers["content-disposition"]
    blob = download.content
    assert len(blob) == admin.get("checkpoint", uuid=checkpoint["uuid"]).json()["size"]

    member = make_member()
    assert member.api.get("checkpoint/download", uuid=checkpoint["uuid"]).status_code == 404
    uploaded = member.api.request("POST", "checkpoint/upload", raw=blob,
                                  params={"name": "moved checkpoint"})  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    moved = uploaded.json()
    assert moved["name"] == "moved checkpoint" and moved["cluster_uuid"] is None
    assert moved["owner_id"] == member.id and moved["project_id"] == member.project_id
    assert moved["size"] == len(blob)
    own = create_cluster(member.api, unique("cluster"))
    response = member.api.post("cluster/load", {"cluster_uuid": own,
                                                "checkpoint_uuid": moved["uuid"]})  # fmt: skip
    assert response.status_code == 200 and response.json()["state"] == "finished"
    # the member needs the dataset too: the admin's is out of scope, so compare via the admin
    assert admin.get("cluster", uuid=own).json()["outputs"] == {"label_hex": 10}
    np.testing.assert_allclose(_outputs(admin, target, own, digits), before, rtol=1e-5)
    # another member cannot use it
    stranger = make_member()
    response = stranger.api.post(
        "cluster/load",
        {
            "cluster_uuid": create_cluster(stranger.api, unique("c")),
            "checkpoint_uuid": moved["uuid"],
        },
    )
    assert response.status_code == 404
    assert response.text == f"Checkpoint with uuid '{moved['uuid']}' not found"


def test_upload_rejects_bad_files(admin):
    garbage = admin.request("POST", "checkpoint/upload", raw=b"x" * 100, params={"name": "junk"})
    assert garbage.status_code == 400
    assert garbage.text.startswith("Uploaded file is not a valid checkpoint:")
    assert "/" not in garbage.text.split(":", 1)[1]  # no server paths
    empty = admin.request("POST", "checkpoint/upload", raw=b"", params={"name": "empty"})
    assert empty.status_code == 400
    nameless = admin.request("POST", "checkpoint/upload", raw=b"x")
    assert nameless.status_code == 400 and "'name' is required" in nameless.text
    assert admin.get("checkpoint/download", uuid=UNKNOWN).status_code == 404


def test_restore_errors(admin, digits):
    cluster = create_cluster(admin, unique("cluster"))
    body = {"cluster_uuid": cluster, "checkpoint_uuid": UNKNOWN}
    response = admin.post("cluster/load", body)
    assert response.status_code == 404
    assert response.text == f"Checkpoint with uuid '{UNKNOWN}' not found"
    response = admin.post("cluster/save", {"name": "nope", "cluster_uuid": UNKNOWN})
    assert response.status_code == 404
    assert admin.post("cluster/save", {"name": "x", "cluster_uuid": cluster}).status_code == 400

"""Two API replicas on one PostgreSQL database with the Ray executor (head + two worker nodes).

The original SDK test's workflow alternates between the replicas: upload through A, train
through B, save, delete, restore, request and check, and a direct-I/O session through the
replica that did not create the cluster. With Ray every replica reaches every cluster, so
nothing is refused with "held by replica ...": each task still runs exactly once, on the
replica that claimed it (which becomes the cluster's holder), and the mode every replica
shows is the one in the cluster's row. Clusters land on both worker nodes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from ray_cluster import WORKERS, RayDriver

from hanami.core.templates import OPENHANAMI_MNIST
from hanami.sdk import HanamiClient
from hanami.server.db import Database
from hanami.server.db.models import Cluster, Task

pytest.importorskip("ray")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DIRECT_STEPS = 20
WAITS_S = 1.5


def _client(server) -> HanamiClient:
    return HanamiClient(server.url, user=server.admin_id, passphrase=server.admin_passphrase)


def _row(database_url: str, model: type, key: str):
    database = Database(database_url)
    try:
        with database.session() as session:
            return session.get(model, key)
    finally:
        database.dispose()


def test_the_workflow_through_both_replicas_on_ray(
    ray_replicas, ray_driver: RayDriver, mnist, e2e_workflow
) -> None:
    url = ray_replicas.database_url
    with _client(ray_replicas.a) as a, _client(ray_replicas.b) as b:
        train = a.datasets.upload_mnist("rr_train", mnist.path("train_images"),
                                        mnist.path("train_labels"))  # fmt: skip
        request_set = a.datasets.upload_mnist("rr_request", mnist.path("test_images"),
                                              mnist.path("test_labels"))  # fmt: skip
        cluster = a.clusters.create("rr_cluster", OPENHANAMI_MNIST)
        assert _row(url, Cluster, cluster.uuid).holder == "a"

        # train through B: B claims the task, runs it once and becomes the holder
        task = b.tasks.train(cluster.uuid, "rr_train_task",
                             inputs=[(train.uuid, "picture", "picture_hex")],
                             outputs=[(train.uuid, "label", "label_hex")])  # fmt: skip
        finished = a.wait(task, timeout=120, interval=0.2)
        assert finished.current_cycle == len(mnist.train_labels)
        assert _row(url, Task, task.uuid).claimed_by == "b"
        assert _row(url, Cluster, cluster.uuid).holder == "b"
        log = ray_replicas.a.log_file.read_text()  # both replicas append to it
        assert log.count(f"task {task.uuid} (train) on cluster {cluster.uuid}: finished") == 1

        checkpoint = a.clusters.save(cluster.uuid, "rr_checkpoint")  # inline, on A
        assert checkpoint.uuid in b.checkpoints.list().column("uuid")
        b.clusters.delete(cluster.uuid)

        cluster = b.clusters.create("rr_cluster", OPENHANAMI_MNIST)
        a.clusters.restore(cluster.uuid, checkpoint.uuid)
        assert ray_driver.samples_trained(cluster.uuid) == len(mnist.train_labels)
        request = b.tasks.request(cluster.uuid, "rr_request_task",
                                  inputs=[(request_set.uuid, "picture", "picture_hex")],
                                  results=[("label_hex", "test_output")])  # fmt: skip
        b.wait(request, timeout=120, interval=0.2)
        accuracy = a.datasets.check(request.uuid, request_set.uuid).accuracy
        assert accuracy is not None and accuracy > e2e_workflow.ACCURACY_THRESHOLD

        # direct I/O through A, which did not create the cluster; B sees the row's mode and
        # does not start a task while the cluster is DIRECT
        async def direct() -> tuple[np.ndarray, Any]:
            label = np.asarray(e2e_workflow.five_label(), dtype=np.float32)
            async with a.direct(cluster.uuid, inputs="picture_hex", outputs="label_hex") as d:
                assert b.clusters.get(cluster.uuid).mode == "DIRECT"
                waiting = b.tasks.train(cluster.uuid, "rr_after_direct",
                                        inputs=[(train.uuid, "picture", "picture_hex")],
                                        outputs=[(train.uuid, "label", "label_hex")])  # fmt: skip
                for _ in range(DIRECT_STEPS):
                    await d.train(mnist.five, label)
                await asyncio.sleep(WAITS_S)  # B's lane had its chance: the row says DIRECT
                assert b.tasks.get(waiting.uuid, cluster.uuid).state == "queued"
                return await d.request(mnist.five), waiting

        output, waiting = asyncio.run(direct())
        assert int(np.argmax(output)) == 5
        assert b.clusters.get(cluster.uuid).mode == "TASK"
        assert a.wait(waiting, timeout=120, interval=0.2).state == "finished"
        assert _row(url, Task, waiting.uuid).claimed_by == "a"  # A switched back: it kicked

        # a second cluster, through the other replica: both worker nodes are used
        other = a.clusters.create("rr_other", OPENHANAMI_MNIST)
        assert {ray_driver.node_of(c.uuid) for c in (cluster, other)} == set(WORKERS)

        for c in (cluster, other):
            b.clusters.delete(c.uuid)
        for dataset in (train, request_set, request):
            a.datasets.delete(dataset.uuid)
        assert not {train.uuid, request_set.uuid} & set(b.datasets.list().column("uuid"))

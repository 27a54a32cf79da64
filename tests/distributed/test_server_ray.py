"""The service with ``HANAMI_EXECUTOR=ray`` on a real Ray cluster (head + two worker nodes).

The whole workflow of the original SDK test runs through it (``tests/e2e``); clusters land
on both worker nodes; and when a worker node's raylet is killed (``kill -9``) during a train
task, the cluster comes back on the other node from its autosave, the task ends ``failed``
with a text saying so, and nothing acknowledged (datasets, a checkpoint) is lost.
Skipped where Ray is not installed (``make test`` installs it: the ``ray`` extra of ``dev``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import pytest
from ray_cluster import WORKERS, RayCluster, RayDriver

from hanami.core.templates import OPENHANAMI_MNIST
from hanami.sdk import HanamiClient, TaskFailed

pytest.importorskip("ray")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

FAULT_EPOCHS = 40
"""Passes of the fault test's train task: far longer than the test waits before the kill."""
QUEUED_ROWS, QUEUED_FRAME_ROWS = 6_000, 100
"""The kill test's direct-I/O rows, in frames small enough that many wait in the pipe."""
LEASE_TTL_S = "2"
"""The kill test's actor lease: how long the restarted server waits for the dead one's."""


def client(server) -> HanamiClient:
    return HanamiClient(server.url, user=server.admin_id, passphrase=server.admin_passphrase)


def test_the_original_sdk_workflow_runs_on_ray(
    ray_server, mnist, record_property, e2e_workflow
) -> None:
    e2e_workflow.test_workflow_through_the_sdk(ray_server, mnist, record_property)


def test_clusters_are_spread_over_both_worker_nodes(ray_server, ray_driver: RayDriver) -> None:
    with client(ray_server) as c:
        clusters = [c.clusters.create(f"spread_{i}", OPENHANAMI_MNIST) for i in range(2)]
        try:
            assert {ray_driver.node_of(cluster.uuid) for cluster in clusters} == set(WORKERS)
        finally:
            for cluster in clusters:
                c.clusters.delete(cluster.uuid)


def _five_steps(c: HanamiClient, cluster_uuid: str, five: np.ndarray) -> np.ndarray:
    async def steps() -> np.ndarray:
        label = np.eye(10, dtype=np.float32)[5]
        async with c.direct(cluster_uuid, inputs="picture_hex", outputs="label_hex") as d:
            for _ in range(20):
                await d.train(five, label)
            return await d.request(five)

    return asyncio.run(steps())


def test_a_lease_is_kept_for_the_next_step_then_given_back(
    ray_nodes: RayCluster, ray_driver: RayDriver
) -> None:
    """Two executors as two API replicas: the one that ran a step keeps the actor's lease
    for its next step (no call to take it again), the other gets it once it is given back
    and then sees the first one's changes, and the first one sees the other's."""
    from hanami.server.runtime.executor import ClusterBusy
    from hanami.server.runtime.ray_executor import LINGER_S, RayExecutor

    mine, other = RayExecutor(ray_nodes.address), RayExecutor(ray_nodes.address)
    rng = np.random.default_rng(0)
    step = ({"picture_hex": rng.random((2, 784), dtype=np.float32)},
            {"label_hex": np.eye(10, dtype=np.float32)[[3, 5]]})  # fmt: skip
    uuid = "lease-kept-0000-0000-000000000000"
    mine.create(uuid, OPENHANAMI_MNIST)
    try:
        with mine.exclusive(uuid):
            mine.train(uuid, *step)
        assert other.exists(uuid)
        with pytest.raises(ClusterBusy), other.exclusive(uuid, 0.0):
            pass  # kept for mine's next step
        with mine.exclusive(uuid, 0.0):
            mine.train(uuid, *step)
        started = time.monotonic()
        with other.exclusive(uuid, 10.0):
            waited = time.monotonic() - started
            assert other.revision(uuid) == mine.revision(uuid)
            other.train(uuid, *step)
        assert waited < LINGER_S + 1.0
        assert mine.revision(uuid) == other.revision(uuid)  # asked, not remembered
    finally:
        mine.delete(uuid)


def test_a_lost_node_brings_the_cluster_back_from_its_autosave(
    ray_server, ray_nodes: RayCluster, ray_driver: RayDriver, mnist
) -> None:
    with client(ray_server) as c:
        train = c.datasets.upload_mnist(
            "fault_train", mnist.path("train_images"), mnist.path("train_labels")
        )
        cluster = c.clusters.create("fault_cluster", OPENHANAMI_MNIST)
        checkpoint = c.clusters.save(cluster.uuid, "fault_checkpoint")
        assert c.wait(checkpoint.uuid, timeout=60).state == "finished"  # acknowledged
        task = c.tasks.train(cluster.uuid, "fault_task", epochs=FAULT_EPOCHS,
                             inputs=[(train.uuid, "picture", "picture_hex")],
                             outputs=[(train.uuid, "label", "label_hex")])  # fmt: skip
        victim = ray_driver.node_of(cluster.uuid)
        deadline = time.monotonic() + 120
        while ray_driver.samples_trained(cluster.uuid) < 2 * len(mnist.train_labels):
            assert time.monotonic() < deadline, "the train task does not progress"
            time.sleep(0.5)
        time.sleep(2.5)  # at least two autosaves of the trained state
        ray_nodes.workers[victim].kill_raylet()
        killed = time.monotonic()

        with pytest.raises(TaskFailed) as failed:
            c.wait(task, timeout=120, interval=0.2)
        assert "Ray node running cluster" in str(failed.value)
        answered = c.clusters.get(cluster.uuid)
        print(f"\nnode loss: the cluster answered again after {time.monotonic() - killed:.1f} s")
        assert answered.uuid == cluster.uuid
        survivor = next(name for name in WORKERS if name != victim)
        assert ray_driver.node_of(cluster.uuid) == survivor
        assert ray_driver.samples_trained(cluster.uuid) >= 2 * len(mnist.train_labels)

        assert int(np.argmax(_five_steps(c, cluster.uuid, mnist.five))) == 5
        assert train.uuid in c.datasets.list().column("uuid")
        assert c.datasets.content(train.uuid, "label", number_of_rows=3).shape == (3, 10)
        c.wait(c.clusters.restore(cluster.uuid, checkpoint.uuid).uuid, timeout=60)
        assert ray_driver.samples_trained(cluster.uuid) == 0  # the state saved before training
        c.clusters.delete(cluster.uuid)
        c.datasets.delete(train.uuid)


def test_steps_on_their_way_to_the_actor_survive_kill_9_of_the_server(
    ray_servers, ray_driver: RayDriver, mnist, tmp_path
) -> None:
    """Batched direct-I/O steps are acknowledged once journaled and reach the actor later
    (the pipe); ``kill -9`` of the server right after the last acknowledgement leaves some
    unsent. The actor lives on, and the restarted server applies exactly those from the
    journal: every acknowledged row trained once."""
    proc, server = ray_servers.start(tmp_path, HANAMI_RAY_LEASE_TTL=LEASE_TTL_S)
    rows = np.resize(mnist.train_images.reshape(len(mnist.train_images), -1),
                     (QUEUED_ROWS, 784)).astype(np.float32) / 255  # fmt: skip
    labels = np.eye(10, dtype=np.float32)[np.resize(mnist.train_labels, QUEUED_ROWS)]
    with client(server) as c:
        cluster = c.clusters.create("kill_cluster", OPENHANAMI_MNIST)

        async def train_then_kill() -> None:
            session = c.direct(cluster.uuid, inputs="picture_hex", outputs="label_hex",
                               batched=True, batch_size=QUEUED_FRAME_ROWS)  # fmt: skip
            with contextlib.suppress(Exception):  # leaving the session needs the server
                async with session as d:
                    await d.train_batch(rows, labels)  # every frame acknowledged
                    proc.kill()  # SIGKILL

        asyncio.run(train_then_kill())
    proc.wait()
    assert proc.returncode == -9
    left = _settled(ray_driver, cluster.uuid)
    assert left < QUEUED_ROWS, "no step was still on its way: the test proves nothing"

    _, server = ray_servers.start(tmp_path, HANAMI_RAY_LEASE_TTL=LEASE_TTL_S)
    assert ray_driver.samples_trained(cluster.uuid) == QUEUED_ROWS
    assert "acknowledged steps caught up from its journal" in server.log_file.read_text()
    with client(server) as c:
        c.clusters.delete(cluster.uuid)


def _settled(driver: RayDriver, cluster_uuid: str) -> int:
    """The rows the actor trained, once the call in flight at the kill has ended."""
    seen, since = -1, time.monotonic()
    while time.monotonic() - since < 2.0:
        now = driver.samples_trained(cluster_uuid)
        if now != seen:
            seen, since = now, time.monotonic()
        time.sleep(0.2)
    return seen

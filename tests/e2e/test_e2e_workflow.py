"""The workflow of the original SDK test (service spec 10.1, step 7) from end to end.

Against the real server process, once on SQLite and once on PostgreSQL, and in two ways:
through ``hanami.sdk.HanamiClient``, and through raw httpx + websockets + protobuf calls made
exactly like the original Python SDK makes them (``original_sdk.py``). Steps: log in, upload
an MNIST subset (train and request set), create a cluster from the OpenHanami MNIST
template, train, save a checkpoint, delete the cluster, create a new one with the same name,
restore the checkpoint and delete it at once, run a request task, grade the result with
``dataset/check``, read ``dataset/content``, then the direct-I/O "5" test: 100 train steps of
one picture of a 5 over the websocket, then a request that must answer class 5.
"""

from __future__ import annotations

import asyncio
import uuid as uuid_module

import numpy as np
import pytest
from e2e_data import ACCURACY_THRESHOLD, MnistSubset
from original_sdk import OriginalSdk, binding

from hanami.core.templates import OPENHANAMI_MNIST
from hanami.protocol.proto import REQUEST_TYPE, TRAIN_TYPE
from hanami.sdk import HanamiClient, NotFound

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DIRECT_TRAIN_STEPS = 100
LIST_HEADER = ["created_at", "uuid", "project_id", "owner_id", "visibility", "name"]


def suffix() -> str:
    return uuid_module.uuid4().hex[:8]


def five_label() -> list[float]:
    label = [0.0] * 10
    label[5] = 1.0
    return label


def report(record_property, flavour: str, backend: str, source: str, accuracy: float) -> None:
    record_property(f"accuracy_{flavour}_{backend}", accuracy)
    print(f"\nE2E {flavour} on {backend}: {source} subset accuracy {accuracy:.2f} %")


# ------------------------------------------------------------------------------------ the SDK


def test_workflow_through_the_sdk(server, mnist: MnistSubset, record_property) -> None:
    tag = suffix()
    with HanamiClient(server.url, user=server.admin_id, passphrase=server.admin_passphrase) as c:
        assert c.login().is_admin

        train = c.datasets.upload_mnist(
            f"train_test_dataset_{tag}",
            mnist.path("train_images"),
            mnist.path("train_labels"),
        )
        assert train.number_of_rows == len(mnist.train_labels)
        assert set(train.columns) == {"picture", "label"}
        assert train.description["picture"].width == 784
        assert train.description["label"].width == 10
        request_set = c.datasets.upload_mnist(
            f"request_test_dataset_{tag}", mnist.path("test_images"), mnist.path("test_labels")
        )
        assert request_set.number_of_rows == len(mnist.test_labels)

        cluster_name = f"test_cluster_{tag}"
        cluster = c.clusters.create(cluster_name, OPENHANAMI_MNIST)
        hosts = c.hosts.list()
        assert hosts.header[0] == "uuid" and len(hosts) >= 1
        if len(hosts) > 1:
            c.clusters.switch_host(cluster.uuid, hosts.body[1][0], hexagon_id=1)

        task = c.tasks.train(
            cluster.uuid,
            f"test_task_{tag}",
            inputs=[(train.uuid, "picture", "picture_hex")],
            outputs=[(train.uuid, "label", "label_hex")],
        )
        assert task.state in ("queued", "active", "finished")
        finished = c.wait(task, timeout=240, interval=0.2)
        assert finished.total_number_of_cycles == len(mnist.train_labels)
        assert finished.current_cycle == finished.total_number_of_cycles
        info = c.clusters.get(cluster.uuid)
        assert info.name == cluster_name and info.number_of_blocks
        c.tasks.delete(task.uuid)

        checkpoint = c.clusters.save(cluster.uuid, f"test_checkpoint_{tag}")
        assert checkpoint.uuid in c.checkpoints.list().column("uuid")
        c.clusters.delete(cluster.uuid)  # at once: the checkpoint is already stored

        cluster = c.clusters.create(cluster_name, OPENHANAMI_MNIST)  # no 409: the old one is gone
        c.clusters.restore(cluster.uuid, checkpoint.uuid)
        c.checkpoints.delete(checkpoint.uuid)  # at once: the restore has read it
        with pytest.raises(NotFound):
            c.checkpoints.delete(checkpoint.uuid)

        request_name = f"test_request_{tag}"
        request = c.tasks.request(
            cluster.uuid,
            request_name,
            inputs=[(request_set.uuid, "picture", "picture_hex")],
            results=[("label_hex", "test_output")],
        )
        c.wait(request, timeout=120, interval=0.2)
        assert request.uuid in c.tasks.list(cluster.uuid).column("uuid")
        c.tasks.delete(request.uuid)

        datasets = c.datasets.list()
        assert datasets.header == LIST_HEADER
        assert [request.uuid, request_name] in [[row[1], row[-1]] for row in datasets.body]
        accuracy = c.datasets.check(request.uuid, request_set.uuid).accuracy
        assert accuracy is not None
        report(record_property, "sdk", server.backend, mnist.source, accuracy)
        assert accuracy > ACCURACY_THRESHOLD

        rows = c.datasets.content(request.uuid, "test_output", row_offset=100, number_of_rows=10)
        assert rows.shape == (10, 10)
        predicted = c.tasks.result(request, "test_output").argmax(axis=1)
        assert len(predicted) == len(mnist.test_labels)
        assert 100 * np.mean(predicted == mnist.test_labels) == pytest.approx(accuracy, abs=0.01)

        async def direct() -> np.ndarray:
            label = np.asarray(five_label(), dtype=np.float32)
            async with c.direct(cluster.uuid, inputs="picture_hex", outputs="label_hex") as d:
                assert c.clusters.get(cluster.uuid).mode == "DIRECT"
                for _ in range(DIRECT_TRAIN_STEPS):
                    await d.train(mnist.five, label)
                return await d.request(mnist.five)

        output = asyncio.run(direct())
        assert output.shape == (10,)
        assert int(np.argmax(output)) == 5
        assert c.clusters.get(cluster.uuid).mode == "TASK"

        c.clusters.delete(cluster.uuid)
        for uuid in (train.uuid, request_set.uuid, request.uuid):
            c.datasets.delete(uuid)
        remaining = c.datasets.list().column("uuid")
        assert not {train.uuid, request_set.uuid, request.uuid} & set(remaining)


# ------------------------------------------------------------------ like the original SDK


async def direct_io_five(sdk: OriginalSdk, cluster_uuid: str, picture: list[float]) -> list:
    """Spec 10.1 step 7.12, message by message, checking every protobuf reply."""
    ws = await sdk.switch_to_direct_mode(cluster_uuid)
    try:
        for _ in range(DIRECT_TRAIN_STEPS):
            ack = await sdk.send_train_input(ws, "picture_hex", picture, True, False)
            assert (ack.isLast, ack.processType, ack.bufferName) == (False, TRAIN_TYPE, "")
            assert (ack.numberOfValues, list(ack.values)) == (1, [0.0])
            end = await sdk.send_train_input(ws, "label_hex", five_label(), False, True)
            assert (end.isLast, end.processType, list(end.values)) == (True, TRAIN_TYPE, [0.0])
        reply = await sdk.send_request_input(ws, "picture_hex", picture, True)
        assert (reply.bufferName, reply.processType, reply.isLast) == (
            "label_hex",
            REQUEST_TYPE,
            False,
        )
        assert reply.numberOfValues == 10
        return list(reply.values)
    finally:
        await ws.close()


def test_workflow_like_the_original_sdk(server, mnist: MnistSubset, record_property) -> None:
    tag = suffix()
    sdk = OriginalSdk(server.url)
    try:
        login = sdk.request_token(server.admin_id, server.admin_passphrase)
        assert set(login) >= {"id", "name", "is_admin", "token"}

        # 7.1: the cluster and both datasets
        cluster_name = f"test_cluster_{tag}"
        cluster_uuid = sdk.create_cluster(cluster_name, OPENHANAMI_MNIST)["uuid"]
        train_uuid = sdk.upload_mnist_files(
            f"train_test_dataset_{tag}",
            mnist.path("train_images").read_bytes(),
            mnist.path("train_labels").read_bytes(),
        )
        request_uuid = sdk.upload_mnist_files(
            f"request_test_dataset_{tag}",
            mnist.path("test_images").read_bytes(),
            mnist.path("test_labels").read_bytes(),
        )
        dataset = sdk.call("GET", f"dataset?uuid={train_uuid}")
        assert dataset["number_of_rows"] == len(mnist.train_labels)
        assert dataset["description"]["picture"] == {"column_start": 0, "column_end": 784}

        # 7.2: hosts (switch_host only with more than one)
        hosts = sdk.call("GET", "host/all")
        assert hosts["header"][0] == "uuid" and len(hosts["body"]) >= 1
        if len(hosts["body"]) > 1:
            body = {"cluster_uuid": cluster_uuid, "hexagon_id": 1, "host_uuid": hosts["body"][1][0]}
            sdk.call("PUT", "cluster/switch_host", body)

        # 7.3-7.4: train, wait, get the cluster, delete the task
        inputs = [binding(train_uuid, "picture", "picture_hex")]
        outputs = [binding(train_uuid, "label", "label_hex")]
        task = sdk.create_train_task(f"test_task_{tag}", cluster_uuid, inputs, outputs)
        assert task["state"] in ("queued", "active", "finished")
        assert task["start_timestamp"] == "-" or task["state"] != "queued"
        finished = sdk.wait_for_task(task["uuid"], cluster_uuid)
        assert finished["total_number_of_cycles"] == len(mnist.train_labels)
        assert finished["end_timestamp"] != "-"
        assert sdk.call("GET", f"cluster?uuid={cluster_uuid}")["name"] == cluster_name
        sdk.call("DELETE", f"task?uuid={task['uuid']}&cluster_uuid={cluster_uuid}")

        # 7.5-7.6: save; the answer's uuid is the checkpoint's; delete the cluster at once
        checkpoint_uuid = sdk.save_cluster(f"test_checkpoint_{tag}", cluster_uuid)["uuid"]
        checkpoints = sdk.call("GET", "checkpoint/all")
        assert checkpoints["header"] == LIST_HEADER
        assert checkpoint_uuid in [row[1] for row in checkpoints["body"]]
        sdk.call("DELETE", f"cluster?uuid={cluster_uuid}")

        # 7.7-7.8: same name again; restore, then delete the checkpoint at once, twice
        cluster_uuid = sdk.create_cluster(cluster_name, OPENHANAMI_MNIST)["uuid"]
        sdk.restore_cluster(checkpoint_uuid, cluster_uuid)
        sdk.call("DELETE", f"checkpoint?uuid={checkpoint_uuid}")
        sdk.call("DELETE", f"checkpoint?uuid={checkpoint_uuid}", expect=404)

        # 7.9: request task; list; delete it
        request_name = f"test_request_{tag}"
        inputs = [binding(request_uuid, "picture", "picture_hex")]
        results = [{"dataset_column": "test_output", "hexagon_name": "label_hex"}]
        request = sdk.create_request_task(request_name, cluster_uuid, inputs, results)
        sdk.wait_for_task(request["uuid"], cluster_uuid)
        tasks = sdk.call("GET", f"task/all?cluster_uuid={cluster_uuid}")
        assert tasks["header"] == ["uuid", "state", "percentage", "queued", "start", "end"]
        row = next(r for r in tasks["body"] if r[0] == request["uuid"])
        assert all(isinstance(value, str) for value in row)
        assert row[1] == "finished" and float(row[2]) == pytest.approx(1.0)
        sdk.call("DELETE", f"task?uuid={request['uuid']}&cluster_uuid={cluster_uuid}")

        # the result dataset: uuid = task uuid, name = task name (last column), kept
        datasets = sdk.call("GET", "dataset/all")
        assert [request["uuid"], request_name] in [[r[1], r[-1]] for r in datasets["body"]]

        # 7.10: accuracy
        check = sdk.call(
            "GET", f"dataset/check?uuid={request['uuid']}&reference_uuid={request_uuid}"
        )
        accuracy = check["accuracy"]
        assert isinstance(accuracy, float)
        report(record_property, "original", server.backend, mnist.source, accuracy)
        assert accuracy > ACCURACY_THRESHOLD

        # 7.11: dataset content
        content = sdk.call(
            "GET",
            f"dataset/content?uuid={request['uuid']}&column_name=test_output"
            "&row_offset=100&number_of_rows=10",
        )
        assert len(content["data"]) == 10 and len(content["data"][0]) == 10

        # 7.12: direct I/O, the "5" test
        picture = [float(v) for v in mnist.five]
        values = asyncio.run(direct_io_five(sdk, cluster_uuid, picture))
        assert int(np.argmax(values)) == 5
        sdk.switch_to_task_mode(cluster_uuid)

        # 7.13 and clean-up
        sdk.call("DELETE", f"cluster?uuid={cluster_uuid}")
        sdk.call("DELETE", f"cluster?uuid={cluster_uuid}", expect=404)
        for uuid in (train_uuid, request_uuid, request["uuid"]):
            sdk.call("DELETE", f"dataset?uuid={uuid}")
    finally:
        sdk.close()

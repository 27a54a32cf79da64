"""Direct cluster I/O over the websocket (spec 3.4), original and batched protocol."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sdk_server import needs_direct_io

from hanami.sdk import Conflict, HanamiClient, NotFound, WebsocketError

pytestmark = needs_direct_io

MISSING = "00000000-0000-4000-8000-000000000000"


def five() -> tuple[np.ndarray, np.ndarray]:
    picture = np.zeros(16, dtype=np.float32)
    picture[5] = 1.0
    label = np.zeros(4, dtype=np.float32)
    label[1] = 1.0
    return picture, label


def test_original_protocol_train_and_request(admin: HanamiClient, cluster: str) -> None:
    picture, label = five()

    async def run() -> np.ndarray:
        async with admin.direct(
            cluster, inputs="picture_hex", outputs="label_hex", batched=False
        ) as session:
            assert session.batched is False
            assert admin.clusters.get(cluster).mode == "DIRECT"
            for _ in range(30):
                await session.train(picture, label)
            return await session.request(picture)

    output = asyncio.run(run())
    assert output.shape == (4,)
    assert output.dtype == np.float32
    assert admin.clusters.get(cluster).mode == "TASK"  # switched back on exit
    info = admin.clusters.get(cluster)
    assert info.inputs == {"picture_hex": 16}
    assert info.outputs == {"label_hex": 4}

    async def again() -> np.ndarray:
        async with admin.direct(cluster) as session:  # batched: the same answer
            assert session.batched is True
            return await session.request(picture)

    np.testing.assert_allclose(asyncio.run(again()), output, rtol=1e-5, atol=1e-6)


def test_batched_protocol_and_name_discovery(admin: HanamiClient, cluster: str) -> None:
    classes = np.random.default_rng(0).integers(0, 4, 64)
    pictures = np.zeros((64, 16), dtype=np.float32)
    pictures[np.arange(64), classes * 4] = 1.0
    labels = np.eye(4, dtype=np.float32)[classes]
    progress: list[tuple[int, int]] = []

    async def run() -> tuple[np.ndarray, np.ndarray, dict]:
        async with admin.direct(cluster, batch_size=16) as session:
            assert session.batched is True
            assert session.capabilities["max_in_flight"] >= 1
            assert (session.inputs, session.outputs) == (["picture_hex"], ["label_hex"])
            for _ in range(5):
                await session.train_batch(
                    pictures, labels, progress=lambda d, n: progress.append((d, n))
                )
            outputs = await session.request_batch(pictures)
            single = await session.request({"picture_hex": pictures[0]})
            named = await session.request(pictures[0], outputs=["label_hex"])
            return outputs, single, named

    outputs, single, named = asyncio.run(run())
    assert progress[-1] == (64, 64)
    assert (16, 64) in progress  # one report per frame of 16 rows
    assert outputs.shape == (64, 4)
    assert outputs.dtype == np.float32
    np.testing.assert_allclose(outputs[0], single, rtol=1e-5, atol=1e-6)
    assert list(named) == ["label_hex"]
    assert admin.clusters.get(cluster).metrics["samples_trained"] == 5 * 64


def test_batched_train_batch_checks_shapes(admin: HanamiClient, cluster: str) -> None:
    async def run() -> None:
        async with admin.direct(cluster) as session:
            with pytest.raises(ValueError, match="same number of rows"):
                await session.train_batch(np.zeros((3, 16)), np.zeros((2, 4)))

    asyncio.run(run())


def test_unknown_cluster_raises_not_found(admin: HanamiClient) -> None:
    async def run() -> None:
        async with admin.direct(MISSING, inputs="a", outputs="b"):
            pass

    with pytest.raises(NotFound):
        asyncio.run(run())


def test_session_without_direct_mode_is_closed_with_a_reason(
    admin: HanamiClient, cluster: str
) -> None:
    picture, label = five()

    async def run() -> None:
        async with admin.direct(
            cluster, inputs="picture_hex", outputs="label_hex", switch_mode=False, batched=False
        ) as session:
            await session.train(picture, label)

    with pytest.raises(WebsocketError) as info:
        asyncio.run(run())
    assert "DIRECT" in str(info.value)  # refused at init, or closed with 4409


def test_mode_switch_conflict_while_direct(admin: HanamiClient, cluster: str) -> None:
    async def run() -> None:
        async with admin.direct(cluster):
            with pytest.raises(Conflict):
                admin.clusters.set_mode(cluster, "DIRECT")

    asyncio.run(run())
    assert admin.clusters.get(cluster).mode == "TASK"


def test_unknown_hexagon_closes_the_session(admin: HanamiClient, cluster: str) -> None:
    async def run() -> None:
        async with admin.direct(cluster, batched=False) as session:
            await session.train({"no_such_hexagon": [1.0]}, {"label_hex": [1.0]})

    with pytest.raises(WebsocketError) as info:
        asyncio.run(run())
    assert info.value.code in (4400, 4404)

"""A memory limit per cluster (``Cluster.max_bytes``): the buffers stop growing at it, and
the cluster goes on learning with the structure it has."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import line_template

from hanami.core import Cluster

TEMPLATE = line_template()


@pytest.fixture(scope="module")
def wide() -> tuple[np.ndarray, np.ndarray]:
    """1,200 raw inputs and a class that depends on the first: enough sections for the
    buffers to grow within the first rows."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 255, size=(600, 1200)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[(X[:, 0] > 127).astype(int)]
    return X, Y


def _trained(X: np.ndarray, Y: np.ndarray, max_bytes: int | None) -> Cluster:
    cluster = Cluster(TEMPLATE, seed=7, max_bytes=max_bytes)
    cluster.train(X[:1], Y[:1])  # the inputs widen: granted whatever the limit
    cluster.train(X[1:], Y[1:])
    return cluster


def test_growth_stops_at_the_limit_and_learning_goes_on(wide):
    free = _trained(*wide, max_bytes=None).metrics()
    limit = 9_000_000
    held = _trained(*wide, max_bytes=limit).metrics()
    assert free["bytes"] > limit and free["at_memory_limit"] == 0
    assert held["bytes"] <= limit and held["at_memory_limit"] == 1
    assert held["max_bytes"] == limit
    # the limit cut the spare reserve the kernels keep, not what these rows built
    assert held["synapses"] == free["synapses"] > 0
    assert held["samples_trained"] == free["samples_trained"] == 600


def test_a_limit_with_room_grows_only_what_the_rows_need(wide):
    free = _trained(*wide, max_bytes=None).metrics()
    held = _trained(*wide, max_bytes=12_000_000).metrics()
    assert free["bytes"] > 12_000_000 >= held["bytes"] > 9_000_000
    assert held["at_memory_limit"] == 0


def test_lifting_the_limit_lets_the_cluster_grow_again(wide):
    X, Y = wide
    cluster = _trained(X, Y, max_bytes=9_000_000)
    before = cluster.metrics()["bytes"]
    cluster.max_bytes = None
    cluster.train(X[:50], Y[:50])
    assert not cluster.at_memory_limit
    assert cluster.metrics()["bytes"] > before


def test_sections_keep_their_length_at_the_limit(wide):
    X, Y = wide
    lengths = {}
    for limit in (None, 9_000_000):
        cluster = Cluster(TEMPLATE, seed=7, max_bytes=limit)
        cluster.train(X[:1], Y[:1])
        params = cluster._params
        assert params.long_synapses > 0  # a wide input: its sections lengthen after a while
        cluster._params = params._replace(long_after=100)
        cluster.train(X[1:200], Y[1:200])
        lengths[limit] = cluster._state.s_w.shape[2]
        assert limit is None or cluster.metrics()["bytes"] <= limit
    assert lengths[None] == params.long_synapses > lengths[9_000_000]


@pytest.mark.parametrize("limit", [0, -1])
def test_the_limit_must_be_positive(limit):
    with pytest.raises(ValueError, match="max_bytes must be positive or None"):
        Cluster(TEMPLATE, max_bytes=limit)


def test_a_checkpoint_does_not_carry_the_limit(wide, tmp_path):
    cluster = _trained(*wide, max_bytes=9_000_000)
    loaded = Cluster.load(cluster.save(tmp_path / "c.hanami"))
    assert loaded.max_bytes is None
    assert loaded.metrics()["synapses"] == cluster.metrics()["synapses"]

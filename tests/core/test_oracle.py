"""The compiled training step of the default profile against the plain-Python oracle.

Small clusters go through the same samples twice, once with the kernels and once with
``oracle.train_step`` on a copy of the state; every buffer must be equal after every step
(not close: the oracle follows the kernels' float32 operation order).
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import line_template
from oracle import copy_state, train_step

from hanami.core import Cluster
from hanami.core.profiles import PROFILES
from hanami.core.state import M_CREATED, M_PENDING, M_REMOVED, M_SPLITS

TWO_ROWS = """version: 1
settings:
    profile: default
    neuron_cooldown: 2.0
    refractory_time: 3
    enable_reduction: true
hexagons:
    1,1,1
    2,1,1
    3,1,1
    1,2,1
    2,2,1
    3,2,1
    4,1,1
inputs:
    a: 1,1,1
    b: 1,2,1 (binary)
outputs:
    y: 4,1,1
    z: 3,2,1
"""


def _samples(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """Raw values with zero rows, negative values and a few very large ones."""
    X = rng.uniform(0, 255, size=(n, width)).astype(np.float32)
    X[::7] = 0.0
    X[3::9, 0] = 1e5
    X[5::11, -1] = 3e7
    X[rng.random((n, width)) < 0.1] *= -1
    return X


def _blobs():
    rng = np.random.default_rng(1)
    X = _samples(rng, 40, 4)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    template = line_template(cooldown=1.5, refractory=2, reduction=True)
    return Cluster(template, seed=3), X, Y, 3


def _ramp():
    # one input that rises by one unit a step: a new border each step, then a chained section
    X = np.arange(1, PROFILES["default"].synapses_per_section + 11, dtype=np.float32)[:, None]
    Y = (X > 30).astype(np.float32)
    return Cluster(line_template(), seed=11), X, Y, None


def _two_rows():
    # two inputs (one binary), hidden hexagons that feed each other, two outputs
    rng = np.random.default_rng(2)
    a = _samples(rng, 30, 3)
    b = (rng.random((30, 2)) < 0.5).astype(np.float32)
    y = rng.integers(0, 2, (30, 2)).astype(np.float32)
    z = rng.random((30, 1)).astype(np.float32)
    return Cluster(TWO_ROWS, seed=5), {"a": a, "b": b}, {"y": y, "z": z}, 4


@pytest.mark.parametrize("make", [_blobs, _ramp, _two_rows])
def test_compiled_step_equals_the_oracle(make):
    cluster, inputs, expected, interval = make()
    X, Y = cluster._prepare_inputs(inputs), cluster._prepare_outputs(expected)
    if interval is not None:  # reduce often enough to see synapses go
        cluster._params = cluster._params._replace(reduction_interval=interval)
        # the input gain's rule and the step size per synapse on these narrow inputs too
        # (the profile keeps them for wide ones), with a short warm-up and a small
        # tolerance so that the gain moves often
        cluster._params = cluster._params._replace(input_gain=0.9, gain_warmup=5,
                                                   gain_tolerance=0.05, synapse_rate=0.2,
                                                   synapse_decay=1e-3)  # fmt: skip
    P = cluster._params
    scaled = False  # the input gain moved off 1
    for i in range(X.shape[0]):
        cluster._grow()
        oracle = copy_state(cluster._state)
        cluster._kernels.train_one(cluster._ref(), P, X[i], Y[i])
        train_step(oracle, P, X[i], Y[i])
        for name, array in zip(oracle._fields, cluster._state, strict=True):
            expect = getattr(oracle, name)
            assert array.dtype == expect.dtype, name
            assert np.array_equal(array, expect), f"{name} differs after sample {i}"
        scaled |= bool((cluster._state.hx_gain != 1.0).any())
    meta = cluster._state.meta
    assert scaled == (make is not _ramp)
    assert meta[M_CREATED] > 0 and meta[M_PENDING] == 0
    if make is _ramp:
        assert meta[M_SPLITS] > 0  # a section ran out of positions and chained another
    else:
        assert meta[M_REMOVED] > 0  # the reduction removed synapses

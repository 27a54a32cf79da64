"""Requests in lanes (kernels/lanes.py) give what a request of one row at a time gives."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import blobs, line_template

from hanami.core import Cluster
from hanami.core import state as st
from hanami.core.kernels.lanes import LANES, lanes_apply


@pytest.mark.parametrize(("input_kind", "in_lanes"), [("", True), ("binary", False)])
def test_a_request_in_lanes_equals_rows_one_at_a_time(input_kind: str, in_lanes: bool) -> None:
    # a short cooldown and a refractory time: the hidden neurons carry state between rows
    template = line_template(cooldown=2.0, refractory=2, input_kind=input_kind)
    X, Y = blobs(900, seed=3)
    if input_kind:
        X = (X > 128).astype(np.float32)
    trained = Cluster(template, seed=5)
    trained.train(X[:600], Y[:600])
    rows = 4 * LANES + 13  # four batches and a tail
    together, alone = Cluster.from_bytes(trained.to_bytes()), Cluster.from_bytes(trained.to_bytes())
    assert lanes_apply(together._ref()) is in_lanes
    out = together.request(X[600 : 600 + rows])
    one_by_one = np.vstack([alone.request(X[i : i + 1]) for i in range(600, 600 + rows)])
    assert np.array_equal(out, one_by_one)
    a, b = st.trimmed(together._state), st.trimmed(alone._state)
    for name in a:
        if name != "c_list":  # past cb_nlist: unread slots, left by earlier rows
            assert np.array_equal(a[name], b[name]), name
    for cb, n in enumerate(a["cb_nlist"]):
        assert np.array_equal(a["c_list"][cb, :n], b["c_list"][cb, :n])


def test_a_section_in_lanes_walks_until_its_highest_potential_stops() -> None:
    """The vector walk stops when the lane of the highest potential stops (it does not
    count the lanes still walking); each lane must still get exactly its own row's walk,
    the highest potential in a middle lane and the others stopping far earlier."""
    from hanami.core.kernels.lanes import FEW, STOPPED, _walk_block
    from hanami.core.kernels.walks import walk_value

    rng = np.random.default_rng(0)
    syn, npb, thr = 24, 8, np.float32(0.01)
    sb = rng.uniform(0.05, 0.15, (1, syn)).astype(np.float32)
    sw = rng.normal(0, 0.5, (1, syn)).astype(np.float32)
    st_ = rng.integers(0, npb, (1, syn)).astype(np.uint8)
    st_[0, 20:] = st.UNUSED_TARGET
    pot = np.zeros(LANES, dtype=np.float32)
    pot[: FEW + 20] = rng.uniform(0.0, 0.3, FEW + 20)  # short walks, some lanes silent
    pot[LANES // 2] = np.float32(1.7)  # the longest walk, in no particular lane
    lanes = np.zeros((2 * npb, LANES), dtype=np.float32)
    lanes[0] = pot
    q = np.full(LANES, STOPPED, dtype=np.float32)
    c_src, c_low = np.array([0], dtype=np.int32), np.array([0.02], dtype=np.float32)
    _walk_block(c_src, c_low, sw, sb, st_, 1, npb, lanes, q, thr)
    for lane in range(LANES):
        alone = np.zeros(npb, dtype=np.float32)
        if pot[lane] > 0:
            walk_value(sw, sb, st_, 0, pot[lane] - c_low[0], alone, thr)
        assert np.array_equal(lanes[npb:, lane], alone), lane

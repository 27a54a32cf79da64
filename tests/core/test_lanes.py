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

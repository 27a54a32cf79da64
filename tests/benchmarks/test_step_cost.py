"""``benchmarks/step_cost.py``: its phase-by-phase loop is the training step, and a reduced
run prints one row of positive costs."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import step_cost
import stream_data
from hanami.core import Cluster
from hanami.core import state as st


def test_phase_loop_ends_in_the_network_that_train_builds():
    """Wine's 178 rows, the estimator's network: growth from the first rows on."""
    stream = stream_data.streams()["wine"](0)
    model = step_cost.fresh_estimator(stream.X, stream.y, 3, 0)
    inputs, Y = step_cost.engine_rows(model, stream.X[1:], stream.y[1:])
    twin = Cluster.from_bytes(model.cluster_.to_bytes())
    twin.train(inputs, Y)
    ns, synapses, cycles = step_cost.phase_steps(model.cluster_, inputs, Y)
    ours, theirs = st.trimmed(model.cluster_._state), st.trimmed(twin._state)
    for name in ours:
        if name != "stats":  # the scores of a train call, which the loop does not keep
            assert np.array_equal(ours[name], theirs[name]), name
    assert synapses > 100 * len(inputs) and (ns[:3] > 0).all() and cycles == 0


def test_reduced_run(capsys):
    step_cost.main(["--streams", "wine", "--rows", "120"])
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| wine")]
    cells = row[0].strip("| ").split(" | ")
    assert cells[1] == "119"
    forward, backward, walked, per_synapse, new = (float(cells[i].replace(",", ""))
                                                   for i in (2, 4, 7, 8, 9))  # fmt: skip
    assert min(forward, backward, walked, per_synapse, new) > 0

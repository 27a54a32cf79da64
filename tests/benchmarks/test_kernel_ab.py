"""``benchmarks/kernel_ab.py``: a reduced run of one tree against itself gives one hash and
positive times, and a copy learns there as ``Cluster._train_rows`` makes it learn."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from hanami.core import Cluster
from hanami.core import state as st
from hanami.estimators import HanamiClassifier, prequential

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import kernel_ab

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_one_tree_against_itself(capsys):
    times, hashes = kernel_ab.main([SRC, SRC, "--stream", "wine", "--warm", "20", "--rows",
                                    "30", "--copies", "1", "--rounds", "1"])  # fmt: skip
    assert len(hashes) == 1 and all(t[0] > 0 for t in times.values())
    assert "results identical" in capsys.readouterr().out


@pytest.mark.slow
def test_a_copy_learns_as_the_cluster_does():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    y = rng.integers(0, 2, 40)
    model = HanamiClassifier(random_state=0)
    prequential(model, X[:5], y[:5], classes=np.arange(2))
    blob = model.cluster_.to_bytes()
    inputs = model.cluster_._prepare_inputs(model._coder.encode(X[5:], learn=True))
    Y = np.eye(2, dtype=np.float32)[y[5:]]
    _, digest = kernel_ab.train(kernel_ab.load(SRC), blob, inputs, Y)
    cluster, seen = Cluster.from_bytes(blob), np.zeros(Y.shape, dtype=np.float32)
    cluster._train_rows(inputs, Y, np.arange(Y.shape[0]), seen)
    sha = hashlib.sha256(seen.tobytes())
    for name, array in st.trimmed(cluster._state).items():
        sha.update(name.encode() + array.tobytes())
    assert digest == sha.hexdigest()[:16]

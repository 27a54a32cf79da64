"""Checkpoints (round trip, damaged files), output types, and inputs/outputs that widen."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from engine_helpers import blobs, line_template

from hanami.core import CheckpointError, Cluster
from hanami.core import checkpoint as ckpt
from hanami.core.interfaces import decode, encode


def test_a_checkpoint_from_before_the_input_gain_loads_with_no_level_seen():
    """Checkpoints written before the input gain lack its four buffers: the cluster loads
    with a gain of 1 and no rows seen, and starts its reference level from the next rows."""
    X, Y = blobs(300, seed=3)
    c = Cluster(line_template(), seed=1)
    c.train(X, Y)
    arrays = {name: np.array(a) for name, a in zip(c._state._fields, c._state, strict=True)}
    gain = ("hx_rows", "hx_level", "hx_ref", "hx_gain")
    old = {name: a for name, a in arrays.items() if name not in gain}
    restored = ckpt.restore(c.template.to_text(), [int(n) for n in c._out_n],
                            c._rng.bit_generator.state, old)  # fmt: skip
    assert np.all(restored._state.hx_rows == 0) and np.all(restored._state.hx_gain == 1.0)
    assert np.array_equal(c.request(X), restored.request(X))


@pytest.fixture(scope="module")
def trained() -> Cluster:
    X, Y = blobs(500, seed=2)
    c = Cluster(line_template(profile="classic"), seed=12)
    c.train(X, Y)
    return c


@pytest.mark.parametrize("profile", ["classic", "default", "stream"])
def test_round_trip_gives_identical_outputs_and_continues_identically(tmp_path, profile):
    X, Y = blobs(600, seed=3)
    c = Cluster(line_template(profile=profile), seed=1)
    c.train(X[:300], Y[:300])
    restored = Cluster.load(c.save(tmp_path / "c.hckpt"))
    assert np.array_equal(c.request(X), restored.request(X))
    c.train(X[300:], Y[300:])
    restored.train(X[300:], Y[300:])
    assert np.array_equal(c.request(X), restored.request(X))
    assert c.metrics()["synapses"] == restored.metrics()["synapses"]


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, trained):
    path = trained.save(tmp_path / "c.hckpt")
    assert [p.name for p in tmp_path.iterdir()] == ["c.hckpt"]
    assert path.read_bytes() == trained.to_bytes()


def test_truncated_file(tmp_path, trained):
    data = trained.to_bytes()
    (tmp_path / "t").write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        Cluster.load(tmp_path / "t")
    with pytest.raises(CheckpointError, match="too short"):
        Cluster.from_bytes(data[:10])


def test_corrupt_file(trained):
    data = bytearray(trained.to_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(CheckpointError, match="checksum"):
        Cluster.from_bytes(bytes(data))


def test_foreign_file(tmp_path):
    (tmp_path / "f").write_bytes(b"PK\x03\x04" + b"\0" * 200)
    with pytest.raises(CheckpointError, match="not a Hanami checkpoint"):
        Cluster.load(tmp_path / "f")


def test_newer_format_version(trained):
    data = bytearray(trained.to_bytes())
    struct.pack_into("<I", data, 8, ckpt.VERSION + 1)
    with pytest.raises(CheckpointError, match="not supported"):
        Cluster.from_bytes(bytes(data))


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("bool", [[0.2, 0.7, 1.0]]),
        ("float", [[1.5, -3.25, 1e-3]]),
        ("int", [[7, -2, 2**40]]),
    ],
)
def test_output_types_encode_and_decode(kind, values):
    values = np.array(values, dtype=np.float64)
    internal = encode(values.astype(np.float32) if kind != "int" else values, kind)
    width = {"bool": 1, "float": 32, "int": 64}[kind]
    assert internal.shape == (1, 3 * width)
    assert set(np.unique(internal)) <= {0.0, 1.0}
    decoded = decode(internal, kind)
    expected = (values >= 0.5) if kind == "bool" else values
    np.testing.assert_array_equal(decoded, expected.astype(decoded.dtype))


def test_bool_output_cluster_returns_zeros_and_ones():
    X, Y = blobs(300, seed=5)
    c = Cluster(line_template(output_type="bool"), seed=3)
    c.train(X, Y)
    out = c.request(X[:20])
    assert out.shape == (20, 4)
    assert set(np.unique(out)) <= {0.0, 1.0}


def test_inputs_and_outputs_widen_on_demand():
    c = Cluster(line_template(), seed=2)
    c.train(np.full((5, 3), 50.0), np.eye(2)[[0, 1, 0, 1, 0]])
    assert c.input_sizes == {"x": 3} and c.output_sizes == {"y": 2}
    c.train(np.full((5, 300), 50.0), np.eye(5)[[0, 1, 2, 3, 4]])
    assert c.input_sizes == {"x": 300} and c.output_sizes == {"y": 5}
    assert c.request(np.full((2, 3), 50.0)).shape == (2, 5)  # narrower rows are padded


def test_bad_data_is_rejected_with_a_clear_message():
    c = Cluster(line_template(), seed=2)
    with pytest.raises(ValueError, match="NaN"):
        c.train(np.array([[np.nan, 1.0]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="rows"):
        c.train(np.ones((3, 2)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="unknown input"):
        c.train({"nope": np.ones((1, 2))}, np.ones((1, 1)))
    with pytest.raises(ValueError, match="train it first"):
        c.request(np.ones((1, 2)))

"""``benchmarks/mnist_ab.py``: a reduced run of one tree against itself gives one hash and
positive times (the children train and request with the tree they are given)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import mnist_ab

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.mnist
def test_one_tree_against_itself(capsys):
    if not (mnist_ab.DEFAULT_DATA / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found in {mnist_ab.DEFAULT_DATA}")
    src = str(ROOT / "src")
    results = mnist_ab.main([src, src, "--rounds", "1", "--warm", "200", "--rows", "50",
                             "--copies", "1"])  # fmt: skip
    runs = results["before"] + results["after"]
    assert len(runs) == 2 and len({m["hash"] for m in runs}) == 1
    assert all(m["train_us_per_row"] > 0 and m["request_s"] > 0 for m in runs)
    assert "results identical" in capsys.readouterr().out

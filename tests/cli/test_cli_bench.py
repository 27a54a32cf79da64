"""``hanami bench``'s MNIST loader, as the benchmark scripts call it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hanami.cli.bench import load_mnist, train_in_chunks
from hanami.core import Cluster

LINE = """version: 1
settings:
    profile: default
hexagons:
    1,1,1
    2,1,1
    3,1,1
inputs:
    x: 1,1,1
outputs:
    y: 3,1,1
"""


def test_mnist_folder_given_as_text_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"not found in {tmp_path}"):
        load_mnist(str(tmp_path))


@pytest.mark.parametrize("order", [None, np.array([4, 0, 6, 2, 1, 5, 3])])
def test_training_in_chunks_through_one_buffer_equals_one_call(order) -> None:
    """The reused chunk buffers (the last chunk shorter) feed each call exactly its rows."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(7, 4), dtype=np.uint8)
    Y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=7)]
    chunked, whole = Cluster(LINE, seed=1), Cluster(LINE, seed=1)
    train_in_chunks(chunked, X, Y, order, chunk=3)
    rows = np.arange(7) if order is None else order
    for start in (0, 3, 6):
        part = rows[start : start + 3]
        whole.train(X[part].astype(np.float32), Y[part])
    assert chunked.to_bytes() == whole.to_bytes()

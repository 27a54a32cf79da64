"""Upload conversion to dataset files, including the real MNIST files when available."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from hanami.datasets import DatasetError, convert_csv, convert_mnist, open_dataset

MNIST = Path(__file__).parents[2].parent / "shared/data/mnist"


def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def test_convert_mnist_layout(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20000, 4, 3), dtype=np.uint8)  # more than one write chunk
    labels = rng.integers(0, 10, 20000, dtype=np.uint8)
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx(images), compresslevel=1))
    dataset = convert_mnist(tmp_path / "img.gz", idx(labels), tmp_path / "ds", name="tiny")

    assert dataset.name == "tiny" and dataset.dtype == np.uint8
    assert (dataset.rows, dataset.columns) == (20000, 22)
    assert dataset.description == {
        "picture": {"column_start": 0, "column_end": 12},
        "label": {"column_start": 12, "column_end": 22},
    }
    np.testing.assert_array_equal(dataset.column("picture"), images.reshape(20000, 12))
    np.testing.assert_array_equal(dataset.column("label").argmax(axis=1), labels)


def test_convert_mnist_bad_label_writes_nothing(tmp_path):
    images = np.zeros((3, 2, 2), np.uint8)
    with pytest.raises(DatasetError, match="label 10 at row 1"):
        convert_mnist(idx(images), idx(np.array([0, 10, 1], np.uint8)), tmp_path / "ds")
    with pytest.raises(DatasetError, match="<label file>: truncated IDX data"):
        convert_mnist(idx(images), idx(np.zeros(3, np.uint8))[:-1], tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []


def test_convert_csv(tmp_path):
    source = tmp_path / "train.csv"
    source.write_text("input,output\r\n0.5,1\r\n1e-2,0\r\n")
    dataset = convert_csv(source, tmp_path / "ds", name="csv")
    assert dataset.dtype == np.float32 and dataset.name == "csv"
    assert list(dataset.description) == ["input", "output"]
    np.testing.assert_allclose(open_dataset(tmp_path / "ds").column("input"), [[0.5], [0.01]])


@pytest.mark.mnist
@pytest.mark.skipif(not MNIST.is_dir(), reason=f"MNIST files not found at {MNIST}")
def test_real_mnist(tmp_path):
    train = convert_mnist(
        MNIST / "train-images-idx3-ubyte.gz",
        MNIST / "train-labels-idx1-ubyte.gz",
        tmp_path / "train",
    )
    test = convert_mnist(
        MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz", tmp_path / "test"
    )
    assert train.column("picture").shape == (60000, 784)
    assert train.column("label").shape == (60000, 10)
    assert test.column("picture").shape == (10000, 784)
    assert test.rows == 10000 and test.columns == 794
    labels = test.column("label")
    assert (labels.sum(axis=1) == 1).all()
    assert np.bincount(labels.argmax(axis=1), minlength=10).min() > 800
    assert train.column("picture").max() == 255

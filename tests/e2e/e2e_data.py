"""The data of the end-to-end and documentation tests: an MNIST subset written as IDX files.

The rows come from ``../shared/data/mnist`` (the four original files, gzip-compressed or
not) when that folder is there. Without it (or with ``HANAMI_E2E_SYNTHETIC=1``) a synthetic
digit-like set is used instead: seven-segment digits drawn into 28x28 pictures, randomly
shifted and thickened, with noise, so that every test still runs everywhere.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hanami.datasets import read_idx

REPO = Path(__file__).resolve().parents[2]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# Rows used by the tests. With the engine's default profile one pass over the first 10,000
# MNIST training rows gives 87-90 % on the first 1,000 test rows (measured with seeds 1-3);
# 2,000 rows would only give about 75 %, below the 80 % the original test asks for.
TRAIN_ROWS = 10_000
TEST_ROWS = 1_000
ACCURACY_THRESHOLD = 80.0
"""Percent; the original test (spec 10.1 step 7.10) asks for more than 80 % after one pass."""


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (unsigned bytes) for images ``[n, rows, cols]`` or labels ``[n]``."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    return (
        bytes([0, 0, 0x08, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape) + data.tobytes()
    )


# Seven-segment encoding: segments a (top), b (top right), c (bottom right), d (bottom),
# e (bottom left), f (top left), g (middle).
_SEGMENTS = {
    0: "abcdef",
    1: "bc",
    2: "abdeg",
    3: "abcdg",
    4: "bcfg",
    5: "acdfg",
    6: "acdefg",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}


def _draw_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    picture = np.zeros((28, 28), dtype=np.float32)
    top, left = 4 + rng.integers(-2, 3), 8 + rng.integers(-2, 3)
    height, width = 20, 12
    middle = top + height // 2
    thick = int(rng.integers(2, 4))
    bottom, right = top + height, left + width
    boxes = {
        "a": (top, top + thick, left, right),
        "g": (middle - thick // 2, middle - thick // 2 + thick, left, right),
        "d": (bottom - thick, bottom, left, right),
        "f": (top, middle, left, left + thick),
        "e": (middle, bottom, left, left + thick),
        "b": (top, middle, right - thick, right),
        "c": (middle, bottom, right - thick, right),
    }
    for segment in _SEGMENTS[digit]:
        r0, r1, c0, c1 = boxes[segment]
        picture[max(r0, 0) : min(r1, 28), max(c0, 0) : min(c1, 28)] = rng.uniform(180, 255)
    picture += rng.normal(0, 25, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def synthetic_digits(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` 28x28 uint8 seven-segment digits and their labels (0-9)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows).astype(np.uint8)
    images = np.stack([_draw_digit(int(label), rng) for label in labels])
    return images, labels


@dataclass(frozen=True)
class MnistSubset:
    """IDX files of the subset (uncompressed, like the original tests send them) and arrays."""

    folder: Path
    source: str  # "mnist" or "synthetic"
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def path(self, key: str) -> Path:
        """``train_images``, ``train_labels``, ``test_images`` or ``test_labels``."""
        return self.folder / FILES[key]

    @property
    def five(self) -> np.ndarray:
        """The first test picture of a 5, as 784 floats (the direct-I/O test of spec 10.1)."""
        index = int(np.flatnonzero(self.test_labels == 5)[0])
        return self.test_images[index].reshape(-1).astype(np.float32)


def _read(name: str) -> np.ndarray | None:
    for candidate in (MNIST_DIR / name, MNIST_DIR / f"{name}.gz"):
        if candidate.is_file():
            return read_idx(candidate)
    return None


def write_subset(
    folder: Path, train_rows: int = TRAIN_ROWS, test_rows: int = TEST_ROWS, *, gzipped: bool = False
) -> MnistSubset:
    """Write the four IDX files of the subset into ``folder`` (names as in the MNIST
    distribution, ``.gz`` added when ``gzipped``)."""
    arrays = None
    if not os.environ.get("HANAMI_E2E_SYNTHETIC"):
        found = {key: _read(name) for key, name in FILES.items()}
        if all(value is not None for value in found.values()):
            arrays = found
    source = "mnist"
    if arrays is None:
        source = "synthetic"
        train_images, train_labels = synthetic_digits(train_rows, seed=1)
        test_images, test_labels = synthetic_digits(test_rows, seed=2)
        arrays = {
            "train_images": train_images,
            "train_labels": train_labels,
            "test_images": test_images,
            "test_labels": test_labels,
        }
    limits = {"train": train_rows, "test": test_rows}
    subset = {key: value[: limits[key.split("_")[0]]] for key, value in arrays.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in FILES.items():
        data = idx_bytes(subset[key])
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (folder / name).write_bytes(data)
    return MnistSubset(folder=folder, source=source, **subset)

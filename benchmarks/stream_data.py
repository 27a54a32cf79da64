"""The streams of ``benchmarks/streams.py``: one small loader per stream.

Every loader takes a seed and returns a :class:`Stream`. Only data shipped inside installed
packages (scikit-learn, River) or read from the local MNIST folder is used; nothing is
downloaded. Class labels become codes ``0..k-1`` (in sorted label order), so that every
system sees the same integer targets.

* scikit-learn's toy sets are sorted by class: they are shuffled with the seed.
* River's sets keep their own order (the seed changes nothing in the data).
* MNIST keeps the file order of the training images.
* The Gaussian blobs are generated with the seed (centres and samples).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hanami.cli.bench import load_mnist

#: ``../shared/data/mnist`` next to the repository, whatever the working directory.
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

#: Box of the blob centres (uniform in ``[0, BLOB_BOX]^4``) and the noise's standard
#: deviation. With these, the Bayes rate on the 20,000 samples is 99.565 / 99.620 / 98.635 %
#: for 10 classes and 90.055 / 90.510 / 88.790 % for 50 classes (seeds 0 / 1 / 2).
BLOB_BOX = 10.0
BLOB_SIGMA = 0.8
BLOB_SAMPLES = 20_000


class Stream(NamedTuple):
    """A stream: features ``[n, d]`` (float64), targets ``[n]`` and the kind of task."""

    X: np.ndarray
    y: np.ndarray
    kind: str  # "classification" or "regression"
    bayes_hits: np.ndarray | None = None  # per row: the Bayes-optimal classifier is right
    test: tuple[np.ndarray, np.ndarray] | None = None  # held-out rows, scored after the pass


def _classification(X, y) -> Stream:
    _, codes = np.unique(np.asarray(y), return_inverse=True)
    return Stream(np.asarray(X, dtype=np.float64), codes.astype(np.int64), "classification")


def _shuffled(X, y, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(y))
    return np.asarray(X)[order], np.asarray(y)[order]


def _from_river(dataset) -> tuple[np.ndarray, list]:
    """A River dataset as an array, columns in the key order of its first sample
    (booleans become 0/1)."""
    keys, rows, targets = None, [], []
    for x, y in dataset:
        keys = keys or list(x)
        rows.append([float(x[k]) for k in keys])
        targets.append(y)
    return np.array(rows, dtype=np.float64), targets


# ---------------------------------------------------------------- classification


def digits(seed: int) -> Stream:
    from sklearn.datasets import load_digits

    return _classification(*_shuffled(*load_digits(return_X_y=True), seed))


def breast_cancer(seed: int) -> Stream:
    from sklearn.datasets import load_breast_cancer

    return _classification(*_shuffled(*load_breast_cancer(return_X_y=True), seed))


def wine(seed: int) -> Stream:
    from sklearn.datasets import load_wine

    return _classification(*_shuffled(*load_wine(return_X_y=True), seed))


def phishing(seed: int) -> Stream:
    from river import datasets

    return _classification(*_from_river(datasets.Phishing()))


def bananas(seed: int) -> Stream:
    from river import datasets

    return _classification(*_from_river(datasets.Bananas()))


def image_segments(seed: int) -> Stream:
    from river import datasets

    return _classification(*_from_river(datasets.ImageSegments()))


@functools.cache
def mnist_arrays(directory: Path) -> dict[str, np.ndarray]:
    """The four MNIST files, read once per process."""
    return load_mnist(directory)


def mnist_binary(seed: int, directory: Path = MNIST_DIR) -> Stream:
    """The 60,000 training images in file order, pixels above 127 -> 1.0, others 0.0; the
    10,000 test images, binarised the same way, are the held-out test."""
    data = mnist_arrays(directory)
    test = ((data["test_x"] > 127).astype(np.float64), data["test_y"])
    return Stream((data["train_x"] > 127).astype(np.float64), data["train_y"], "classification",
                  test=test)  # fmt: skip


def blobs(n_classes: int, seed: int, n: int = BLOB_SAMPLES) -> Stream:
    """Isotropic Gaussian blobs in 4-D, equally likely classes; ``bayes_hits`` says where the
    Bayes-optimal classifier is right (see :func:`bayes_hits`)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.0, BLOB_BOX, (n_classes, 4))
    y = rng.integers(0, n_classes, n)
    X = centres[y] + rng.normal(0.0, BLOB_SIGMA, (n, 4))
    return Stream(X, y.astype(np.int64), "classification", bayes_hits(X, y, centres))


def bayes_hits(X: np.ndarray, y: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Where argmax of the known likelihoods is right: with equal priors and one shared
    isotropic covariance the largest likelihood is that of the nearest centre."""
    nearest = np.empty(len(y), dtype=np.int64)
    for start in range(0, len(y), 4096):  # [chunk, classes, 4] stays small
        part = X[start : start + 4096]
        nearest[start : start + 4096] = ((part[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    return nearest == y


# ---------------------------------------------------------------- regression


def trump_approval(seed: int) -> Stream:
    from river import datasets

    X, y = _from_river(datasets.TrumpApproval())
    return Stream(X, np.asarray(y, dtype=np.float64), "regression")


def chick_weights(seed: int) -> Stream:
    from river import datasets

    X, y = _from_river(datasets.ChickWeights())
    return Stream(X, np.asarray(y, dtype=np.float64), "regression")


def diabetes(seed: int) -> Stream:
    from sklearn.datasets import load_diabetes

    X, y = _shuffled(*load_diabetes(return_X_y=True), seed)
    return Stream(X.astype(np.float64), y.astype(np.float64), "regression")


def friedman1(seed: int) -> Stream:
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=2000, noise=1.0, random_state=seed)
    return Stream(X, y, "regression")


# ---------------------------------------------------------------- the list


def streams(mnist_dir: Path = MNIST_DIR) -> dict[str, Callable[[int], Stream]]:
    """Loaders by name, in report order; the MNIST stream only where its folder exists."""
    loaders: dict[str, Callable[[int], Stream]] = {
        "digits": digits,
        "breast_cancer": breast_cancer,
        "wine": wine,
        "phishing": phishing,
        "bananas": bananas,
        "image_segments": image_segments,
        "mnist_binary": functools.partial(mnist_binary, directory=Path(mnist_dir)),
        "blobs_10": functools.partial(blobs, 10),
        "blobs_50": functools.partial(blobs, 50),
        "trump_approval": trump_approval,
        "chick_weights": chick_weights,
        "diabetes": diabetes,
        "friedman1": friedman1,
    }
    if not mnist_available(mnist_dir):
        del loaders["mnist_binary"]
    return loaders


def mnist_available(directory: Path) -> bool:
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip
    return all((Path(directory) / n).exists() or (Path(directory) / f"{n}.gz").exists()
               for n in names)  # fmt: skip

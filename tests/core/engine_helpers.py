"""Shared templates, data and fixtures for the engine tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hanami.datasets import read_idx

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"

LINE = """version: 1
settings:
    profile: {profile}
    neuron_cooldown: {cooldown}
    refractory_time: {refractory}
    enable_reduction: {reduction}
hexagons:
    1,1,1
    2,1,1
    3,1,1
inputs:
    x: 1,1,1{input_kind}
outputs:
    y: 3,1,1{output_type}
"""


def line_template(
    profile: str = "default",
    cooldown: float = 1e9,
    refractory: int = 1,
    reduction: bool = False,
    input_kind: str = "",
    output_type: str = "",
) -> str:
    """A three-hexagon line: input -> hidden -> output."""
    return LINE.format(
        profile=profile,
        cooldown=cooldown,
        refractory=refractory,
        reduction=str(reduction).lower(),
        input_kind=f" ({input_kind})" if input_kind else "",
        output_type=f" ({output_type})" if output_type else "",
    )


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four classes of raw, unnormalised 8-feature vectors (values 0..255)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 255, size=(4, 8))
    labels = rng.integers(0, 4, size=n)
    X = np.clip(centers[labels] + rng.normal(0, 20, size=(n, 8)), 0, 255).astype(np.float32)
    return X, np.eye(4, dtype=np.float32)[labels]


@pytest.fixture(scope="session")
def mnist() -> dict[str, np.ndarray]:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found in {MNIST_DIR}")
    return {
        "train_x": read_idx(MNIST_DIR / "train-images-idx3-ubyte.gz").reshape(-1, 784),
        "train_y": read_idx(MNIST_DIR / "train-labels-idx1-ubyte.gz"),
        "test_x": read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz").reshape(-1, 784),
        "test_y": read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz"),
    }

"""Random numbers of the kernels, reproducible from the cluster's seed.

Two generators, so that the per-synapse draws do not advance the cluster's state:

* :func:`rand` advances the cluster's 64-bit LCG (``S.rng``, saved in checkpoints). Training
  draws from it once per connection block and pass (and once per pass for the classic
  output layer), and for every new section (target hexagon, first block to scan); requests
  never draw, so asking for a prediction does not change what is learned afterwards.
* :func:`pcg` is a hash iterated as a chain from such a draw: each new synapse takes its
  target, weight and sign from the next links of its block's chain (and the classic output
  layer its new links).
"""

from __future__ import annotations

import numpy as np

from hanami.core._jit import njit

RAND_MAX = 2147483647.0  # rand() < 2^31; pcg values divided by this give weights


@njit(inline="always")
def pcg(x):
    """32-bit PCG-RXS-M-XS hash of ``x``; iterated as a chain for per-synapse draws."""
    state = (x * 747796405 + 2891336453) & 0xFFFFFFFF
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & 0xFFFFFFFF
    return ((word >> 22) ^ word) & 0xFFFFFFFF


@njit
def rand(rng):
    """A ``rand()``-like draw in [0, 2^31): 64-bit LCG, upper bits (seeded per cluster)."""
    rng[0] = rng[0] * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
    return np.int64(rng[0] >> np.uint64(33))

"""Where new sections may go: the random target-hexagon lists of OpenHanami.

Each hexagon gets 86 independent random walks over the hexagon grid; a new section of one
of its neurons picks an entry uniformly, so the list is a probability distribution over the
hexagons reachable "forward" (towards +x or along z).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hanami.core._jit import njit
from hanami.core.state import TARGET_LIST_LEN

FORWARD_SIDES = (9, 3, 1, 4, 11, 5, 2)


def target_lists(
    neighbors: Sequence[Sequence[int]],
    axon_target: Sequence[int],
    is_input: Sequence[bool],
    max_distance: int,
    rng: np.random.Generator,
    faithful: bool,
) -> np.ndarray:
    """``[n_hex, 86]`` target hexagon ids, -1 where a walk found no target.

    ``faithful`` keeps the original's distance semantics (distance 1 and 2 both reach one
    hop); otherwise a walk reaches up to ``max_distance`` hops, an axon counting as the
    first. Input hexagons are never targets: they are not processed as section targets.
    """
    n_hex = len(neighbors)
    draws = rng.integers(0, 2**31, size=(n_hex, TARGET_LIST_LEN, 3 * (max_distance + 2)))
    return _target_lists(np.array(neighbors, dtype=np.int64).reshape(n_hex, -1),
                         np.array(axon_target, dtype=np.int64),
                         np.array(is_input, dtype=np.bool_), max_distance, draws,
                         faithful)  # fmt: skip


@njit
def _target_lists(neighbors, axon_target, is_input, max_distance, draws, faithful):
    """:func:`target_lists` in compiled code: 86 walks per hexagon are a fixed cost of
    every new cluster, which in Python took most of its construction."""
    n_hex = neighbors.shape[0]
    out = np.full((n_hex, TARGET_LIST_LEN), -1, dtype=np.int32)
    for h in range(n_hex):
        for j in range(TARGET_LIST_LEN):
            t = _walk(h, neighbors, axon_target, max_distance, draws[h, j], faithful)
            if t != h and t >= 0 and not is_input[t]:
                out[h, j] = t
    return out


@njit
def _walk(h, neighbors, axon_target, max_distance, draws, faithful):
    """Where one walk from hexagon ``h`` ends, reading ``draws`` in order."""
    cur = axon_target[h]
    length = max_distance if faithful or cur != h else max_distance + 1
    d = 0
    while True:
        length -= 1
        if length <= 0 and cur != h:
            return cur
        if cur != h:
            d += 1
            if _draw(draws, d - 1) % 1000 < 500:
                return cur
        d += 1
        start = FORWARD_SIDES[_draw(draws, d - 1) % 7]
        step = -1
        for i in range(7):
            side = FORWARD_SIDES[(i + start) % 7]
            if neighbors[cur, side] >= 0:
                step = neighbors[cur, side]
                break
        if step < 0:
            return cur
        cur = step


@njit
def _draw(draws, i):
    """Draw ``i`` of a walk, 0 once they ran out."""
    return draws[i] if i < draws.shape[0] else 0

"""The sample loops: one training step, and the loops over rows that Cluster calls.

A training step (docs/engine.md, A training step) is: the expected values, a forward pass
with growth, the sample's score (taken before learning, for live training curves), the
structure changes requested during the pass, the backward pass (by default not for a
sample already learned, see :func:`learned`), and every
``P.reduction_interval`` samples a reduction cycle. Each profile has its own step and
loops, built from its own kernels, so compiled code never tests the profile:
``hanami.core.kernels.KERNELS`` maps profile names to them.
"""

from __future__ import annotations

import numpy as np

from hanami.core._jit import njit
from hanami.core.kernels.backward import backward_classic, backward_default
from hanami.core.kernels.forward import forward_classic, forward_default
from hanami.core.kernels.growth import create_pending_sections, update_cluster_classic
from hanami.core.kernels.lanes import LANES, lanes_apply, request_lanes_default
from hanami.core.kernels.reduction import reduce_classic, reduce_default
from hanami.core.state import M_CB, M_NB, M_SAMPLES


@njit
def train_one_classic(S, P, x, y):
    """One training step of the classic profile on input row ``x``, expected row ``y``."""
    _set_expected(S, y)
    forward_classic(S, P, x, True)
    score(S.o_val, S.o_exp, S.stats)
    update_cluster_classic(S, P)
    backward_classic(S, P)
    S.meta[M_SAMPLES] += 1
    if P.reduction and S.meta[M_SAMPLES] % P.reduction_interval == 0:
        reduce_classic(S, P)


@njit
def train_one_default(S, P, x, y):
    """One training step of the default profile on input row ``x``, expected row ``y``."""
    _set_expected(S, y)
    forward_default(S, P, x, True)
    score(S.o_val, S.o_exp, S.stats)
    create_pending_sections(S, P)
    if not learned(S.o_val, S.o_exp, P.learned_margin):
        backward_default(S, P)
    S.meta[M_SAMPLES] += 1
    if P.reduction and S.meta[M_SAMPLES] % P.reduction_interval == 0:
        reduce_default(S, P)


@njit
def train_rows_classic(S, P, X, Y, rows, start, stop, seen):
    """:func:`train_one_classic` over ``rows[start:stop]``, as :func:`train_rows_default`."""
    keep = seen.shape[0] > 0
    for i in range(start, stop):
        if not has_reserve(S, P):
            return i
        r = rows[i]
        train_one_classic(S, P, X[r], Y[r])
        if keep:  # learning changes weights, not the outputs of the forward pass
            seen[i, :] = S.o_val
    return stop


@njit
def train_rows_default(S, P, X, Y, rows, start, stop, seen):
    """Train rows ``rows[start:stop]`` of ``X``/``Y``; returns where it stopped.

    When ``seen`` has rows, row ``i`` of it receives the outputs sample ``i`` had before it
    was learned (prequential scoring at engine speed). Stops early (before a sample) when
    the spare capacity falls below the reserve, so the caller can grow the buffers and
    continue at the returned index.
    """
    keep = seen.shape[0] > 0
    for i in range(start, stop):
        if not has_reserve(S, P):
            return i
        r = rows[i]
        train_one_default(S, P, X[r], Y[r])
        if keep:  # learning changes weights, not the outputs of the forward pass
            seen[i, :] = S.o_val
    return stop


@njit
def request_rows_classic(S, P, X, out):
    """Forward passes without learning; row ``i`` of ``out`` receives the internal outputs."""
    for i in range(X.shape[0]):
        forward_classic(S, P, X[i], False)
        for o in range(out.shape[1]):
            out[i, o] = S.o_val[o]


@njit
def request_rows_default(S, P, X, out):
    """Forward passes without learning; row ``i`` of ``out`` receives the internal outputs.

    Rows go through ``lanes.request_lanes_default`` :data:`~lanes.LANES` at a time where
    its rules apply (the same results, faster); the last row always takes the plain pass,
    which leaves the pass's scratch buffers (``c_pot``, ``cb_nlist``, ``c_list`` up to
    ``cb_nlist``) as a row-by-row request does.
    """
    batched = (X.shape[0] - 1) // LANES * LANES if lanes_apply(S) else 0
    if batched > 0:
        lanes = np.zeros((S.n_in.shape[0], LANES), dtype=np.float32)
        q = np.empty(LANES, dtype=np.float32)
        for first in range(0, batched, LANES):
            request_lanes_default(S, P, X, first, out, lanes, q)
    for i in range(batched, X.shape[0]):
        forward_default(S, P, X[i], False)
        for o in range(out.shape[1]):
            out[i, o] = S.o_val[o]


@njit
def _set_expected(S, y):
    for o in range(S.o_exp.shape[0]):
        S.o_exp[o] = y[o]


@njit
def has_reserve(S, P):
    """Whether the spare capacity is still above the reserve for the next sample; always,
    once the buffers may grow no more (``Params.grows``): a structure change that finds no
    room is then skipped, as when the reserve runs short."""
    if not P.grows:
        return True
    reserve = P.reserve_blocks + S.meta[M_NB] // 2
    if S.meta[M_NB] + reserve > S.nb_hex.shape[0]:
        return False
    if S.meta[M_CB] + reserve > S.cb_hex.shape[0]:
        return False
    return max(S.hx_nnb.max(), S.hx_ncb.max()) + reserve <= S.hx_nb.shape[1]


@njit
def learned(out, expected, margin):
    """Whether a sample is already learned: its expected values are all 0 or 1 (classes)
    and every output is within ``margin`` of its own. The default step then skips the
    backward pass: a sample the network gets right teaches little, and skipping it saves
    about a third of the step (docs/engine.md, Learned samples)."""
    if margin <= 0.0:
        return False
    for o in range(out.shape[0]):
        e = expected[o]
        if (e != 0.0 and e != 1.0) or abs(out[o] - e) >= margin:
            return False
    return True


@njit
def score(out, expected, stats):
    """Add the sample's squared error and whether its largest output is the expected one
    (first index on ties, as the original's check) to the running training statistics."""
    err = 0.0
    best_out, best_exp = 0, 0
    for o in range(out.shape[0]):
        d = np.float64(out[o] - expected[o])
        err += d * d
        if out[o] > out[best_out]:
            best_out = o
        if expected[o] > expected[best_exp]:
            best_exp = o
    stats[0] += err
    stats[1] += best_out == best_exp

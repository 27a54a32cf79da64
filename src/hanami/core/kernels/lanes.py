"""Requests in lanes: each section walked for many rows at once.

A request walks each section row by row: a chain of dependent float subtractions (the
potential left after each border) that exits at a different synapse for every value, so
one row at a time the processor mostly waits (docs/engine.md, Time per sample, Ninth
round). A hexagon's walk for a row needs only the potentials that the hexagons before it
reached on that row, so a request takes :data:`LANES` rows together, one lane per row,
hexagon by hexagon: the walk of a section steps through its synapses once for all lanes
in vector code (a lane whose walk stopped adds nothing; a section whose source fired on
:data:`FEW` lanes or fewer is walked lane by lane instead), and then the hexagon's neurons
take their input row by row, in order, since their potentials carry over from row to
row. Each lane does exactly the operations of ``walks.walk_value`` on its row, in the same
order, so outputs and state are the same bit for bit.

The scratch ``lanes`` is ``[neurons, LANES]``: a neuron's row holds its potential on each
lane's row (0 where it did not fire), and for a hexagon being walked its synaptic input.
"""

from __future__ import annotations

import numpy as np

from hanami.core._jit import njit
from hanami.core.kernels.borrow import borrowed as B
from hanami.core.kernels.forward import input_block, settle_default
from hanami.core.kernels.structure import F0
from hanami.core.kernels.walks import walk_value
from hanami.core.state import HX_INPUT, HX_OUTPUT, UNUSED_TARGET

LANES = 64  # rows walked together (docs/engine.md, Ninth round: 8 to 256 tried)
STOPPED = np.float32(-np.inf)  # the potential left of a lane whose walk stopped
FEW = 12  # a section whose source fired on this many lanes or fewer is walked lane by lane


@njit
def lanes_apply(S):
    """Whether a request may run in lanes: every section of every hexagon is a value
    section (kind 0 or 1) whose source lies in an earlier input or hidden hexagon (its
    potential on the row is in the lanes before the walk), and every neuron an output
    hexagon's sections may target is an output (its pass clears the neuron's input, as a
    hidden pass does)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    is_output = np.zeros(S.n_in.shape[0], dtype=np.bool_)
    for o in range(S.o_val.shape[0]):
        h, idx = S.o_hex[o], S.o_idx[o]
        if h >= 0 and idx // npb < S.hx_nnb[h]:
            is_output[S.hx_nb[h, idx // npb] * npb + idx % npb] = True
    for h in range(S.hx_flags.shape[0]):
        if S.hx_flags[h] & HX_INPUT:
            continue
        for i in range(S.hx_ncb[h]):
            cb = S.hx_cb[h, i]
            for slot in range(S.cb_hi[cb]):
                src = S.c_src[cb, slot]
                if src < 0:
                    continue
                at = S.nb_hex[src // npb]
                if S.c_kind[cb, slot] >= 2 or at >= h or S.hx_flags[at] & HX_OUTPUT:
                    return False
        if S.hx_flags[h] & HX_OUTPUT:
            for i in range(S.hx_nnb[h]):
                base = S.hx_nb[h, i] * npb
                for gid in range(base, base + S.nb_size[S.hx_nb[h, i]]):
                    if not is_output[gid]:
                        return False
    return True


@njit
def request_lanes_default(S, P, X, first, out, lanes, q):
    """Rows ``first .. first + LANES`` of a request, as ``forward.forward_default``
    without training row after row; row ``first + i`` of ``out`` receives the outputs."""
    _load_lanes(S, X, first, lanes)
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for h in range(S.hx_flags.shape[0]):
        if S.hx_flags[h] & HX_INPUT:
            continue
        for i in range(S.hx_nnb[h]):
            base = S.hx_nb[h, i] * npb
            lanes[base : base + npb] = F0
        _walk_lanes(S, P, h, lanes, q)
        for lane in range(LANES):
            _settle_lane(S, P, h, lanes, lane)
            if S.hx_flags[h] & HX_OUTPUT:
                for o in range(S.o_val.shape[0]):
                    if S.o_hex[o] == h:
                        out[first + lane, o] = S.o_val[o]


@njit
def _load_lanes(S, X, first, lanes):
    """The input potentials of the lanes' rows, as ``forward.load_inputs`` sets them."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for h in range(S.hx_flags.shape[0]):
        if (S.hx_flags[h] & HX_INPUT) == 0:
            continue
        gain = S.hx_gain[h]
        for blk in range(S.hx_nnb[h]):
            base, column, count = input_block(S, h, blk, npb)
            for j in range(count):
                for lane in range(LANES):
                    lanes[base + j, lane] = np.float32(X[first + lane, column + j]) * gain


@njit
def _walk_lanes(S, P, h, lanes, q):
    """The request walks of hexagon ``h`` for every lane, added to its neurons' lanes
    (``q``: the potential left on each lane). The block's views, and ``_walk_block``'s rows
    of ``lanes`` per section, lane and synapse, go over borrowed (``borrow.borrowed``):
    counted, they were half of the MNIST request's samples (docs/engine.md, Time per
    sample, twenty-fifth round)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    thr = np.float32(P.threshold)
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] == 0:
            continue
        base = S.cb_nb[cb] * npb
        _walk_block(B(S.c_src[cb]), B(S.c_low[cb]), B(S.s_w[cb]), B(S.s_b[cb]), B(S.s_t[cb]),
                    S.cb_hi[cb], base, lanes, q, thr)  # fmt: skip


@njit
def _walk_block(c_src, c_low, sw, sb, st_, hi, base, lanes, q, thr):
    """One connection block's sections, each for all lanes whose source fired."""
    syn = sw.shape[1]
    for slot in range(hi):
        src = c_src[slot]
        if src < 0:
            continue
        low = c_low[slot]
        fired = 0
        pot = B(lanes[src])
        for lane in range(LANES):
            p = pot[lane]
            q[lane] = p - low if p > F0 else STOPPED
            fired += p > F0
        if fired == 0:
            continue
        if fired <= FEW:  # walked lane by lane, as one row's request walks them
            for lane in range(LANES):
                if pot[lane] > F0:
                    walk_value(sw, sb, st_, slot, pot[lane] - low, B(lanes[base:, lane]), thr)
            continue
        top = F0  # the highest potential: its lane walks on while any lane does
        for lane in range(LANES):
            top = pot[lane] if pot[lane] > top else top
        top = top - low
        for k in range(syn):
            t = st_[slot, k]
            if t == UNUSED_TARGET:
                break
            b = sb[slot, k]
            _step(q, B(lanes[base + t]), b, sw[slot, k], thr)
            if not (top > thr and not top < b):
                break
            top = top - b


@njit(inline="always")
def _step(q, acc, b, w, thr):
    """Synapse ``(b, w)`` on every lane, as ``walks.walk_request_default`` steps; a lane
    that stopped has the potential :data:`STOPPED` and is left as it is (selects, no
    branch per lane, so it compiles to vector code).

    It does not count the lanes that walk on: that count cost the step about 40 % more
    (a reduction through mask registers). The caller follows the lane of the highest
    potential instead, in scalar code beside the step: every lane takes the same
    borders and float subtraction is monotonic, so no lane walks on once that one
    stopped (docs/engine.md, Time per sample, seventeenth round).

    Compiled into ``_walk_block`` (``inline``): as a call per synapse it took about a
    quarter of the MNIST test (twenty-fifth round)."""
    for lane in range(LANES):
        v = q[lane]
        go = v > thr  # never for a lane that stopped
        inside = v < b  # the potential runs out inside this synapse
        add = w * (v / b) if inside else w
        now = acc[lane]
        acc[lane] = now + add if go else now
        on = go and not inside
        q[lane] = v - b if on else STOPPED


@njit
def _settle_lane(S, P, h, lanes, lane):
    """The neurons of hexagon ``h`` take the synaptic input of the row in ``lane`` (their
    ``n_in`` is 0 before: every pass clears it) and are updated; a hidden hexagon's
    potentials go back to the lane, as the walks of later hexagons read them. The copies
    loop over slices indexed from 0, which Numba compiles to vector code where it does not
    for ``range(base, base + npb)`` (``forward.update_neurons``): 4 % off the MNIST request
    (docs/engine.md, Time per sample, thirteenth round)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        inp, column = S.n_in[base : base + npb], lanes[base : base + npb, lane]
        for j in range(npb):
            inp[j] = column[j]
    settle_default(S, P, h, False)
    if S.hx_flags[h] & HX_OUTPUT:
        return
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        pot, act = S.n_pot[base : base + npb], S.n_act[base : base + npb]
        column = lanes[base : base + npb, lane]
        for j in range(npb):
            column[j] = pot[j] if act[j] else F0

"""Section walks: how a section turns its source's potential into synaptic input.

A section spends its source potential ``q`` (above the section's ``c_low``) synapse by
synapse along its positions: each synapse consumes its *border*; a fully covered synapse
adds its whole weight to its target neuron, the one where ``q`` runs out adds the covered
fraction. Together the synapses form a learned thermometer code of the source value.
Sections of binary and match inputs are not walked by value: every synapse adds its full
weight.

Training walks also grow (docs/engine.md, Profiles, the rows "growth" and "long values"):

* classic: a synapse is created where the walk reaches an unused position; the tolerance
  window shrinks a partly covered border (and its weight) by 1.5; a section that runs out
  of positions asks for a split (``c_split``, done by ``growth.update_cluster_classic``);
* default: an oversized border (more than twice the potential left) gives half to the next
  position (``P.halve_borders``), or, with ``P.input_split``/``P.hidden_split``, the partly
  covered synapse is split where the potential ran out (:func:`split_room`); a section's
  first synapse may be created in ``P.first_pieces`` equal pieces; a section that runs out
  of positions asks for a chained section above it (``growth.queue_section``), and the walk
  records how far it went (``c_stop``) for the backward pass.

The walks run one connection block per call, with only the arrays they touch as arguments:
a small function keeps the hot loop in registers. A call costs Numba's reference counts of
its arrays (two atomic operations apiece per block and row); compiled into the hexagon's
loop instead, the training walk saved them but made MNIST's step 5-10 % slower
(docs/engine.md, Time per sample, nineteenth round), so only ``P.inline_walks`` (the
stream profile, and every profile below ``profiles.INLINE_INPUTS`` inputs: few blocks,
short walks) compiles it there. The default rules now hand the walk its block's views
borrowed (``borrow.borrowed``: without a meminfo), so neither way counts them (twenty-fourth
round); the request walk's too (twenty-fifth round).
"""

from __future__ import annotations

import numpy as np

from hanami.core._jit import njit
from hanami.core.kernels.borrow import borrowed as B
from hanami.core.kernels.growth import queue_section
from hanami.core.kernels.random import rand
from hanami.core.kernels.structure import F0, F1, create_synapse
from hanami.core.state import UNUSED_TARGET

HALF = np.float32(0.5)
SHRINK_BORDER = np.float32(1.5)  # classic: a border inside the tolerance window shrinks so
SHRINK_TOL = np.float32(1.2)  # classic: ... and the window with it
CLASSIC_EPS = np.float32(1e-5)  # classic: potential below which a walk stops


@njit
def walk_sections_classic(S, P, h, train):
    """All sections of hexagon ``h`` add their synaptic input to their target neurons."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    init = P.init_weight
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] == 0:
            S.cb_nlist[cb] = 0
            continue
        nb = S.cb_nb[cb]
        r = rand(S.rng) if train else 0  # requests leave the random state alone
        lst = S.c_list[cb]
        n = _active_slots(S.c_src[cb], S.n_pot, S.n_act, S.c_pot[cb], lst, S.cb_hi[cb])
        S.cb_nlist[cb] = n
        n_in = S.n_in[nb * npb : (nb + 1) * npb]
        if train:
            walk_train_classic(lst, n, S.c_kind[cb], S.c_low[cb], S.c_range[cb], S.c_pot[cb],
                               S.c_tol[cb], S.c_split[cb], S.s_w[cb], S.s_b[cb], S.s_t[cb],
                               S.s_cnt[cb], n_in, S.meta, r, i, S.nb_size[nb], init)  # fmt: skip
        else:
            walk_request_classic(lst, n, S.c_kind[cb], S.c_low[cb], S.c_range[cb],
                                 S.c_pot[cb], S.s_w[cb], S.s_b[cb], S.s_t[cb],
                                 n_in)  # fmt: skip


@njit
def walk_sections_default(S, P, h, train):
    """All sections of hexagon ``h`` add their synaptic input to their target neurons."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    init = P.init_weight
    thr = np.float32(P.threshold)
    margin = np.float32(P.split_margin)
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] == 0:
            S.cb_nlist[cb] = 0
            continue
        nb = S.cb_nb[cb]
        r = rand(S.rng) if train else 0  # requests leave the random state alone
        lst = B(S.c_list[cb])
        n = _active_slots(B(S.c_src[cb]), B(S.n_pot), B(S.n_act), B(S.c_pot[cb]), lst,
                          S.cb_hi[cb])  # fmt: skip
        S.cb_nlist[cb] = n
        n_in = B(S.n_in[nb * npb : (nb + 1) * npb])
        if train and P.inline_walks:  # the walk compiled into this loop (see below)
            _train_block_inline(S, P, cb, nb, i, lst, n, n_in, r, thr, init, margin)
        elif train:
            _train_block(S, P, cb, nb, i, lst, n, n_in, r, thr, init, margin)
        else:
            walk_request_default(lst, n, B(S.c_kind[cb]), B(S.c_low[cb]), B(S.c_pot[cb]),
                                 B(S.s_w[cb]), B(S.s_b[cb]), B(S.s_t[cb]), n_in, thr)  # fmt: skip


@njit
def _active_slots(c_src, n_pot, n_act, c_pot, lst, hi):
    """Collect the connections whose source fired (without branches: the pattern is
    random) and record their source potential; returns how many."""
    n = 0
    for slot in range(hi):
        src = c_src[slot]
        g = max(src, 0)
        p = n_pot[g]
        fired = (src >= 0) & (n_act[g] != 0) & (p > F0)
        c_pot[slot] = p if fired else F0
        lst[n] = slot
        n += fired
    return n


@njit
def _add_full_weights(sw, st_, slot, n_in):
    """Binary and match sections: every synapse adds its full weight."""
    for k in range(sw.shape[1]):
        if st_[slot, k] == UNUSED_TARGET:
            break
        n_in[st_[slot, k]] += sw[slot, k]


@njit
def walk_request_classic(lst, n, c_kind, c_low, c_range, c_pot, sw, sb, st_, n_in):
    """Walks without learning: full synapses add their weight, the last its fraction."""
    syn = sw.shape[1]
    for j in range(n):
        slot = lst[j]
        if c_kind[slot] >= 2:
            _add_full_weights(sw, st_, slot, n_in)
            continue
        q = min(c_pot[slot] - c_low[slot], c_range[slot])
        for k in range(syn):
            t = st_[slot, k]
            if q <= CLASSIC_EPS or t == UNUSED_TARGET:
                break
            b = sb[slot, k]
            if q < b:
                n_in[t] += sw[slot, k] * ((F1 / b) * q)
                break
            n_in[t] += sw[slot, k]
            q -= b


@njit
def walk_request_default(lst, n, c_kind, c_low, c_pot, sw, sb, st_, n_in, thr):
    """Walks without learning: full synapses add their weight, the last its fraction."""
    for j in range(n):
        slot = lst[j]
        if c_kind[slot] >= 2:
            _add_full_weights(sw, st_, slot, n_in)
            continue
        walk_value(sw, sb, st_, slot, c_pot[slot] - c_low[slot], n_in, thr)


@njit
def walk_value(sw, sb, st_, slot, q, n_in, thr):
    """The request walk of one value section with the potential ``q`` above its low.

    Whether a synapse is fully covered with more than ``thr`` left is one test against
    :func:`_bar`, not two; the same additions in the same order, NaNs included, one
    branch fewer per synapse (docs/engine.md, Time per sample, twenty-first round).
    """
    above = np.nextafter(thr, np.float32(np.inf))
    for k in range(sw.shape[1]):
        t = st_[slot, k]
        if t == UNUSED_TARGET:
            break
        b = sb[slot, k]
        if not q < _bar(b, above):  # q > thr and q >= b (a NaN q walks on, as before)
            n_in[t] += sw[slot, k]
            q -= b
            continue
        if q > thr:  # the potential runs out inside this synapse
            n_in[t] += sw[slot, k] * (q / b)
        break


@njit(inline="always")
def _bar(b, above):
    """``max(b, above)`` as ``maxss`` computes it (``above`` where ``b`` is NaN), with
    ``above`` the next float32 after the walk's threshold, so that ``q >= above`` is ``q >
    thr``: for every ``q`` and ``b``, NaNs included, ``q >= _bar(b, above)`` is ``q > thr
    and not q < b`` and ``not q < _bar(b, above)`` is ``not (q <= thr or q < b)``."""
    return b if b > above else above


@njit
def walk_train_classic(lst, n, c_kind, c_low, c_range, c_pot, c_tol, c_split, sw, sb, st_, sc,
                       n_in, meta, r, i, nb_size, init):  # fmt: skip
    """Tolerance-window walks: create at the end, shrink the partly covered synapse, ask
    for a split when the potential outlasts the section."""
    syn = sw.shape[1]
    spb = c_pot.shape[0]
    for j in range(n):
        slot = lst[j]
        p = c_pot[slot]
        r = (r + i * spb + slot) & 0xFFFFFFFF
        if c_kind[slot] >= 2:
            r = walk_binary(sw, sb, st_, sc, slot, n_in, meta, r, nb_size, init, False)
            continue
        q = min(p - c_low[slot], c_range[slot])
        tol = c_tol[slot]
        hsum = F0
        for k in range(syn):
            if q <= CLASSIC_EPS:
                break
            if st_[slot, k] == UNUSED_TARGET:
                r = create_synapse(sw, sb, st_, sc, slot, meta, k, q, r, nb_size, init, False)
            b = sb[slot, k]
            if (HALF - tol) * b < q < (HALF + tol) * b:
                b = b / SHRINK_BORDER
                sb[slot, k] = b
                sw[slot, k] = sw[slot, k] / SHRINK_BORDER
                tol = tol / SHRINK_TOL
            if k < 64:
                hsum += b
            if q < b:
                n_in[st_[slot, k]] += sw[slot, k] * ((F1 / b) * q)
                q -= b
                break
            n_in[st_[slot, k]] += sw[slot, k]
            q -= b
        c_tol[slot] = tol
        if q > CLASSIC_EPS:  # section exhausted: ask for a split at the first 64 borders
            c_split[slot] = hsum
    return r


@njit
def walk_train_default(lst, n, c_src, c_kind, c_low, c_pot, c_next, c_stop, sw, sb, st_, sc,
                       sv, n_in, n_new, n_newoff, pending, meta, r, i, nb_size, thr, init,
                       split_in, split_hid, margin, pieces, halve, in_cap,
                       distinct):  # fmt: skip
    """Default walks: a section that runs out of positions asks for a chained section
    above it; the partly covered synapse is split (see :func:`split_room`) or, with
    ``halve``, halved; a section's first synapse is created as ``pieces`` synapses of
    equal borders. An input section splits only while it has fewer than ``in_cap``
    synapses (coarser input codes, fewer synapses walked)."""
    syn = sw.shape[1]
    spb = c_src.shape[0]
    two = np.float32(2.0)
    last = syn - 1
    above = np.nextafter(thr, np.float32(np.inf))  # see _bar
    for j in range(n):
        slot = lst[j]
        p = c_pot[slot]
        r = (r + i * spb + slot) & 0xFFFFFFFF
        if c_kind[slot] >= 2:
            r = walk_binary(sw, sb, st_, sc, slot, n_in, meta, r, nb_size, init, distinct)
            c_stop[slot] = syn
            continue
        split, cap = (split_in, in_cap - 1) if c_kind[slot] == 1 else (split_hid, last)
        q = p - c_low[slot]
        covered = F0  # borders spent, for a chained section's offset (not p - q, see below)
        k = 0
        while k < syn:
            t = st_[slot, k]
            if t == UNUSED_TARGET:
                if not q > thr:
                    break
                g = min(pieces, syn - k) if k == 0 else 1
                part = q / np.float32(g)
                for m in range(g - 1):
                    r = create_synapse(sw, sb, st_, sc, slot, meta, k + m, part, r, nb_size,
                                       init, distinct)  # fmt: skip
                r = create_synapse(sw, sb, st_, sc, slot, meta, k + g - 1,
                                   q - part * np.float32(g - 1), r, nb_size, init,
                                   distinct)  # fmt: skip
                t = st_[slot, k]
            b = sb[slot, k]
            if q >= _bar(b, above):  # covered, more than thr left (a NaN q stops, as before)
                n_in[t] += sw[slot, k]
                q -= b
                covered += b
                k += 1
                continue
            if not q > thr:
                break
            # the potential runs out inside this synapse
            if (
                split > 0
                and st_[slot, cap] == UNUSED_TARGET
                and (margin * b < q < (F1 - margin) * b)
            ):
                # split (see split_room): its two parts are compiled into the walk
                split_room(sw, sb, st_, sc, sv, slot, k)
                r = create_synapse(sw, sb, st_, sc, slot, meta, k + 1, b - q, r, nb_size, init,
                                   distinct)  # fmt: skip
                if split == 2:
                    share_weight(sw, st_, slot, k, q, b)
                sb[slot, k] = q
                b = q
            elif halve and b > two * q and k < last:  # an oversized border (> 2q)
                half = b / two
                sb[slot, k + 1] += half
                b = b - half
                sb[slot, k] = b
            n_in[t] += sw[slot, k] * (q / b)
            q -= b
            covered += b
            k += 1
            break
        c_stop[slot] = k  # the backward pass walks exactly these synapses
        if q > thr and c_next[slot] == 0:
            # the chain starts where this section ends; p - q would lose the borders in
            # float32 when p is huge (an outlier ×1e6 put chains inside the normal range)
            c_next[slot] = 1
            queue_section(n_new, n_newoff, pending, meta, c_src[slot], c_low[slot] + covered)
    return r


# The same walk compiled into the caller's loop (``P.inline_walks``): no call per block,
# so none of Numba's reference counts of its 17 array arguments (docs/engine.md, Time per
# sample, twenty-second round).
_walk_train_inline = njit(inline="always")(walk_train_default.py_func)


def _block_call(walk):
    """``walk`` of block ``cb``'s listed sections, with the block's views and the
    profile's settings as its arguments: one argument list for both training walks
    (Numba takes no ``*args`` in an inlined call), compiled into the caller's loop."""

    @njit(inline="always")
    def call(S, P, cb, nb, i, lst, n, n_in, r, thr, init, margin):
        return walk(lst, n, B(S.c_src[cb]), B(S.c_kind[cb]), B(S.c_low[cb]), B(S.c_pot[cb]),
                    B(S.c_next[cb]), B(S.c_stop[cb]), B(S.s_w[cb]), B(S.s_b[cb]), B(S.s_t[cb]),
                    B(S.s_cnt[cb]), B(S.s_v[cb]), n_in, B(S.n_new), B(S.n_newoff), B(S.pending),
                    B(S.meta), r, i,
                    S.nb_size[nb], thr, init, P.input_split, P.hidden_split, margin,
                    P.first_pieces, P.halve_borders, P.input_split_synapses,
                    P.distinct_targets)  # fmt: skip

    return call


_train_block = _block_call(walk_train_default)
_train_block_inline = _block_call(_walk_train_inline)


@njit(inline="always")
def split_room(sw, sb, st_, sc, sv, slot, k):
    """Split synapse ``k`` of a section where the potential ``q`` ran out inside it, first
    part: later synapses move up one position, so that a new synapse at ``k + 1`` (made
    by ``create_synapse`` with the border ``sb[slot, k] - q``) can take the rest of the
    border, and ``k`` keeps the border ``q``. The caller checked that the last position is
    free, and positions above the first free one are free too:
    synapses are created in order and the reduction compacts them.

    With ``input_split``/``hidden_split`` 2 (:func:`share_weight`) the new synapse has the
    same target and the weight is shared in proportion to the borders, so the section's
    function is unchanged and the two parts learn apart from now on; otherwise the new
    synapse gets a random target and weight, so the thermometer code gains a step where
    values actually fall.
    The parts are compiled into the walk (``inline="always"``): as calls, each copied its
    five array arguments onto the stack, a third of wine's pass with the creation
    (docs/engine.md, Time per sample, twenty-second round); compiled on their own they
    take no reference counts (eighteenth round).
    """
    end = k + 1  # the first free position: the ones above it stay free (as they were)
    while st_[slot, end] != UNUSED_TARGET:
        end += 1
    for m in range(end, k + 1, -1):
        sw[slot, m] = sw[slot, m - 1]
        sb[slot, m] = sb[slot, m - 1]
        st_[slot, m] = st_[slot, m - 1]
        sc[slot, m] = sc[slot, m - 1]
        sv[slot, m] = sv[slot, m - 1]
    sv[slot, k + 1] = sv[slot, k]


@njit(inline="always")
def share_weight(sw, st_, slot, k, q, b):
    """A split that keeps the function (see :func:`split_room`): the new synapse ``k + 1``
    takes the target of ``k`` and the share ``(b - q) / b`` of its weight, ``b`` the
    border of ``k`` before the split and ``q`` the part it keeps."""
    st_[slot, k + 1] = st_[slot, k]
    w = sw[slot, k]
    sw[slot, k + 1] = w * ((b - q) / b)
    sw[slot, k] = w * (q / b)


@njit
def walk_binary(sw, sb, st_, sc, slot, n_in, meta, r, nb_size, init, distinct):
    """Binary and match sections in training: all synapses are created on the first walk,
    and every one adds its full weight."""
    for k in range(sw.shape[1]):
        if st_[slot, k] == UNUSED_TARGET:
            r = create_synapse(sw, sb, st_, sc, slot, meta, k, F0, r, nb_size, init, distinct)
        n_in[st_[slot, k]] += sw[slot, k]
    return r

"""The backward pass: backpropagation from the last hexagon to the first.

The output error becomes the error terms (``n_delta``) of the output hexagon's neurons;
each hexagon then scales its neurons' terms by the slope of their activation and updates
the weights of every section walked in the forward pass: a synapse's weight steps by
``-lr * delta`` of its target, and the section's source neuron collects ``delta * w`` over
the synapses it reached. Input hexagons are skipped (their terms are never read).

The profiles differ in the output error, in how a section's reached synapses are found,
and in the learning rate (docs/engine.md, Profiles, and its sections on the learning rate
and the output slope floor); with ``hidden_rate_by_roots`` synapses into hidden neurons
learn at the rate divided by the input roots per neuron (docs/engine.md, The stream
profile). Activity counters for the reduction are only kept when the
reduction is on: a synapse whose weight sign agrees with its target's activity counts up
(docs/engine.md, Reduction); by default an output neuron is active above 0.5, its sigmoid's
middle (docs/engine.md, Inhibitory output synapses).
"""

from __future__ import annotations

import numpy as np

from hanami.core._jit import njit
from hanami.core.kernels.borrow import borrowed as B
from hanami.core.kernels.structure import F0, F1, PERSISTENT_COUNTER
from hanami.core.kernels.walks import HALF
from hanami.core.state import HX_INPUT, HX_OUTPUT, M_SAMPLES, OUTPUT_LINKS, UNUSED_TARGET

LOG2E = np.float32(1.4427)  # slope of log2(1 + p) is LOG2E * 2^-log2(1 + p)
VECTOR_STEPS = 16  # sections walked this far take their weight steps in vector code
OUTPUT_SLOPE_MIN = np.float32(0.05)
"""Default profile: the smallest sigmoid slope an output error is scaled by. An output that
sat near 0 or 1 for long (a class the stream never brought) otherwise has a slope of
~1e-3 and learns almost nothing when its class finally comes (Fahlman's flat spot;
docs/engine.md, The output slope floor, has the measurements)."""


@njit
def backward_classic(S, P):
    """Backpropagation of the classic profile, last hexagon first."""
    for h in range(S.hx_flags.shape[0] - 1, -1, -1):
        flags = S.hx_flags[h]
        if flags & HX_INPUT:
            continue
        if flags & HX_OUTPUT:
            output_error_classic(S, P, h)
        if S.hx_ncb[h] > 0:
            update_hexagon_classic(S, P, h)


@njit
def backward_default(S, P):
    """Backpropagation of the default profile, last hexagon first."""
    deltas = np.empty(S.s_w.shape[2], dtype=np.float32)  # scratch: a section's error terms
    for h in range(S.hx_flags.shape[0] - 1, -1, -1):
        flags = S.hx_flags[h]
        if flags & HX_INPUT:
            continue
        if flags & HX_OUTPUT:
            output_error_default(S, P, h)
        if S.hx_ncb[h] > 0:
            update_hexagon_default(S, P, h, deltas)


@njit
def update_hexagon_classic(S, P, h):
    """Neuron slopes, then the weight step of every section of hexagon ``h`` walked in the
    forward pass."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    lr = learning_rate(S, P)
    thr = np.float32(P.threshold)
    _hidden_slopes(S, h)
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] > 0:
            nb = S.cb_nb[cb]
            t_pot = S.n_pot[nb * npb : (nb + 1) * npb]
            t_delta = S.n_delta[nb * npb : (nb + 1) * npb]
            update_block_classic(S.c_list[cb], S.cb_nlist[cb], S.c_src[cb], S.c_kind[cb],
                                 S.c_low[cb], S.c_pot[cb], S.s_w[cb], S.s_b[cb], S.s_t[cb],
                                 S.s_cnt[cb], t_pot, t_delta, S.n_delta, lr, thr,
                                 P.reduction)  # fmt: skip


@njit
def update_hexagon_default(S, P, h, deltas):
    """Neuron slopes, then the weight step of every section of hexagon ``h`` walked in the
    forward pass."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    lr = learning_rate(S, P)
    if P.hidden_rate_by_roots and not S.hx_flags[h] & HX_OUTPUT:
        lr = lr / np.float32(P.input_roots)  # r roots: r times the synapses that move
    leak = np.float32(P.leak)
    active = HALF if S.hx_flags[h] & HX_OUTPUT else F0
    adaptive = np.float32(P.adaptive)
    if P.output_adaptive > 0.0 and S.hx_flags[h] & HX_OUTPUT:
        adaptive = np.float32(P.output_adaptive)
        lr = np.float32(P.output_rate)
    eps = np.float32(P.adaptive_eps)
    decay = F0  # a step size per synapse (wide inputs): counted in s_v, free without RMSProp
    steps_max = np.float32(P.synapse_steps_max)
    if P.synapse_decay > 0.0 and adaptive == F0:
        lr = np.float32(P.synapse_rate)
        decay = np.float32(P.synapse_decay)
    _hidden_slopes(S, h)
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] > 0:
            nb = S.cb_nb[cb]
            t_pot = B(S.n_pot[nb * npb : (nb + 1) * npb])
            t_delta = B(S.n_delta[nb * npb : (nb + 1) * npb])
            if leak > F0:
                leak_block(B(S.c_src[cb]), B(S.c_kind[cb]), B(S.c_pot[cb]), B(S.s_w[cb]),
                           B(S.s_t[cb]), t_delta, B(S.n_delta), leak, S.cb_hi[cb])  # fmt: skip
            update_block_default(B(S.c_list[cb]), S.cb_nlist[cb], B(S.c_src[cb]),
                                 B(S.c_kind[cb]), B(S.c_stop[cb]), B(S.s_w[cb]), B(S.s_t[cb]),
                                 B(S.s_cnt[cb]), B(S.s_v[cb]), t_pot, t_delta, B(S.n_delta), lr,
                                 P.reduction, adaptive, eps, P.mean_backprop, active, deltas,
                                 decay, steps_max)  # fmt: skip


@njit
def learning_rate(S, P):
    """``lr / (1 + samples * lr_decay)``, at least ``lr_min`` (constant for classic)."""
    return np.float32(max(P.lr / (1.0 + S.meta[M_SAMPLES] * P.lr_decay), P.lr_min))


@njit
def output_error_classic(S, P, h):
    """Output error through the sparse output layer into the output hexagon's neurons;
    the layer's weights learn on the way (rate ``P.lr_out``)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    lr_out = np.float32(P.lr_out)
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        for gid in range(base, base + npb):
            S.n_delta[gid] = F0
    for o in range(S.o_val.shape[0]):
        if S.o_hex[o] != h:
            continue
        out = S.o_val[o]
        g = (out - S.o_exp[o]) * out * (F1 - out)
        for j in range(OUTPUT_LINKS):
            gid = S.o_link[o, j]
            if gid >= 0:
                S.n_delta[gid] += g * S.o_w[o, j]
                S.o_w[o, j] -= lr_out * g * S.n_pot[gid]
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        for gid in range(base, base + npb):
            s = S.n_pot[gid]
            S.n_delta[gid] *= s * (F1 - s)


@njit
def output_error_default(S, P, h):
    """Output error of each output neuron, scaled by its sigmoid slope of at least
    :data:`OUTPUT_SLOPE_MIN` (or by none with ``P.cross_entropy``)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for o in range(S.o_val.shape[0]):
        if S.o_hex[o] != h:
            continue
        idx = S.o_idx[o]
        gid = S.hx_nb[h, idx // npb] * npb + idx % npb
        out = S.o_val[o]
        if P.cross_entropy and S.n_pot[gid] != F0:
            # cross-entropy on a sigmoid unit: the derivative cancels
            S.n_delta[gid] = out - S.o_exp[o]
        else:
            S.n_delta[gid] = (out - S.o_exp[o]) * max(out * (F1 - out), OUTPUT_SLOPE_MIN)


@njit
def _hidden_slopes(S, h):
    """Scale the error terms of a hidden hexagon's neurons by the slope of log2(1 + p) (at
    p = 0 for those that did not fire: only a leak gives them an error term); output
    hexagons are left alone (their slope is in the output error). A block's neurons past
    its ``nb_size`` are skipped: no synapse targets them, so their terms stay 0.

    Which neurons fired is a coin toss per neuron, so a branch on it mispredicts about
    half the time: a first loop scales the silent ones with a select and lists the ones
    that fired without a branch, a second takes the root's slope of the listed ones. The
    same operations on the same values, so bit for bit the same results, and 3 % less
    per training row on bananas (docs/engine.md, Time per sample, thirteenth round).
    """
    if S.hx_flags[h] & HX_OUTPUT:
        return
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    fired = np.empty(npb, dtype=np.int64)
    for i in range(S.hx_nnb[h]):
        nb = S.hx_nb[h, i]
        first, end = nb * npb, nb * npb + S.nb_size[nb]
        act, delta, pot = S.n_act[first:end], S.n_delta[first:end], S.n_pot[first:end]
        n = 0
        for j in range(act.shape[0]):
            fired[n] = j
            n += act[j] != 0
            delta[j] = delta[j] if act[j] else delta[j] * LOG2E
        for j in fired[:n]:
            delta[j] *= LOG2E * np.float32(np.exp2(-np.float64(pot[j])))


@njit
def update_block_classic(lst, n, c_src, c_kind, c_low, c_pot, sw, sb, st_, sc, t_pot, t_delta,
                         n_delta, lr, thr, counters):  # fmt: skip
    """Weight step of every walked synapse of one block; the source gets its delta share.

    The synapses reached are found again by spending the potential along the borders, as
    the forward walk did. Sources live in other hexagons, so adding the share at once
    equals the original's scatter after all blocks; input neurons' terms are never read,
    so they are skipped.
    """
    syn = sw.shape[1]
    for j in range(n):
        slot = lst[j]
        q = c_pot[slot] - c_low[slot]
        if q <= thr:
            continue
        acc = F0
        for k in range(syn):
            t = st_[slot, k]
            if q <= thr or t == UNUSED_TARGET:
                break
            w = sw[slot, k]
            if counters and sc[slot, k] < PERSISTENT_COUNTER and (t_pot[t] > F0) == (w > F0):
                sc[slot, k] += 1
            d = t_delta[t]
            acc += d * w
            sw[slot, k] = w - lr * d
            q -= sb[slot, k]
        if c_kind[slot] == 0:
            n_delta[c_src[slot]] += acc


@njit(inline="always")
def update_block_default(lst, n, c_src, c_kind, c_stop, sw, st_, sc, sv, t_pot, t_delta,
                         n_delta, lr, counters, adaptive, eps, mean, active, deltas,
                         decay, steps_max):  # fmt: skip
    """Weight step of every walked synapse of one block; the source gets its delta share.

    The forward walk recorded how far each section went (``c_stop``), so the step needs no
    potential bookkeeping. With ``adaptive`` the step of each synapse is divided by the
    root of its running mean squared error term (RMSProp): synapses that rarely see an
    error (a rare class, a seldom reached value) take full steps when they do. With
    ``mean`` the source gets the mean of its share over the synapses walked, so a long
    section does not weigh more than a short one. With ``decay`` (plain steps only) a
    synapse steps by ``lr / (1 + n * decay)`` after ``n`` backward passes that walked it,
    counted in ``sv`` up to ``steps_max``, a floor on the step (docs/engine.md, A step
    size per synapse for wide inputs). Compiled into :func:`update_hexagon_default`'s loop,
    which saves the reference counts of its 12 arrays per block and row (docs/engine.md,
    Time per sample, nineteenth round).
    """
    for j in range(n):
        slot = lst[j]
        acc = F0
        stop = c_stop[slot]
        # a plain step is cheap in place, a root or a division per synapse is not
        apart = (adaptive > F0 or decay > F0) and stop >= VECTOR_STEPS
        passes = c_kind[slot] == 0  # only hidden sources take their share back
        for k in range(stop):
            t = st_[slot, k]
            w = sw[slot, k]
            if counters and sc[slot, k] < PERSISTENT_COUNTER and (t_pot[t] > active) == (w > F0):
                sc[slot, k] += 1
            d = t_delta[t]
            if passes:
                acc += d * w
            if apart:
                deltas[k] = d
            elif adaptive > F0:
                sw[slot, k], sv[slot, k] = _rms_step(w, sv[slot, k], d, lr, adaptive, eps)
            elif decay > F0:
                sw[slot, k], sv[slot, k] = _counted_step(w, sv[slot, k], d, lr, decay, steps_max)
            else:
                sw[slot, k] = w - lr * d
        if apart:
            # a long section takes its steps after the sum (which needs the weights before
            # them), in a loop over contiguous error terms that compiles to vector code:
            # the same operations bit for bit (docs/engine.md, Time per sample)
            if adaptive > F0:
                _rms_steps(sw, sv, slot, deltas, stop, lr, adaptive, eps)
            else:
                _counted_steps(sw, sv, slot, deltas, stop, lr, decay, steps_max)
        if mean and stop > 0:
            acc = acc / np.float32(stop)
        if passes:
            n_delta[c_src[slot]] += acc


@njit
def _rms_step(w, v, d, lr, adaptive, eps):
    """One synapse's RMSProp step for error term ``d`` (see :func:`update_block_default`);
    returns the new weight and running squared step."""
    v = adaptive * v + (F1 - adaptive) * d * d
    return w - lr * d / (np.float32(np.sqrt(v)) + eps), v


@njit
def _rms_steps(w, v, slot, d, stop, lr, adaptive, eps):
    """:func:`_rms_step` for synapses ``0..stop`` of section ``slot``, error terms in ``d``."""
    for k in range(stop):
        w[slot, k], v[slot, k] = _rms_step(w[slot, k], v[slot, k], d[k], lr, adaptive, eps)


@njit
def _counted_step(w, n, d, lr, decay, steps_max):
    """One synapse's step ``lr / (1 + n * decay)`` after ``n`` counted steps (see
    :func:`update_block_default`); returns the new weight and count."""
    return w - lr * d / (F1 + decay * n), min(n + F1, steps_max)


@njit
def _counted_steps(w, n, slot, d, stop, lr, decay, steps_max):
    """:func:`_counted_step` for synapses ``0..stop`` of section ``slot``, error terms in
    ``d``."""
    for k in range(stop):
        w[slot, k], n[slot, k] = _counted_step(w[slot, k], n[slot, k], d[k], lr, decay,
                                               steps_max)  # fmt: skip


@njit
def leak_block(c_src, c_kind, c_pot, sw, st_, t_delta, n_delta, leak, hi):
    """Silent hidden sources of one block get ``leak`` times the error their first synapse
    would have passed back, so a neuron whose input went negative can learn its way back
    (it would otherwise never fire, and never learn, again)."""
    for slot in range(hi):
        src = c_src[slot]
        if src < 0 or c_kind[slot] != 0 or c_pot[slot] > F0:
            continue
        t = st_[slot, 0]
        if t != UNUSED_TARGET:
            n_delta[src] += leak * t_delta[t] * sw[slot, 0]

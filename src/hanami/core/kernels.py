"""Numba kernels: forward pass, growth, output layer, backpropagation and reduction.

The rules are those of ``core.md`` sections 3-6. Two profiles share the skeleton:

* ``CLASSIC`` (OpenHanami, Oct 2024): tolerance-window growth, section splits in the last
  hexagon, an output hexagon of sigmoid neurons read by a sparse 7-link output layer,
  learning rate 0.1, walk threshold 1e-5.
* ``DEFAULT`` (built on the Hanami March 2024 rules): "halve the border" growth, chained
  sections per neuron (up to 8), output neurons that are the outputs, walk threshold 0.01,
  learning rate from the settings.

All state is float32 as in the original, because thresholds such as ``1e-5`` and the
tolerance window depend on it. Kernels never allocate: when a structure change finds no
spare capacity it is skipped and ``meta[M_CAPACITY_HIT]`` is set; the Python side keeps
enough reserve that this does not happen in practice (see ``Cluster._ensure_capacity``).
"""

from __future__ import annotations

import math

import numpy as np

from hanami.core._jit import njit
from hanami.core.state import (
    HX_BINARY,
    HX_INPUT,
    HX_MATCH,
    HX_OUTPUT,
    M_CAPACITY_HIT,
    M_CB,
    M_CREATED,
    M_NB,
    M_PENDING,
    M_REMOVED,
    M_SAMPLES,
    M_SECTIONS,
    M_SPLITS,
    OUTPUT_LINKS,
    TARGET_LIST_LEN,
    UNUSED_TARGET,
    StateRef,
)

CLASSIC = 0
DEFAULT = 1

# parameter slots (float64 array ``P``)
P_PROFILE = 0
P_COOLDOWN = 1
P_REFRACTORY = 2
P_LR = 3
P_LR_OUT = 4
P_REDUCTION = 5
P_REDUCTION_INTERVAL = 6
P_THRESHOLD = 7
P_RESERVE_BLOCKS = 8
P_MAX_SECTIONS = 9
P_CROSS_ENTROPY = 10
P_LR_DECAY = 11
P_LR_MIN = 12
P_INIT_WEIGHT = 13
P_LEN = 14

RAND_MAX = 2147483647.0
F0 = np.float32(0.0)
F1 = np.float32(1.0)
OUTPUT_SLOPE_MIN = np.float32(0.05)
"""Default profile: the smallest sigmoid slope an output error is scaled by. An output that
sat near 0 or 1 for long (a class the stream never brought) otherwise has a slope of
~1e-3 and learns almost nothing when its class finally comes (Fahlman's flat spot;
docs/engine.md has the measurements)."""
HALF = np.float32(0.5)
SHRINK_BORDER = np.float32(1.5)
SHRINK_TOL = np.float32(1.2)
LOG2E = np.float32(1.4427)
FLT_MAX = np.float32(np.finfo(np.float32).max)
TOL0 = np.float32(0.49)
FRESH_COUNTER = 5
PERSISTENT_COUNTER = 10


# --------------------------------------------------------------------------- state


@njit
def as_ref(S):
    """The :class:`~hanami.core.state.StateRef` over the buffers of ``S`` (a ``State``)."""
    return StateRef(
        S.hx_flags, S.hx_io, S.hx_nnb, S.hx_nb, S.hx_ncb, S.hx_cb, S.hx_free, S.hx_targets,
        S.nb_hex, S.nb_size, S.n_in, S.n_pot, S.n_delta, S.n_refr, S.n_act, S.n_use, S.n_new,
        S.n_newoff, S.cb_hex, S.cb_nb, S.cb_used, S.cb_hi, S.cb_nlist, S.c_src, S.c_list,
        S.c_kind, S.c_pos, S.c_next, S.c_stop, S.c_low, S.c_range, S.c_tol, S.c_split, S.c_pot,
        S.s_w, S.s_b, S.s_t, S.s_cnt, S.in_hex, S.in_off, S.in_n, S.o_hex, S.o_idx, S.o_val,
        S.o_exp, S.o_link, S.o_w, S.pending, S.meta, S.rng, S.stats
    )


# --------------------------------------------------------------------------- random numbers


@njit
def pcg(x):
    """32-bit PCG-RXS-M-XS hash, iterated as a chain for per-synapse draws (core.md 4.5)."""
    state = (x * 747796405 + 2891336453) & 0xFFFFFFFF
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & 0xFFFFFFFF
    return ((word >> 22) ^ word) & 0xFFFFFFFF


@njit
def rand(rng):
    """A ``rand()``-like draw in [0, 2^31): 64-bit LCG, upper bits (seeded per cluster)."""
    rng[0] = rng[0] * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
    return np.int64(rng[0] >> np.uint64(33))


@njit
def _sigmoid(x):
    return np.float32(1.0 / (1.0 + math.exp(-np.float64(x))))


# --------------------------------------------------------------------------- structure changes


@njit
def _add_block(S, P, h):
    """Append one connection block (and, except for default-profile outputs, a neuron block)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    ncb = S.hx_ncb[h]
    if ncb >= S.hx_cb.shape[1] or S.meta[M_CB] >= S.cb_hex.shape[0]:
        S.meta[M_CAPACITY_HIT] = 1
        return False
    default_output = P[P_PROFILE] == DEFAULT and (S.hx_flags[h] & HX_OUTPUT) != 0
    if default_output:
        if S.hx_nnb[h] == 0:
            return False
        nb = S.hx_nb[h, ncb % S.hx_nnb[h]]
    else:
        if S.meta[M_NB] >= S.nb_hex.shape[0]:
            S.meta[M_CAPACITY_HIT] = 1
            return False
        nb = S.meta[M_NB]
        S.meta[M_NB] += 1
        S.nb_hex[nb] = h
        S.nb_size[nb] = npb
        S.hx_nb[h, S.hx_nnb[h]] = nb
        S.hx_nnb[h] += 1
    cb = S.meta[M_CB]
    S.meta[M_CB] += 1
    S.cb_hex[cb] = h
    S.cb_nb[cb] = nb
    S.cb_used[cb] = 0
    S.hx_cb[h, ncb] = cb
    S.hx_ncb[h] += 1
    S.hx_free[h] += spb
    return True


@njit
def add_neuron_block(S, h, size):
    """Append a neuron block of ``size`` used neurons to hexagon ``h`` (inputs, outputs)."""
    if S.meta[M_NB] >= S.nb_hex.shape[0] or S.hx_nnb[h] >= S.hx_nb.shape[1]:
        S.meta[M_CAPACITY_HIT] = 1
        return -1
    nb = S.meta[M_NB]
    S.meta[M_NB] += 1
    S.nb_hex[nb] = h
    S.nb_size[nb] = size
    S.hx_nb[h, S.hx_nnb[h]] = nb
    S.hx_nnb[h] += 1
    return nb


@njit
def _find_free_connection(S, P, t, allow_resize):
    """Lowest free connection of the first block with room, scanning from a random block."""
    spb = S.c_src.shape[1]
    for _attempt in range(2):
        ncb = S.hx_ncb[t]
        if ncb > 0:
            start = rand(S.rng) % ncb
            for i in range(ncb):
                cb = S.hx_cb[t, (start + i) % ncb]
                if S.cb_used[cb] < spb:
                    for slot in range(spb):
                        if S.c_src[cb, slot] < 0:
                            return cb, slot
        if not allow_resize or not _add_block(S, P, t):
            return -1, -1
    return -1, -1


@njit
def _claim_connection(S, cb, slot, src, kind, low, rng_):
    """Initialise a free connection slot for source neuron ``src``."""
    S.c_src[cb, slot] = src
    S.c_kind[cb, slot] = kind
    S.c_pos[cb, slot] = 0
    S.c_next[cb, slot] = 0
    S.c_low[cb, slot] = low
    S.c_range[cb, slot] = rng_
    S.c_tol[cb, slot] = TOL0
    S.c_split[cb, slot] = F0
    S.c_pot[cb, slot] = F0
    S.cb_used[cb] += 1
    S.cb_hi[cb] = max(S.cb_hi[cb], slot + 1)
    S.hx_free[S.cb_hex[cb]] -= 1
    S.meta[M_SECTIONS] += 1


@njit
def _source_kind(S, h):
    flags = S.hx_flags[h]
    if flags & HX_MATCH:
        return 3
    if flags & HX_BINARY:
        return 2
    if flags & HX_INPUT:
        return 1
    return 0


@njit
def _create_section(S, P, gid, low):
    """Give neuron ``gid`` a new section in one of its hexagon's target hexagons (4.3)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    h = S.nb_hex[gid // npb]
    t = S.hx_targets[h, rand(S.rng) % TARGET_LIST_LEN]
    if t < 0:
        return False
    classic = P[P_PROFILE] == CLASSIC
    mask = S.n_use[gid]
    pos = 0
    if not classic:
        while pos < P[P_MAX_SECTIONS] and (mask >> pos) & 1:
            pos += 1
        if pos >= P[P_MAX_SECTIONS]:
            return False
    if classic and S.hx_free[t] < spb // 2:
        _add_block(S, P, t)
    cb, slot = _find_free_connection(S, P, t, not classic)
    if cb < 0:
        return False
    _claim_connection(S, cb, slot, gid, _source_kind(S, h), low, FLT_MAX)
    S.c_pos[cb, slot] = pos
    if classic:
        S.n_use[gid] = 1
    else:
        S.n_use[gid] = mask | (1 << pos)
        if low > F0:
            S.meta[M_SPLITS] += 1
    return True


@njit
def _create_synapse(sw, sb, st_, sc, slot, meta, k, q, r, nb_size, init):
    """New synapse at position ``k`` of section ``slot`` consuming ``q`` (4.1).

    Returns the advanced hash state.
    """
    sb[slot, k] = q
    sc[slot, k] = FRESH_COUNTER
    r = pcg(r)
    st_[slot, k] = r % nb_size
    r = pcg(r)
    w = np.float32((r / RAND_MAX) * init)  # |w| uniform in [0, 2 * init]
    r = pcg(r)
    if r % 1000 < 500:
        w = -w
    sw[slot, k] = w
    meta[M_CREATED] += 1
    return r


# --------------------------------------------------------------------------- forward
#
# The section walks run one connection block per call, with only the arrays they touch as
# arguments: a small function keeps the hot loop in registers, and one call per block (not
# per section) keeps the cost of passing arrays negligible.


@njit
def _walk_block(S, P, h, i, train):
    """Walk every active section of the ``i``-th connection block of hexagon ``h``."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    cb = S.hx_cb[h, i]
    nb = S.cb_nb[cb]
    classic = P[P_PROFILE] == CLASSIC
    r = rand(S.rng) if train else 0  # requests leave the random state alone
    init = P[P_INIT_WEIGHT]
    lst = S.c_list[cb]
    n = _active_slots(S.c_src[cb], S.n_pot, S.n_act, S.c_pot[cb], lst, S.cb_hi[cb])
    S.cb_nlist[cb] = n
    n_in = S.n_in[nb * npb : (nb + 1) * npb]
    if not train:
        _walk_request(lst, n, S.c_kind[cb], S.c_low[cb], S.c_range[cb], S.c_pot[cb], S.s_w[cb],
                      S.s_b[cb], S.s_t[cb], n_in, classic, np.float32(P[P_THRESHOLD]))  # fmt: skip
    elif classic:
        _walk_train_classic(lst, n, S.c_kind[cb], S.c_low[cb], S.c_range[cb], S.c_pot[cb],
                            S.c_tol[cb], S.c_split[cb], S.s_w[cb], S.s_b[cb], S.s_t[cb],
                            S.s_cnt[cb], n_in, S.meta, r, i, S.nb_size[nb], init)  # fmt: skip
    else:
        _walk_train_default(lst, n, S.c_src[cb], S.c_kind[cb], S.c_low[cb], S.c_pot[cb],
                            S.c_next[cb], S.c_stop[cb], S.s_w[cb], S.s_b[cb], S.s_t[cb],
                            S.s_cnt[cb], n_in, S.n_new, S.n_newoff, S.pending, S.meta, r, i,
                            S.nb_size[nb], np.float32(P[P_THRESHOLD]), init)  # fmt: skip


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
def _walk_request(lst, n, c_kind, c_low, c_range, c_pot, sw, sb, st_, n_in, classic, thr):
    """Walks without learning: full synapses add their weight, the last its fraction."""
    syn = sw.shape[1]
    for j in range(n):
        slot = lst[j]
        p = c_pot[slot]
        if c_kind[slot] >= 2:
            for k in range(syn):
                if st_[slot, k] == UNUSED_TARGET:
                    break
                n_in[st_[slot, k]] += sw[slot, k]
            continue
        q = p - c_low[slot]
        if classic:
            q = min(q, c_range[slot])
            thr = np.float32(1e-5)
        for k in range(syn):
            t = st_[slot, k]
            if q <= thr or t == UNUSED_TARGET:
                break
            b = sb[slot, k]
            if q < b:
                n_in[t] += sw[slot, k] * ((F1 / b) * q if classic else q / b)
                break
            n_in[t] += sw[slot, k]
            q -= b


@njit
def _walk_train_classic(lst, n, c_kind, c_low, c_range, c_pot, c_tol, c_split, sw, sb, st_, sc,
                        n_in, meta, r, i, nb_size, init):  # fmt: skip
    """Tolerance-rule walks (3.3, 4.2): create at the end, shrink the partial synapse."""
    syn = sw.shape[1]
    spb = c_pot.shape[0]
    eps = np.float32(1e-5)
    for j in range(n):
        slot = lst[j]
        p = c_pot[slot]
        r = (r + i * spb + slot) & 0xFFFFFFFF
        if c_kind[slot] >= 2:
            r = _walk_binary(sw, sb, st_, sc, slot, n_in, meta, r, nb_size, init)
            continue
        q = min(p - c_low[slot], c_range[slot])
        tol = c_tol[slot]
        hsum = F0
        for k in range(syn):
            if q <= eps:
                break
            if st_[slot, k] == UNUSED_TARGET:
                r = _create_synapse(sw, sb, st_, sc, slot, meta, k, q, r, nb_size, init)
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
        if q > eps:  # section exhausted: ask for a split (4.4)
            c_split[slot] = hsum
    return r


@njit
def _walk_train_default(lst, n, c_src, c_kind, c_low, c_pot, c_next, c_stop, sw, sb, st_, sc,
                        n_in, n_new, n_newoff, pending, meta, r, i, nb_size, thr,
                        init):  # fmt: skip
    """Halve-rule walks: an oversized border gives half to the next position; a section
    that runs out of positions asks for a chained section above it."""
    syn = sw.shape[1]
    spb = c_src.shape[0]
    two = np.float32(2.0)
    for j in range(n):
        slot = lst[j]
        p = c_pot[slot]
        r = (r + i * spb + slot) & 0xFFFFFFFF
        if c_kind[slot] >= 2:
            r = _walk_binary(sw, sb, st_, sc, slot, n_in, meta, r, nb_size, init)
            c_stop[slot] = syn
            continue
        q = p - c_low[slot]
        last = syn - 1
        k = 0
        while k < syn and q > thr:
            if st_[slot, k] == UNUSED_TARGET:
                r = _create_synapse(sw, sb, st_, sc, slot, meta, k, q, r, nb_size, init)
            b = sb[slot, k]
            if q < b:  # the potential runs out here: an oversized border (> 2q) can only be
                if b > two * q and k < last:  # the partly covered one
                    half = b / two
                    sb[slot, k + 1] += half
                    b = b - half
                    sb[slot, k] = b
                n_in[st_[slot, k]] += sw[slot, k] * (q / b)
                q -= b
                k += 1
                break
            n_in[st_[slot, k]] += sw[slot, k]
            q -= b
            k += 1
        c_stop[slot] = k  # the backward pass walks exactly these synapses
        if q > thr and c_next[slot] == 0:
            c_next[slot] = 1
            _queue_section(n_new, n_newoff, pending, meta, c_src[slot], p - q)
    return r


@njit
def _walk_binary(sw, sb, st_, sc, slot, n_in, meta, r, nb_size, init):
    """Binary/match sections: every synapse adds its full weight (3.4); all created at once."""
    for k in range(sw.shape[1]):
        if st_[slot, k] == UNUSED_TARGET:
            r = _create_synapse(sw, sb, st_, sc, slot, meta, k, F0, r, nb_size, init)
        n_in[st_[slot, k]] += sw[slot, k]
    return r


@njit
def _process_sections(S, P, h, train):
    """All sections of hexagon ``h`` add their synaptic input to their target neurons.

    A section spends its source potential ``q`` synapse by synapse: each synapse consumes
    its ``border``; a fully covered synapse adds its whole weight, the one where ``q`` runs
    out adds the covered fraction (a learned thermometer code of the source value).
    """
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] > 0:
            _walk_block(S, P, h, i, train)
        else:
            S.cb_nlist[cb] = 0


@njit
def _queue_section(n_new, n_newoff, pending, meta, gid, offset):
    """Queue neuron ``gid`` for a new section at ``offset`` after the forward pass."""
    if n_new[gid]:
        n_newoff[gid] = max(n_newoff[gid], offset)
        return
    n_new[gid] = 1
    n_newoff[gid] = offset
    n = meta[M_PENDING]
    if n < pending.shape[0]:
        pending[n] = gid
        meta[M_PENDING] = n + 1


@njit
def _mark_new(S, gid, offset):
    _queue_section(S.n_new, S.n_newoff, S.pending, S.meta, gid, offset)


@njit
def _update_neurons(S, P, h, train):
    """Spiking neuron update of an internal hexagon (3.5): cooldown, refractory time, log2."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    cooldown = np.float32(P[P_COOLDOWN])
    refractory = np.uint8(P[P_REFRACTORY])
    classic = P[P_PROFILE] == CLASSIC
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        for gid in range(base, base + npb):
            p = S.n_pot[gid]
            if p != F0:
                p = p / cooldown
            rho = S.n_refr[gid] >> 1
            if rho == 0:
                p = p + S.n_in[gid]
                rho = refractory
            S.n_refr[gid] = rho
            active = p > F0
            if not active:
                p = F0
            S.n_in[gid] = F0
            S.n_pot[gid] = np.float32(math.log2(np.float64(p) + 1.0)) if active else F0
            S.n_act[gid] = active
            if train:
                S.n_delta[gid] = F0
                if active and S.n_use[gid] == 0:
                    if classic:
                        _create_section(S, P, gid, F0)
                    else:
                        _mark_new(S, gid, F0)


@njit
def _load_inputs(S, h, x, train, P):
    """Raw input values become the potentials of the input neurons (3.2)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    k = S.hx_io[h]
    n = S.in_n[k]
    off = S.in_off[k]
    n_pot, n_act, n_use = S.n_pot, S.n_act, S.n_use
    for blk in range(S.hx_nnb[h]):
        first = blk * npb
        if first >= n:
            break
        base = S.hx_nb[h, blk] * npb
        for j in range(min(npb, n - first)):
            v = np.float32(x[off + first + j])
            gid = base + j
            n_pot[gid] = v
            active = v > F0
            n_act[gid] = active
            if train and active and n_use[gid] == 0:
                _create_section(S, P, gid, F0)


@njit
def _outputs_classic(S, h, train):
    """Sigmoid output hexagon and the sparse, randomly wired output layer (3.6)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        for gid in range(base, base + npb):
            S.n_pot[gid] = _sigmoid(S.n_in[gid])
            S.n_in[gid] = F0
    r = rand(S.rng) if train else 0
    nnb = S.hx_nnb[h]
    for o in range(S.o_val.shape[0]):
        if S.o_hex[o] != h:
            continue
        z = F0
        for j in range(OUTPUT_LINKS):
            if train and nnb > 0:
                r = pcg(r)
                if S.o_link[o, j] < 0 and S.o_exp[o] > F0 and r % 50 == 0:
                    r = pcg(r)
                    b = r % nnb
                    r = pcg(r)
                    gid = S.hx_nb[h, b] * npb + r % npb
                    s = S.n_pot[gid]
                    if s != HALF:
                        S.o_link[o, j] = gid
                        r = pcg(r)
                        w = np.float32(r / RAND_MAX)
                        S.o_w[o, j] = -w if s < HALF else w
            link = S.o_link[o, j]
            if link >= 0:
                z += S.n_pot[link] * S.o_w[o, j]
        S.o_val[o] = _sigmoid(z) if z != F0 else F0


@njit
def _outputs_default(S, h):
    """Output neurons are the outputs: sigmoid of their input, 0 when they got none."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for o in range(S.o_val.shape[0]):
        if S.o_hex[o] != h:
            continue
        idx = S.o_idx[o]
        gid = S.hx_nb[h, idx // npb] * npb + idx % npb
        v = S.n_in[gid]
        out = _sigmoid(v) if v != F0 else F0
        S.n_pot[gid] = out
        S.n_in[gid] = F0
        S.o_val[o] = out


@njit
def forward(S, P, x, train):
    """One forward pass over all hexagons in template order (3.1)."""
    classic = P[P_PROFILE] == CLASSIC
    for h in range(S.hx_flags.shape[0]):
        flags = S.hx_flags[h]
        if flags & HX_INPUT:
            _load_inputs(S, h, x, train, P)
            continue
        if S.hx_ncb[h] > 0:
            _process_sections(S, P, h, train)
        if flags & HX_OUTPUT:
            if classic:
                _outputs_classic(S, h, train)
            else:
                _outputs_default(S, h)
        else:
            _update_neurons(S, P, h, train)


# --------------------------------------------------------------------------- growth after a pass


@njit
def _split_section(S, P, cb, slot):
    """Move the potential above ``splitValue`` of a full section into a new one (4.4)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    split = S.c_split[cb, slot]
    src = S.c_src[cb, slot]
    h = S.nb_hex[src // npb]
    if S.hx_flags[h] & HX_OUTPUT:
        return
    t = S.hx_targets[h, rand(S.rng) % TARGET_LIST_LEN]
    if t < 0:
        return
    ncb, nslot = _find_free_connection(S, P, t, False)
    if ncb < 0:
        return
    low = S.c_low[cb, slot] + split
    _claim_connection(S, ncb, nslot, src, S.c_kind[cb, slot], low, S.c_range[cb, slot] - split)
    S.c_range[cb, slot] = split
    S.meta[M_SPLITS] += 1


@njit
def update_cluster_classic(S, P):
    """Splits requested in the last hexagon, first NPB slots of each block only (4.4 quirk)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    h = S.hx_flags.shape[0] - 1
    i = 0
    while i < S.hx_ncb[h]:
        cb = S.hx_cb[h, i]
        for slot in range(min(npb, spb)):
            if S.c_split[cb, slot] > F0:
                if S.c_src[cb, slot] >= 0:
                    _split_section(S, P, cb, slot)
                S.c_split[cb, slot] = F0
        if S.hx_free[h] < spb // 2:
            _add_block(S, P, h)
        i += 1


@njit
def create_pending_sections(S, P):
    """Sections requested during the forward pass (default profile), in request order."""
    n = S.meta[M_PENDING]
    for i in range(n):
        gid = S.pending[i]
        S.n_new[gid] = 0
        _create_section(S, P, gid, S.n_newoff[gid])
        S.n_newoff[gid] = F0
    S.meta[M_PENDING] = 0


# --------------------------------------------------------------------------- backward


@njit
def _backprop_outputs(S, P, h, classic):
    """Output error into the deltas of the output hexagon's neurons (5.1)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    if not classic:
        for o in range(S.o_val.shape[0]):
            if S.o_hex[o] != h:
                continue
            idx = S.o_idx[o]
            gid = S.hx_nb[h, idx // npb] * npb + idx % npb
            out = S.o_val[o]
            if P[P_CROSS_ENTROPY] != 0 and S.n_pot[gid] != F0:
                # cross-entropy on a sigmoid unit: the derivative cancels
                S.n_delta[gid] = out - S.o_exp[o]
            else:
                S.n_delta[gid] = (out - S.o_exp[o]) * max(out * (F1 - out), OUTPUT_SLOPE_MIN)
        return
    lr_out = np.float32(P[P_LR_OUT])
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
def _backprop_hexagon(S, P, h):
    """Neuron derivatives, then weight updates of every active section (5.2)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    lr = np.float32(max(P[P_LR] / (1.0 + S.meta[M_SAMPLES] * P[P_LR_DECAY]), P[P_LR_MIN]))
    thr = np.float32(P[P_THRESHOLD])
    classic = P[P_PROFILE] == CLASSIC
    counters = P[P_REDUCTION] != 0  # activity counters only matter to the reduction
    if not (S.hx_flags[h] & HX_OUTPUT):
        for i in range(S.hx_nnb[h]):
            base = S.hx_nb[h, i] * npb
            for gid in range(base, base + npb):
                if S.n_act[gid]:
                    S.n_delta[gid] *= LOG2E * np.float32(np.exp2(-np.float64(S.n_pot[gid])))
    for i in range(S.hx_ncb[h]):
        cb = S.hx_cb[h, i]
        if S.cb_used[cb] > 0:
            nb = S.cb_nb[cb]
            t_pot = S.n_pot[nb * npb : (nb + 1) * npb]
            t_delta = S.n_delta[nb * npb : (nb + 1) * npb]
            if classic:
                _backprop_block(S.c_list[cb], S.cb_nlist[cb], S.c_src[cb], S.c_kind[cb],
                                S.c_low[cb], S.c_pot[cb], S.s_w[cb],
                                S.s_b[cb], S.s_t[cb], S.s_cnt[cb], t_pot, t_delta, S.n_delta, lr,
                                thr, counters)  # fmt: skip
            else:
                _backprop_block_walked(S.c_list[cb], S.cb_nlist[cb], S.c_src[cb], S.c_kind[cb],
                                       S.c_stop[cb],
                                       S.s_w[cb], S.s_t[cb], S.s_cnt[cb], t_pot, t_delta,
                                       S.n_delta, lr, counters)  # fmt: skip


@njit
def _backprop_block(lst, n, c_src, c_kind, c_low, c_pot, sw, sb, st_, sc, t_pot, t_delta,
                    n_delta, lr, thr, counters):  # fmt: skip
    """Weight step of every walked synapse of one block; the source gets its delta share.

    Sources live in other hexagons, so adding the share at once equals the original's
    scatter after all blocks; input neurons' deltas are never read, so they are skipped.
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


@njit
def _backprop_block_walked(lst, n, c_src, c_kind, c_stop, sw, st_, sc, t_pot, t_delta,
                           n_delta, lr, counters):  # fmt: skip
    """Default profile: the forward pass recorded how far each section walked, so the
    weight step needs no potential bookkeeping."""
    for j in range(n):
        slot = lst[j]
        acc = F0
        for k in range(c_stop[slot]):
            t = st_[slot, k]
            w = sw[slot, k]
            if counters and sc[slot, k] < PERSISTENT_COUNTER and (t_pot[t] > F0) == (w > F0):
                sc[slot, k] += 1
            d = t_delta[t]
            acc += d * w
            sw[slot, k] = w - lr * d
        if c_kind[slot] == 0:
            n_delta[c_src[slot]] += acc


@njit
def backward(S, P):
    """Backpropagation from the last hexagon to the first, skipping input hexagons (5)."""
    classic = P[P_PROFILE] == CLASSIC
    for h in range(S.hx_flags.shape[0] - 1, -1, -1):
        flags = S.hx_flags[h]
        if flags & HX_INPUT:
            continue
        if flags & HX_OUTPUT:
            _backprop_outputs(S, P, h, classic)
        if S.hx_ncb[h] > 0:
            _backprop_hexagon(S, P, h)


# --------------------------------------------------------------------------- reduction


@njit
def reduce(S, P):
    """Age non-persistent synapses; remove those whose counter reaches 0 (core.md 6).

    Removal compacts the section (later synapses move one position down, keeping their
    order), and a section left without synapses frees its connection, so the source neuron
    gets a new section the next time it needs one.
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    syn = S.s_w.shape[2]
    classic = P[P_PROFILE] == CLASSIC
    for cb in range(S.meta[M_CB]):
        if S.cb_used[cb] == 0:
            continue
        for slot in range(spb):
            src = S.c_src[cb, slot]
            if src < 0:
                continue
            n = 0
            while n < syn and S.s_t[cb, slot, n] != UNUSED_TARGET:
                n += 1
            had = n
            k = 0
            while k < n:
                c = S.s_cnt[cb, slot, k]
                if c < PERSISTENT_COUNTER:
                    c -= 1
                    S.s_cnt[cb, slot, k] = c
                    if c == 0:
                        for j in range(k, n - 1):
                            S.s_w[cb, slot, j] = S.s_w[cb, slot, j + 1]
                            S.s_b[cb, slot, j] = S.s_b[cb, slot, j + 1]
                            S.s_t[cb, slot, j] = S.s_t[cb, slot, j + 1]
                            S.s_cnt[cb, slot, j] = S.s_cnt[cb, slot, j + 1]
                        n -= 1
                        S.s_w[cb, slot, n] = F0
                        S.s_b[cb, slot, n] = F0
                        S.s_t[cb, slot, n] = UNUSED_TARGET
                        S.s_cnt[cb, slot, n] = 0
                        S.meta[M_REMOVED] += 1
                        continue
                k += 1
            if n == 0 and had > 0:  # its last synapse just went (fresh sections stay)
                _free_connection(S, P, cb, slot, src, classic, npb)


@njit
def _free_connection(S, P, cb, slot, src, classic, npb):
    low = S.c_low[cb, slot]
    S.c_src[cb, slot] = -1
    S.cb_used[cb] -= 1
    S.hx_free[S.cb_hex[cb]] += 1
    S.meta[M_SECTIONS] -= 1
    if classic:
        if low == F0:
            S.n_use[src] = 0
    else:
        S.n_use[src] &= ~(1 << S.c_pos[cb, slot])
        if low > F0:
            _mark_new(S, src, low)


# --------------------------------------------------------------------------- sample loops


@njit
def _has_reserve(S, P):
    reserve = P[P_RESERVE_BLOCKS] + S.meta[M_NB] // 2
    if S.meta[M_NB] + reserve > S.nb_hex.shape[0]:
        return False
    if S.meta[M_CB] + reserve > S.cb_hex.shape[0]:
        return False
    return max(S.hx_nnb.max(), S.hx_ncb.max()) + reserve <= S.hx_nb.shape[1]


@njit
def _score(out, expected, stats):
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


@njit
def train_one(S, P, x, y):
    """Forward pass with growth, backpropagation and, when due, reduction for one sample."""
    for o in range(S.o_exp.shape[0]):
        S.o_exp[o] = y[o]
    forward(S, P, x, True)
    _score(S.o_val, S.o_exp, S.stats)
    if P[P_PROFILE] == CLASSIC:
        update_cluster_classic(S, P)
    else:
        create_pending_sections(S, P)
    backward(S, P)
    S.meta[M_SAMPLES] += 1
    if P[P_REDUCTION] != 0 and S.meta[M_SAMPLES] % np.int64(P[P_REDUCTION_INTERVAL]) == 0:
        reduce(S, P)


@njit
def train_rows(S, P, X, Y, rows, start, stop, seen):
    """Train rows ``rows[start:stop]`` of ``X``/``Y``; returns where it stopped.

    When ``seen`` has rows, row ``i`` of it receives the outputs sample ``i`` had before it
    was learned (prequential scoring at engine speed). Stops early (before a sample) when
    the spare capacity falls below the reserve, so the caller can grow the buffers and
    continue at the returned index.
    """
    keep = seen.shape[0] > 0
    for i in range(start, stop):
        if not _has_reserve(S, P):
            return i
        r = rows[i]
        train_one(S, P, X[r], Y[r])
        if keep:  # learning changes weights, not the outputs of the forward pass
            seen[i, :] = S.o_val
    return stop


@njit
def request_rows(S, P, X, out):
    """Forward passes without learning; row ``i`` of ``out`` receives the internal outputs."""
    for i in range(X.shape[0]):
        forward(S, P, X[i], False)
        for o in range(out.shape[1]):
            out[i, o] = S.o_val[o]

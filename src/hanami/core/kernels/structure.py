"""Structure changes: blocks, connections (sections) and synapses.

Everything that adds to the network lives here, so the growth rules elsewhere read as
decisions ("this neuron gets a section") and the bookkeeping of the buffers stays in one
place. Kernels never allocate: a change that finds no spare capacity is skipped and sets
``meta[M_CAPACITY_HIT]``; ``Cluster._grow`` keeps a reserve so that this stays rare, and the
change is retried the next time its neuron fires.

A neuron's section goes to a random hexagon of its hexagon's target list (``hx_targets``,
see ``topology.py``), into the first free connection of a block that has room, scanning
from a random block. The two profiles differ in when a hexagon gets a new block and how
many sections a neuron may own (docs/engine.md, Profiles).
"""

from __future__ import annotations

import numpy as np

from hanami.core._jit import njit
from hanami.core.kernels.random import RAND_MAX, pcg, rand
from hanami.core.state import (
    FLT_MAX,
    HX_BINARY,
    HX_INPUT,
    HX_MATCH,
    HX_OUTPUT,
    INITIAL_TOLERANCE,
    M_CAPACITY_HIT,
    M_CB,
    M_CREATED,
    M_NB,
    M_SECTIONS,
    M_SPLITS,
    TARGET_LIST_LEN,
)

F0 = np.float32(0.0)
F1 = np.float32(1.0)
FRESH_COUNTER = 5  # activity counter of a new synapse (docs/engine.md, Reduction)
PERSISTENT_COUNTER = 10  # a synapse whose counter reaches this is never removed
DISTINCT_DRAWS = 64  # distinct targets: random draws before counting up to a free target


@njit
def add_block(S, h, share_neurons):
    """Append one connection block to hexagon ``h``, and a neuron block for it to feed.

    With ``share_neurons`` (the default profile's output hexagon, whose neurons are the
    outputs) no neuron block is added: the new connection block feeds the hexagon's
    existing neuron blocks in turn.
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    ncb = S.hx_ncb[h]
    if ncb >= S.hx_cb.shape[1] or S.meta[M_CB] >= S.cb_hex.shape[0]:
        S.meta[M_CAPACITY_HIT] = 1
        return False
    if share_neurons:
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
def find_free_connection(S, t):
    """Lowest free connection of the first block of hexagon ``t`` with room, scanning from
    a random block; ``(-1, -1)`` when there is none."""
    spb = S.c_src.shape[1]
    ncb = S.hx_ncb[t]
    if ncb > 0:
        start = rand(S.rng) % ncb
        for i in range(ncb):
            cb = S.hx_cb[t, (start + i) % ncb]
            if S.cb_used[cb] < spb:
                for slot in range(spb):
                    if S.c_src[cb, slot] < 0:
                        return cb, slot
    return -1, -1


@njit
def claim_connection(S, cb, slot, src, kind, low, rng_):
    """Initialise a free connection slot for source neuron ``src``: a section covering the
    potential from ``low`` up to ``low + rng_``."""
    S.c_src[cb, slot] = src
    S.c_kind[cb, slot] = kind
    S.c_pos[cb, slot] = 0
    S.c_next[cb, slot] = 0
    S.c_low[cb, slot] = low
    S.c_range[cb, slot] = rng_
    S.c_tol[cb, slot] = INITIAL_TOLERANCE
    S.c_split[cb, slot] = F0
    S.c_pot[cb, slot] = F0
    S.cb_used[cb] += 1
    S.cb_hi[cb] = max(S.cb_hi[cb], slot + 1)
    S.hx_free[S.cb_hex[cb]] -= 1
    S.meta[M_SECTIONS] += 1


@njit
def source_kind(S, h):
    """``c_kind`` of a section whose source is in hexagon ``h``: 0 hidden, 1 input,
    2 binary input, 3 match input (kinds 2 and 3 add full weights, see walks.py)."""
    flags = S.hx_flags[h]
    if flags & HX_MATCH:
        return 3
    if flags & HX_BINARY:
        return 2
    if flags & HX_INPUT:
        return 1
    return 0


@njit
def create_section_classic(S, P, gid):
    """Give neuron ``gid`` its section (classic: one per neuron, from potential 0).

    The target hexagon gets a new block first when less than half a block of its
    connections is free.
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    h = S.nb_hex[gid // npb]
    t = S.hx_targets[h, rand(S.rng) % TARGET_LIST_LEN]
    if t < 0:
        return False
    if S.hx_free[t] < spb // 2:
        add_block(S, t, False)
    cb, slot = find_free_connection(S, t)
    if cb < 0:
        return False
    claim_connection(S, cb, slot, gid, source_kind(S, h), F0, FLT_MAX)
    S.n_use[gid] = 1
    return True


@njit
def root_count(S, P, h):
    """Root sections (starting at potential 0) a neuron of hexagon ``h`` gets."""
    return P.input_roots if S.hx_flags[h] & HX_INPUT else P.hidden_roots


@njit
def root_mask(S, P, h):
    """The ``n_use`` bits of a neuron of hexagon ``h`` that has all its root sections."""
    return (1 << root_count(S, P, h)) - 1


@njit
def roots_missing(S, P, h, gid):
    """Whether neuron ``gid`` of hexagon ``h`` lacks one of its root sections."""
    full = root_mask(S, P, h)
    return (S.n_use[gid] & full) != full


@njit
def create_roots(S, P, gid, h):
    """Give neuron ``gid`` of hexagon ``h`` every root section it lacks (stops at the first
    that finds no room; the rest come the next time it fires)."""
    while roots_missing(S, P, h, gid):
        if not create_section_default(S, P, gid, F0):
            return


@njit
def create_section_default(S, P, gid, low):
    """Give neuron ``gid`` a new section starting at potential ``low``.

    Bits of ``n_use`` are the neuron's sections: its roots (``low == 0``) first, then the
    chain above them, up to ``P.max_sections`` sections with one root. The target hexagon
    gets a new block only when none of its blocks has a free connection; in an output
    hexagon that block feeds the existing output neurons.
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    h = S.nb_hex[gid // npb]
    t = S.hx_targets[h, rand(S.rng) % TARGET_LIST_LEN]
    if t < 0:
        return False
    roots = root_count(S, P, h)
    mask = S.n_use[gid]
    pos = 0 if low == F0 else roots
    limit = roots if low == F0 else roots + P.max_sections - 1
    while pos < limit and (mask >> pos) & 1:
        pos += 1
    if pos >= limit:
        return False
    for _attempt in range(2):
        cb, slot = find_free_connection(S, t)
        if cb >= 0:
            claim_connection(S, cb, slot, gid, source_kind(S, h), low, FLT_MAX)
            S.c_pos[cb, slot] = pos
            S.n_use[gid] = mask | (1 << pos)
            if low > F0:
                S.meta[M_SPLITS] += 1
            return True
        if not add_block(S, t, (S.hx_flags[t] & HX_OUTPUT) != 0):
            return False
        if P.hidden_size > 0 and not S.hx_flags[t] & HX_OUTPUT:
            S.nb_size[S.hx_nb[t, S.hx_nnb[t] - 1]] = P.hidden_size  # few classes: narrower
    return False


@njit
def create_synapse(sw, sb, st_, sc, slot, meta, k, q, r, nb_size, init, distinct):
    """New synapse at position ``k`` of section ``slot`` consuming ``q`` of the potential.

    Its target (among the ``nb_size`` used neurons of the block), weight (``|w|`` uniform
    in [0, 2 * ``init``]) and sign come from the next links of the hash chain ``r``;
    returns the advanced chain. With ``distinct`` a target that one of the section's
    previous ``nb_size - 1`` synapses has is drawn again, up to :data:`DISTINCT_DRAWS`
    times, then gives way to the next free one (counting up, round the block): a section
    then reaches as many neurons as it has synapses, and a hidden neuron's section into
    ten outputs reaches each of them once in every ten synapses (docs/engine.md, Levers
    tried on MNIST and not kept; Input gain).
    """
    sb[slot, k] = q
    sc[slot, k] = FRESH_COUNTER
    r = pcg(r)
    t = r % nb_size
    if distinct:
        window = min(k, nb_size - 1)
        draws = 0
        while _target_in(st_, slot, k - window, k, t):
            if draws < DISTINCT_DRAWS:
                r = pcg(r)
                t = r % nb_size
                draws += 1
            else:
                t = (t + 1) % nb_size
    st_[slot, k] = t
    r = pcg(r)
    w = np.float32((r / RAND_MAX) * init)
    r = pcg(r)
    if r % 1000 < 500:
        w = -w
    sw[slot, k] = w
    meta[M_CREATED] += 1
    return r


@njit(inline="always")
def _target_in(st_, slot, start, stop, t):
    """Whether ``st_[slot, start:stop]`` holds ``t``."""
    m = start
    while m < stop and st_[slot, m] != t:
        m += 1
    return m < stop

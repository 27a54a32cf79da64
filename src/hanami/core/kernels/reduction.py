"""Reduction: synapses that stop being useful are removed (docs/engine.md, Reduction).

Runs every ``P.reduction_interval`` training samples when the template enables it. Every
synapse starts with an activity counter of 5; the backward pass counts it up while the
sign of its weight agrees with its target's activity, and at 10 it is persistent. Each
cycle lowers every other counter by 1 and removes the synapses that reach 0.

Removal compacts the section (the synapses after a removed one move down, keeping
their order), and a section left without synapses frees its connection, so its neuron gets
a new section the next time it needs one. What freeing means differs by profile: a classic
neuron owns one section; a default neuron owns a chain, and a freed link above potential 0
is queued to be created again.

Default profile: a chained section is created empty after the pass that asked for it and
gets synapses only when a value reaches above the section below. One that stays empty for
:data:`EMPTY_CYCLES` cycles is freed too, and the section below may ask for it again: so
the links that a rare value far outside the data (an outlier) asked for go away with
everything else it created (docs/engine.md, Reduction).
"""

from __future__ import annotations

from hanami.core._jit import njit
from hanami.core.kernels.growth import mark_new
from hanami.core.kernels.structure import F0, PERSISTENT_COUNTER
from hanami.core.state import M_CB, M_REMOVED, M_SECTIONS, UNUSED_TARGET

EMPTY_CYCLES = 5  # cycles an empty chained section is kept (a new synapse's counter)
RECHAIN_TOLERANCE = 1e-3  # relative: the section below ends where the freed link started


@njit
def reduce_classic(S, P):
    """One reduction cycle of the classic profile."""
    spb = S.c_src.shape[1]
    for cb in range(S.meta[M_CB]):
        if S.cb_used[cb] == 0:
            continue
        for slot in range(spb):
            src = S.c_src[cb, slot]
            if src >= 0 and age_section(S, cb, slot):
                low = _free_connection(S, cb, slot)
                if low == F0:
                    S.n_use[src] = 0


@njit
def reduce_default(S, P):
    """One reduction cycle of the default profile."""
    spb = S.c_src.shape[1]
    for cb in range(S.meta[M_CB]):
        if S.cb_used[cb] == 0:
            continue
        for slot in range(spb):
            src = S.c_src[cb, slot]
            if src < 0:
                continue
            if S.c_low[cb, slot] > F0 and S.s_t[cb, slot, 0] == UNUSED_TARGET:
                if _idle_link(S, cb, slot):
                    low = _free_connection(S, cb, slot)
                    S.n_use[src] &= ~(1 << S.c_pos[cb, slot])
                    _rechain(S, src, low)
            elif age_section(S, cb, slot):
                low = _free_connection(S, cb, slot)
                S.n_use[src] &= ~(1 << S.c_pos[cb, slot])
                if low > F0:
                    mark_new(S, src, low)


@njit
def _idle_link(S, cb, slot):
    """Count one more cycle of an empty chained section (in the activity counter of its
    unused first position, which a first synapse overwrites); whether it was empty for
    :data:`EMPTY_CYCLES` cycles (the counter is then reset for the slot's next section)."""
    idle = S.s_cnt[cb, slot, 0] + 1
    if idle >= EMPTY_CYCLES:
        S.s_cnt[cb, slot, 0] = 0
        return True
    S.s_cnt[cb, slot, 0] = idle
    return False


@njit
def _rechain(S, src, low):
    """Let the section of ``src`` that ends at ``low`` (where the freed link started) ask
    for a chained section again when a value next runs past it."""
    syn = S.s_w.shape[2]
    for cb in range(S.meta[M_CB]):
        for slot in range(S.c_src.shape[1]):
            if S.c_src[cb, slot] != src or S.c_next[cb, slot] == 0:
                continue
            end = S.c_low[cb, slot]
            for k in range(syn):
                if S.s_t[cb, slot, k] == UNUSED_TARGET:
                    break
                end += S.s_b[cb, slot, k]
            if abs(end - low) <= RECHAIN_TOLERANCE * low:
                S.c_next[cb, slot] = 0


@njit
def age_section(S, cb, slot):
    """Age the synapses of one section and remove those whose counter reaches 0; returns
    whether this removed its last synapse (a fresh section without synapses stays)."""
    return _age(S.s_w[cb, slot], S.s_b[cb, slot], S.s_t[cb, slot], S.s_cnt[cb, slot],
                S.s_v[cb, slot], S.meta)  # fmt: skip


@njit
def _age(sw, sb, st_, sc, sv, meta):
    """:func:`age_section` on the section's synapse rows: the survivors move down over
    the removed ones in one pass, keeping their order, and the positions left at the end
    get the values of unused ones."""
    syn = sw.shape[0]
    n = 0
    while n < syn and st_[n] != UNUSED_TARGET:
        n += 1
    kept = 0
    for k in range(n):
        c = sc[k]
        if c < PERSISTENT_COUNTER:
            c -= 1
            if c == 0:
                continue
        sw[kept] = sw[k]
        sb[kept] = sb[k]
        st_[kept] = st_[k]
        sc[kept] = c
        sv[kept] = sv[k]
        kept += 1
    for k in range(kept, n):
        sw[k] = F0
        sb[k] = F0
        st_[k] = UNUSED_TARGET
        sc[k] = 0
        sv[k] = F0
    meta[M_REMOVED] += n - kept
    return kept == 0 and n > 0


@njit
def _free_connection(S, cb, slot):
    """Free a connection slot; returns the potential its section started at."""
    low = S.c_low[cb, slot]
    S.c_src[cb, slot] = -1
    S.cb_used[cb] -= 1
    S.hx_free[S.cb_hex[cb]] += 1
    S.meta[M_SECTIONS] -= 1
    return low

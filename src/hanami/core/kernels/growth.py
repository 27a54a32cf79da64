"""Growth between the steps of a pass: which neurons get new sections, and when.

A neuron that fires and owns no section gets one: in the classic profile at once, in the
default profile at once for input neurons and after the forward pass for hidden neurons
(they are queued in ``pending``, in firing order, and :func:`create_pending_sections` runs
after the pass); with several roots per neuron (``P.input_roots``, ``P.hidden_roots``) it
gets all of them at once. The default profile also queues a chained section above a section that
ran out of positions (``walks.walk_train_default``), and a section freed by the reduction
above potential 0 is queued again (``reduction.py``). The classic profile instead splits
sections of the last hexagon that ran out of positions (:func:`update_cluster_classic`).
docs/engine.md, Profiles, has the differences and why.
"""

from __future__ import annotations

from hanami.core._jit import njit
from hanami.core.kernels.random import rand
from hanami.core.kernels.structure import (
    F0,
    add_block,
    claim_connection,
    create_roots,
    create_section_classic,
    create_section_default,
    find_free_connection,
    root_mask,
)
from hanami.core.state import HX_INPUT, HX_OUTPUT, M_PENDING, M_SPLITS, TARGET_LIST_LEN


@njit
def queue_section(n_new, n_newoff, pending, meta, gid, offset):
    """Queue neuron ``gid`` for a new section at ``offset`` after the forward pass; a neuron
    queued twice keeps the higher offset."""
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
def mark_new(S, gid, offset):
    """:func:`queue_section` on the state's buffers."""
    queue_section(S.n_new, S.n_newoff, S.pending, S.meta, gid, offset)


@njit
def new_sections_classic(S, P, h):
    """Every neuron of hexagon ``h`` that fired in this pass and owns no section gets one."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        for gid in range(base, base + npb):
            if S.n_act[gid] and S.n_use[gid] == 0:
                create_section_classic(S, P, gid)


@njit
def new_sections_default(S, P, h):
    """Every neuron of hexagon ``h`` that fired in this pass and owns no section gets one:
    input neurons at once, hidden neurons after the pass.

    Only the neurons that can fire are looked at: an input block's first ones up to the
    input's width (``forward.load_inputs`` loads no others), another block's ``nb_size``
    (no synapse targets the others). docs/engine.md, Time per sample, tenth round.

    A block is first counted by a loop without calls or branches over slices of the
    buffers, which compiles to vector code (see ``forward.update_neurons``); most blocks
    have no such neuron, and only the others are walked again to grow them, in the same
    order as before. docs/engine.md, Time per sample, twelfth round.
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    inputs = (S.hx_flags[h] & HX_INPUT) != 0
    width = S.in_n[S.hx_io[h]] if inputs else 0
    full = root_mask(S, P, h)  # structure.roots_missing, the mask read once per hexagon
    # the buffers as locals: the loop calls other kernels, so a state field read inside it
    # is not hoisted and costs a call and two atomic reference counts per neuron
    n_act, n_use = S.n_act, S.n_use
    for i in range(S.hx_nnb[h]):
        nb = S.hx_nb[h, i]
        used = max(0, min(npb, width - i * npb) if inputs else S.nb_size[nb])
        act, use = n_act[nb * npb : nb * npb + used], n_use[nb * npb : nb * npb + used]
        if _bare_count(act, use, full) == 0:
            continue
        for gid in range(nb * npb, nb * npb + used):
            if n_act[gid] and (n_use[gid] & full) != full:
                if inputs:
                    create_roots(S, P, gid, h)
                else:
                    mark_new(S, gid, F0)


@njit
def _bare_count(act, use, full):
    """How many neurons fired (``act``) without all the sections of ``full`` (``use``)."""
    n = 0
    for j in range(act.shape[0]):
        n += (act[j] != 0) & ((use[j] & full) != full)
    return n


@njit
def create_pending_sections(S, P):
    """Default profile, after the forward pass: the queued sections, in queue order."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    n = S.meta[M_PENDING]
    for i in range(n):
        gid = S.pending[i]
        S.n_new[gid] = 0
        low = S.n_newoff[gid]
        if low == F0:
            create_roots(S, P, gid, S.nb_hex[gid // npb])
        else:
            create_section_default(S, P, gid, low)
        S.n_newoff[gid] = F0
    S.meta[M_PENDING] = 0


@njit
def update_cluster_classic(S, P):
    """Classic profile, after the forward pass: the splits requested in the last hexagon,
    looking at the first NPB slots of each block only (a quirk of the original), and a new
    block whenever less than half a block of its connections is free."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    spb = S.c_src.shape[1]
    h = S.hx_flags.shape[0] - 1
    i = 0
    while i < S.hx_ncb[h]:
        cb = S.hx_cb[h, i]
        for slot in range(min(npb, spb)):
            if S.c_split[cb, slot] > F0:
                if S.c_src[cb, slot] >= 0:
                    _split_section(S, cb, slot)
                S.c_split[cb, slot] = F0
        if S.hx_free[h] < spb // 2:
            add_block(S, h, False)
        i += 1


@njit
def _split_section(S, cb, slot):
    """Move the potential above ``c_split`` of a full section into a new section of the
    same source, in a random target hexagon (no new block for it)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    split = S.c_split[cb, slot]
    src = S.c_src[cb, slot]
    h = S.nb_hex[src // npb]
    if S.hx_flags[h] & HX_OUTPUT:
        return
    t = S.hx_targets[h, rand(S.rng) % TARGET_LIST_LEN]
    if t < 0:
        return
    ncb, nslot = find_free_connection(S, t)
    if ncb < 0:
        return
    low = S.c_low[cb, slot] + split
    claim_connection(S, ncb, nslot, src, S.c_kind[cb, slot], low, S.c_range[cb, slot] - split)
    S.c_range[cb, slot] = split
    S.meta[M_SPLITS] += 1

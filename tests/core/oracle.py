"""A slow, obvious training step of the default profile: the oracle for the compiled kernels.

Plain Python loops over hexagons, sections and synapses, on a copy of a cluster's state,
in the order the kernels do things (docs/engine.md, A training step). Floats are
``np.float32`` scalars and the few float64 steps (sigmoid, log2, slope, learning rate,
score) are written as the kernels write them, so results are meant to be *equal* to the
kernels', not close: ``test_oracle.py`` compares every buffer after every step.

Integers are Python ints (array reads go through ``int``), so no NumPy scalar can wrap.
"""

from __future__ import annotations

import math

import numpy as np

from hanami.core.profiles import Params
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
    M_PENDING,
    M_REMOVED,
    M_SAMPLES,
    M_SECTIONS,
    M_SPLITS,
    TARGET_LIST_LEN,
    UNUSED_TARGET,
    State,
)

f32 = np.float32
F0, F1, TWO, HALF = f32(0.0), f32(1.0), f32(2.0), f32(0.5)
LOG2E = f32(1.4427)
OUTPUT_SLOPE_MIN = f32(0.05)
FRESH, PERSISTENT = 5, 10
EMPTY_CYCLES = 5  # an empty chained section is freed after this many cycles
RAND_MAX = 2147483647.0
MASK32, MASK64 = 0xFFFFFFFF, 2**64 - 1


def copy_state(state: State) -> State:
    return State(*(np.array(a, copy=True) for a in state))


def train_step(s: State, P: Params, x: np.ndarray, y: np.ndarray) -> None:
    """One training step of the default profile on input row ``x``, expected row ``y``."""
    for o in range(len(s.o_exp)):
        s.o_exp[o] = y[o]
    forward(s, P, x)
    score(s)
    for i in range(int(s.meta[M_PENDING])):  # sections requested during the pass
        gid = int(s.pending[i])
        s.n_new[gid] = 0
        new_section(s, P, gid, s.n_newoff[gid])
        s.n_newoff[gid] = F0
    s.meta[M_PENDING] = 0
    classes = all(e in (0.0, 1.0) for e in s.o_exp.tolist())
    close = all(abs(o - e) < P.learned_margin for o, e in zip(s.o_val, s.o_exp, strict=True))
    if not (P.learned_margin > 0.0 and classes and close):  # a learned sample is not learned
        backward(s, P)
    s.meta[M_SAMPLES] += 1
    if P.reduction and int(s.meta[M_SAMPLES]) % P.reduction_interval == 0:
        reduce(s)


# ------------------------------------------------------------------ helpers


def npb(s: State) -> int:
    return len(s.n_in) // len(s.nb_hex)


def neurons(s: State, h: int) -> list[int]:
    """Global ids of all neurons of hexagon ``h``, block by block."""
    n = npb(s)
    return [int(s.hx_nb[h, i]) * n + j for i in range(int(s.hx_nnb[h])) for j in range(n)]


def rand(s: State) -> int:
    s.rng[0] = (int(s.rng[0]) * 6364136223846793005 + 1442695040888963407) & MASK64
    return int(s.rng[0]) >> 33


def pcg(x: int) -> int:
    state = (x * 747796405 + 2891336453) & MASK32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & MASK32
    return ((word >> 22) ^ word) & MASK32


def sigmoid(x: np.float32) -> np.float32:
    return f32(1.0 / (1.0 + math.exp(-float(x))))


# ------------------------------------------------------------------ forward pass


def forward(s: State, P: Params, x: np.ndarray) -> None:
    for h in range(len(s.hx_flags)):
        flags = int(s.hx_flags[h])
        if flags & HX_INPUT:
            k = int(s.hx_io[h])
            n, off = int(s.in_n[k]), int(s.in_off[k])
            for j, gid in enumerate(neurons(s, h)[:n]):
                v = f32(x[off + j]) * s.hx_gain[h]
                s.n_pot[gid] = v
                s.n_act[gid] = v > F0
            if P.input_gain > 0.0:
                input_level(s, P, h, x[off : off + n])
            for gid in neurons(s, h):  # input neurons get their section at once
                if s.n_act[gid] and s.n_use[gid] == 0:
                    new_section(s, P, gid, F0)
            continue
        for i in range(int(s.hx_ncb[h])):
            walk_block(s, P, h, i)
        if flags & HX_OUTPUT:
            for o in range(len(s.o_val)):
                if s.o_hex[o] == h:
                    idx = int(s.o_idx[o])
                    gid = int(s.hx_nb[h, idx // npb(s)]) * npb(s) + idx % npb(s)
                    v = s.n_in[gid]
                    out = sigmoid(v) if v != F0 else F0
                    s.n_pot[gid], s.n_in[gid], s.o_val[o] = out, F0, out
            continue
        for gid in neurons(s, h):
            spike(s, P, gid)
        for gid in neurons(s, h):  # hidden neurons get theirs after the pass
            if s.n_act[gid] and s.n_use[gid] == 0:
                queue(s, gid, F0)


def input_level(s: State, P: Params, h: int, row: np.ndarray) -> None:
    """The running log level of the row's positive values, and the gain of later rows:
    exactly 1 while the level stays within the tolerance of the first rows' mean."""
    logs = [math.log(float(f32(v))) for v in row.tolist() if f32(v) > F0]
    if not logs:
        return
    level = 0.0
    for value in logs:  # summed in order, as the kernel sums
        level += value
    level /= len(logs)
    rows = int(s.hx_rows[h])
    s.hx_rows[h] = rows + 1
    if rows < P.gain_warmup:  # the reference: the mean level of the first rows
        s.hx_ref[h] = (float(s.hx_ref[h]) * rows + level) / (rows + 1)
        s.hx_level[h] = s.hx_ref[h]
        return
    level = P.input_gain * float(s.hx_level[h]) + (1.0 - P.input_gain) * level
    s.hx_level[h] = level
    drift = float(s.hx_ref[h]) - level
    s.hx_gain[h] = f32(math.exp(drift)) if abs(drift) > P.gain_tolerance else F1


def spike(s: State, P: Params, gid: int) -> None:
    """Cooldown, refractory counter, log2(1 + p)."""
    p = s.n_pot[gid]
    if p != F0:
        p = p / f32(P.cooldown)
    rho = int(s.n_refr[gid]) >> 1
    if rho == 0:
        p = p + s.n_in[gid]
        rho = P.refractory
    s.n_refr[gid] = rho
    active = p > F0
    s.n_in[gid] = F0
    s.n_pot[gid] = f32(math.log2(float(p) + 1.0)) if active else F0
    s.n_act[gid] = active
    s.n_delta[gid] = F0


def walk_block(s: State, P: Params, h: int, i: int) -> None:
    """The sections of the ``i``-th connection block of hexagon ``h`` whose source fired."""
    cb = int(s.hx_cb[h, i])
    if s.cb_used[cb] == 0:
        s.cb_nlist[cb] = 0
        return
    spb, syn = s.c_src.shape[1], s.s_w.shape[2]
    target0 = int(s.cb_nb[cb]) * npb(s)
    nb_size = int(s.nb_size[s.cb_nb[cb]])
    thr = f32(P.threshold)
    r = rand(s)
    n = 0
    for slot in range(int(s.cb_hi[cb])):  # c_list: the fired ones first (the kernel's way)
        src = int(s.c_src[cb, slot])
        p = s.n_pot[max(src, 0)]
        fired = src >= 0 and s.n_act[max(src, 0)] != 0 and p > F0
        s.c_pot[cb, slot] = p if fired else F0
        s.c_list[cb, n] = slot
        n += fired
    s.cb_nlist[cb] = n
    for j in range(n):
        slot = int(s.c_list[cb, j])
        r = (r + i * spb + slot) & MASK32
        if s.c_kind[cb, slot] >= 2:  # binary and match: every synapse, full weight
            for k in range(syn):
                if s.s_t[cb, slot, k] == UNUSED_TARGET:
                    r = new_synapse(s, cb, slot, k, F0, r, nb_size, P)
                s.n_in[target0 + int(s.s_t[cb, slot, k])] += s.s_w[cb, slot, k]
            s.c_stop[cb, slot] = syn
            continue
        p = s.c_pot[cb, slot]
        q = p - s.c_low[cb, slot]
        covered = F0  # borders spent: where a chained section starts
        k = 0
        while k < syn and q > thr:
            if s.s_t[cb, slot, k] == UNUSED_TARGET:  # a first synapse comes in pieces
                g = min(P.first_pieces, syn - k) if k == 0 else 1
                part = q / f32(g)
                for m in range(g - 1):
                    r = new_synapse(s, cb, slot, k + m, part, r, nb_size, P)
                r = new_synapse(s, cb, slot, k + g - 1, q - part * f32(g - 1), r, nb_size, P)
            b = s.s_b[cb, slot, k]
            t = target0 + int(s.s_t[cb, slot, k])
            if q < b:  # the potential runs out at this synapse
                if b > TWO * q and k < syn - 1:  # oversized border: half to the next
                    half = b / TWO
                    s.s_b[cb, slot, k + 1] += half
                    b = b - half
                    s.s_b[cb, slot, k] = b
                s.n_in[t] += s.s_w[cb, slot, k] * (q / b)
                q -= b
                covered += b
                k += 1
                break
            s.n_in[t] += s.s_w[cb, slot, k]
            q -= b
            covered += b
            k += 1
        s.c_stop[cb, slot] = k
        if q > thr and s.c_next[cb, slot] == 0:  # out of positions: chain a section above
            s.c_next[cb, slot] = 1
            queue(s, int(s.c_src[cb, slot]), s.c_low[cb, slot] + covered)


def new_synapse(s: State, cb: int, slot: int, k: int, q, r: int, nb_size: int, P) -> int:
    s.s_b[cb, slot, k] = q
    s.s_cnt[cb, slot, k] = FRESH
    r = pcg(r)
    window = min(k, nb_size - 1) if P.distinct_targets else 0
    taken = set(s.s_t[cb, slot, k - window : k].tolist())
    t = r % nb_size
    draws = 0
    while t in taken:  # distinct targets: draw again, then count up to a free one
        if draws < 64:
            r = pcg(r)
            t = r % nb_size
            draws += 1
        else:
            t = (t + 1) % nb_size
    s.s_t[cb, slot, k] = t
    r = pcg(r)
    w = f32((r / RAND_MAX) * P.init_weight)
    r = pcg(r)
    s.s_w[cb, slot, k] = -w if r % 1000 < 500 else w
    s.meta[M_CREATED] += 1
    return r


def queue(s: State, gid: int, offset) -> None:
    if s.n_new[gid]:
        s.n_newoff[gid] = max(s.n_newoff[gid], offset)
        return
    s.n_new[gid] = 1
    s.n_newoff[gid] = offset
    n = int(s.meta[M_PENDING])
    if n < len(s.pending):
        s.pending[n] = gid
        s.meta[M_PENDING] = n + 1


# ------------------------------------------------------------------ structure


def new_section(s: State, P: Params, gid: int, low) -> None:
    """A section for ``gid`` at the lowest free position of its chain, in a random target
    hexagon; that hexagon gets a block when none of its blocks has room."""
    h = int(s.nb_hex[gid // npb(s)])
    t = int(s.hx_targets[h, rand(s) % TARGET_LIST_LEN])
    if t < 0:
        return
    mask = int(s.n_use[gid])
    pos = 0
    while pos < P.max_sections and (mask >> pos) & 1:
        pos += 1
    if pos >= P.max_sections:
        return
    for _attempt in range(2):
        cb, slot = free_connection(s, t)
        if cb >= 0:
            claim(s, cb, slot, gid, h, low, pos)
            s.n_use[gid] = (mask | (1 << pos)) & 0xFF
            if low > F0:
                s.meta[M_SPLITS] += 1
            return
        if not add_block(s, t):
            return


def free_connection(s: State, t: int) -> tuple[int, int]:
    spb = s.c_src.shape[1]
    ncb = int(s.hx_ncb[t])
    if ncb > 0:
        start = rand(s) % ncb
        for i in range(ncb):
            cb = int(s.hx_cb[t, (start + i) % ncb])
            if s.cb_used[cb] < spb:
                for slot in range(spb):
                    if s.c_src[cb, slot] < 0:
                        return cb, slot
    return -1, -1


def add_block(s: State, h: int) -> bool:
    """A connection block for hexagon ``h``: with a new neuron block, except in an output
    hexagon, whose blocks feed its output neurons in turn."""
    ncb = int(s.hx_ncb[h])
    if ncb >= s.hx_cb.shape[1] or s.meta[M_CB] >= len(s.cb_hex):
        s.meta[M_CAPACITY_HIT] = 1
        return False
    if s.hx_flags[h] & HX_OUTPUT:
        if s.hx_nnb[h] == 0:
            return False
        nb = int(s.hx_nb[h, ncb % int(s.hx_nnb[h])])
    else:
        if s.meta[M_NB] >= len(s.nb_hex):
            s.meta[M_CAPACITY_HIT] = 1
            return False
        nb = int(s.meta[M_NB])
        s.meta[M_NB] += 1
        s.nb_hex[nb], s.nb_size[nb] = h, npb(s)
        s.hx_nb[h, s.hx_nnb[h]] = nb
        s.hx_nnb[h] += 1
    cb = int(s.meta[M_CB])
    s.meta[M_CB] += 1
    s.cb_hex[cb], s.cb_nb[cb], s.cb_used[cb] = h, nb, 0
    s.hx_cb[h, ncb] = cb
    s.hx_ncb[h] += 1
    s.hx_free[h] += s.c_src.shape[1]
    return True


def claim(s: State, cb: int, slot: int, gid: int, h: int, low, pos: int) -> None:
    flags = int(s.hx_flags[h])
    kind = 3 if flags & HX_MATCH else 2 if flags & HX_BINARY else 1 if flags & HX_INPUT else 0
    s.c_src[cb, slot], s.c_kind[cb, slot], s.c_pos[cb, slot] = gid, kind, pos
    s.c_next[cb, slot] = 0
    s.c_low[cb, slot], s.c_range[cb, slot] = low, FLT_MAX
    s.c_tol[cb, slot], s.c_split[cb, slot], s.c_pot[cb, slot] = INITIAL_TOLERANCE, F0, F0
    s.cb_used[cb] += 1
    s.cb_hi[cb] = max(int(s.cb_hi[cb]), slot + 1)
    s.hx_free[s.cb_hex[cb]] -= 1
    s.meta[M_SECTIONS] += 1


# ------------------------------------------------------------------ score, backward pass


def score(s: State) -> None:
    out, expected = s.o_val, s.o_exp
    err = 0.0
    for o in range(len(out)):
        d = float(out[o] - expected[o])
        err += d * d
    s.stats[0] += err
    s.stats[1] += int(np.argmax(out)) == int(np.argmax(expected))  # first index on ties


def backward(s: State, P: Params) -> None:
    n = npb(s)
    for h in reversed(range(len(s.hx_flags))):
        flags = int(s.hx_flags[h])
        if flags & HX_INPUT:
            continue
        if flags & HX_OUTPUT:
            for o in range(len(s.o_val)):
                if s.o_hex[o] == h:
                    idx = int(s.o_idx[o])
                    gid = int(s.hx_nb[h, idx // n]) * n + idx % n
                    out = s.o_val[o]
                    slope = max(out * (F1 - out), OUTPUT_SLOPE_MIN)
                    s.n_delta[gid] = (out - s.o_exp[o]) * slope
        if s.hx_ncb[h] == 0:
            continue
        samples = int(s.meta[M_SAMPLES])
        lr = f32(max(P.lr / (1.0 + samples * P.lr_decay), P.lr_min))
        # a reduction counter counts up while the weight's sign agrees with the target's
        # activity: a hidden neuron is active when it fired, an output above 0.5
        active = HALF if flags & HX_OUTPUT else F0
        # output_adaptive: synapses into outputs take RMSProp steps of a constant scale
        adaptive = f32(P.output_adaptive) if flags & HX_OUTPUT else F0
        if adaptive > F0:
            lr = f32(P.output_rate)
        decay = F0  # wide inputs: a step size per synapse, its step count in s_v
        if P.synapse_decay > 0.0 and adaptive == F0:
            lr, decay = f32(P.synapse_rate), f32(P.synapse_decay)
        if not flags & HX_OUTPUT:
            for gid in neurons(s, h):
                if s.n_act[gid]:  # slope of log2(1 + p), from the output p
                    s.n_delta[gid] *= LOG2E * f32(2.0 ** -float(s.n_pot[gid]))
        for i in range(int(s.hx_ncb[h])):
            cb = int(s.hx_cb[h, i])
            if s.cb_used[cb] == 0:
                continue
            target0 = int(s.cb_nb[cb]) * n
            for j in range(int(s.cb_nlist[cb])):
                slot = int(s.c_list[cb, j])
                acc = F0
                for k in range(int(s.c_stop[cb, slot])):
                    t = target0 + int(s.s_t[cb, slot, k])
                    w = s.s_w[cb, slot, k]
                    agrees = (s.n_pot[t] > active) == (w > F0)
                    if P.reduction and s.s_cnt[cb, slot, k] < PERSISTENT and agrees:
                        s.s_cnt[cb, slot, k] += 1
                    d = s.n_delta[t]
                    acc += d * w
                    if adaptive > F0:
                        v = adaptive * s.s_v[cb, slot, k] + (F1 - adaptive) * d * d
                        s.s_v[cb, slot, k] = v
                        root = f32(math.sqrt(float(v))) + f32(P.adaptive_eps)
                        s.s_w[cb, slot, k] = w - lr * d / root
                    elif decay > F0:
                        steps = s.s_v[cb, slot, k]
                        s.s_w[cb, slot, k] = w - lr * d / (F1 + decay * steps)
                        s.s_v[cb, slot, k] = min(steps + F1, f32(P.synapse_steps_max))
                    else:
                        s.s_w[cb, slot, k] = w - lr * d
                if s.c_kind[cb, slot] == 0:
                    s.n_delta[s.c_src[cb, slot]] += acc


# ------------------------------------------------------------------ reduction


def reduce(s: State) -> None:
    """Age every synapse that is not persistent; remove those at 0, keeping the order; a
    section that lost its last synapse frees its connection. A chained section that stayed
    empty for EMPTY_CYCLES cycles (counted at its unused first position) is freed too, and
    the section ending where it started may chain again."""
    syn = s.s_w.shape[2]
    for cb in range(int(s.meta[M_CB])):
        if s.cb_used[cb] == 0:
            continue
        for slot in range(s.c_src.shape[1]):
            src = int(s.c_src[cb, slot])
            if src < 0:
                continue
            if s.c_low[cb, slot] > F0 and s.s_t[cb, slot, 0] == UNUSED_TARGET:
                idle = int(s.s_cnt[cb, slot, 0]) + 1
                s.s_cnt[cb, slot, 0] = 0 if idle >= EMPTY_CYCLES else idle
                if idle >= EMPTY_CYCLES:
                    low = s.c_low[cb, slot]
                    free_section(s, cb, slot, src)
                    rechain(s, src, low)
                continue
            kept = []
            had = 0
            for k in range(syn):
                if s.s_t[cb, slot, k] == UNUSED_TARGET:
                    break
                had += 1
                fields = [s.s_w[cb, slot, k], s.s_b[cb, slot, k], s.s_t[cb, slot, k],
                          s.s_v[cb, slot, k]]  # fmt: skip
                count = int(s.s_cnt[cb, slot, k])
                if count < PERSISTENT:
                    count -= 1
                    if count == 0:
                        s.meta[M_REMOVED] += 1
                        continue
                kept.append((*fields, count & 0xFF))
            for k in range(had):
                w, b, t, v, c = kept[k] if k < len(kept) else (F0, F0, UNUSED_TARGET, F0, 0)
                s.s_w[cb, slot, k], s.s_b[cb, slot, k] = w, b
                s.s_t[cb, slot, k], s.s_cnt[cb, slot, k] = t, c
                s.s_v[cb, slot, k] = v
            if had > 0 and not kept:
                low = s.c_low[cb, slot]
                free_section(s, cb, slot, src)
                if low > F0:
                    queue(s, src, low)


def free_section(s: State, cb: int, slot: int, src: int) -> None:
    s.c_src[cb, slot] = -1
    s.cb_used[cb] -= 1
    s.hx_free[s.cb_hex[cb]] += 1
    s.meta[M_SECTIONS] -= 1
    s.n_use[src] = int(s.n_use[src]) & ~(1 << int(s.c_pos[cb, slot])) & 0xFF


def rechain(s: State, src: int, low) -> None:
    """The sections of ``src`` that end at ``low`` (borders summed in float32) may ask
    for a chained section again."""
    for cb in range(int(s.meta[M_CB])):
        for slot in range(s.c_src.shape[1]):
            if s.c_src[cb, slot] != src or s.c_next[cb, slot] == 0:
                continue
            end = s.c_low[cb, slot]
            for k in range(s.s_w.shape[2]):
                if s.s_t[cb, slot, k] == UNUSED_TARGET:
                    break
                end = f32(end + s.s_b[cb, slot, k])
            if abs(end - low) <= 1e-3 * low:
                s.c_next[cb, slot] = 0

"""The forward pass: one step of every hexagon, in template order.

An input hexagon takes the raw input values as its neurons' potentials. Every other
hexagon first gathers the synaptic input of its sections (``walks.py``), then updates its
neurons: hidden neurons are spiking neurons with a cooldown and a refractory time, output
neurons are sigmoids. In training, neurons that fired and own no section get one
(``growth.py``). Requests (``train=False``) run the same pass without growth and without
drawing random numbers.

The output layers differ by profile (docs/engine.md, Profiles, row "output"): classic
reads a hexagon of sigmoid neurons through a sparse layer of 7 random links per output,
wired while training; by default the output hexagon's neurons are the outputs.
"""

from __future__ import annotations

import math

import numpy as np

from hanami.core._jit import njit
from hanami.core.kernels.growth import new_sections_classic, new_sections_default
from hanami.core.kernels.random import RAND_MAX, pcg, rand
from hanami.core.kernels.structure import F0, F1
from hanami.core.kernels.walks import HALF, walk_sections_classic, walk_sections_default
from hanami.core.state import HX_INPUT, HX_OUTPUT, OUTPUT_LINKS

# math.log of 1 .. 255 (index 0 unused): the input level of 8-bit values such as MNIST's
# pixels, about 150 logs per row, takes them from here (docs/engine.md, Time per sample,
# seventeenth round; tests/core/test_dynamics.py checks them against the kernels' log)
BYTE_LOGS = np.array([0.0] + [math.log(v) for v in range(1, 256)])


@njit
def forward_classic(S, P, x, train):
    """One forward pass of the classic profile over all hexagons for input row ``x``."""
    for h in range(S.hx_flags.shape[0]):
        flags = S.hx_flags[h]
        if flags & HX_INPUT:
            load_inputs(S, h, x, F1)
        else:
            if S.hx_ncb[h] > 0:
                walk_sections_classic(S, P, h, train)
            if flags & HX_OUTPUT:
                outputs_classic(S, h, train)
                continue
            update_neurons(S, P, h, train)
        if train:
            new_sections_classic(S, P, h)


@njit
def forward_default(S, P, x, train):
    """One forward pass of the default profile over all hexagons for input row ``x``."""
    for h in range(S.hx_flags.shape[0]):
        flags = S.hx_flags[h]
        if flags & HX_INPUT:
            load_inputs(S, h, x, S.hx_gain[h])
            if train and P.input_gain > 0.0:
                track_input_level(S, P, h, x)
        else:
            if S.hx_ncb[h] > 0:
                walk_sections_default(S, P, h, train)
            settle_default(S, P, h, train)
            if flags & HX_OUTPUT:
                continue
        if train:
            new_sections_default(S, P, h)


@njit
def settle_default(S, P, h, train):
    """The neurons of a walked hexagon ``h`` take their synaptic input (default profile)."""
    if S.hx_flags[h] & HX_OUTPUT:
        outputs_default(S, h)
    else:
        update_neurons(S, P, h, train)


@njit
def load_inputs(S, h, x, gain):
    """Input values times ``gain`` (1 but for the default rules' input gain) become the
    potentials of the input neurons; positive ones fire.

    Over slices indexed from 0, as :func:`update_neurons`: the loop then compiles to vector
    code instead of reading the state's buffers anew for every value (1.0 µs of an MNIST
    row's 26; docs/engine.md, Time per sample, fifteenth round)."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for blk in range(S.hx_nnb[h]):
        base, column, count = input_block(S, h, blk, npb)
        values = x[column : column + count]
        pot, act = S.n_pot[base : base + count], S.n_act[base : base + count]
        for j in range(count):
            v = np.float32(values[j]) * gain
            pot[j] = v
            act[j] = v > F0


@njit
def input_block(S, h, blk, npb):
    """Block ``blk`` of input hexagon ``h``: its first neuron, the column of the row that
    neuron takes, and how many of its neurons take one (0 past the input's width)."""
    k = S.hx_io[h]
    first = blk * npb
    count = max(0, min(npb, S.in_n[k] - first))
    return S.hx_nb[h, blk] * npb, S.in_off[k] + first, count


@njit
def track_input_level(S, P, h, x):
    """Follow the level of input hexagon ``h``'s values and set the gain of the rows after
    this one.

    A row's level is the mean log of its positive values. The reference is the mean level
    of the first ``P.gain_warmup`` rows; after them the level's running mean (decay
    ``P.input_gain``) is compared with it. While it stays within ``P.gain_tolerance`` the
    gain is exactly 1 (a stream of steady range keeps its raw values, bit for bit); beyond
    it the gain scales values back to the reference level, so a sensor whose range changed
    reaches the synapses the network learned on instead of a corner of them
    (docs/engine.md, Input gain).
    """
    k = S.hx_io[h]
    row = x[S.in_off[k] : S.in_off[k] + S.in_n[k]]
    positive = np.empty(row.shape[0], dtype=np.int64)
    count = 0
    for j in range(row.shape[0]):  # listed without a branch: which pixels are lit is random
        positive[count] = j
        count += np.float32(row[j]) > F0
    if count == 0:
        return
    total = 0.0
    for j in positive[:count]:
        total += positive_log(np.float32(row[j]))
    level = total / count
    rows = S.hx_rows[h]
    S.hx_rows[h] = rows + 1
    if rows < P.gain_warmup:  # the reference: the mean of the first rows' levels
        S.hx_ref[h] = (S.hx_ref[h] * rows + level) / (rows + 1)
        S.hx_level[h] = S.hx_ref[h]
        return
    level = P.input_gain * S.hx_level[h] + (1.0 - P.input_gain) * level
    S.hx_level[h] = level
    drift = S.hx_ref[h] - level
    S.hx_gain[h] = np.float32(math.exp(drift)) if abs(drift) > P.gain_tolerance else F1


@njit
def positive_log(v):
    """``math.log`` of a positive float32 value, from :data:`BYTE_LOGS` where it is a
    whole number below 256 (the same value, without the call)."""
    if v < np.float32(256.0):
        whole = np.int64(v)
        if np.float32(whole) == v:
            return BYTE_LOGS[whole]
    return math.log(np.float64(v))


@njit
def update_neurons(S, P, h, train):
    """Spiking update of the hidden neurons of hexagon ``h``.

    The potential decays by the cooldown (divided by it) every step; the neuron takes its
    synaptic input only when its refractory counter, shifted right every step, reaches 0
    (then it restarts at the refractory time); it fires when the potential is positive and
    passes on log2(1 + potential). Training also clears the error terms.

    Each block's neurons go through three loops over slices of the buffers: the first,
    without calls or branches, compiles to vector code (indices from 0 through a slice: a
    loop over ``range(base, base + npb)`` of the buffers themselves does not, as Numba
    cannot rule out a negative index) and leaves a firing neuron's potential before the
    log; a second lists the firing ones without a branch (which neurons fire is a coin
    toss, as in ``backward._hidden_slopes``) and a third takes their log. The same
    operations on the same values as one loop, so bit for bit the same results, and
    1.2-1.5 µs less per training row on bananas (docs/engine.md, Time per sample, eleventh
    round; the list: twenty-first round).
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    cooldown = np.float32(P.cooldown)
    refractory = np.uint8(P.refractory)
    fired = np.empty(npb, dtype=np.int64)
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        end = base + npb
        pot, inp, refr = S.n_pot[base:end], S.n_in[base:end], S.n_refr[base:end]
        act, delta = S.n_act[base:end], S.n_delta[base:end]
        for j in range(npb):
            p = pot[j]
            p = p / cooldown if p != F0 else p
            rho = refr[j] >> 1
            take = rho == 0
            p = p + inp[j] if take else p
            refr[j] = refractory if take else rho
            active = p > F0
            inp[j] = F0
            pot[j] = p if active else F0
            act[j] = active
            if train:
                delta[j] = F0
        n = 0
        for j in range(npb):  # listed without a branch: which neurons fire is a coin toss
            fired[n] = j
            n += act[j]
        for j in fired[:n]:
            pot[j] = np.float32(math.log2(np.float64(pot[j]) + 1.0))


@njit
def sigmoid(x):
    """Logistic function of a float32, computed in float64."""
    return np.float32(1.0 / (1.0 + math.exp(-np.float64(x))))


@njit
def outputs_classic(S, h, train):
    """Sigmoid output hexagon and the sparse output layer read from it.

    In training, each free link of an output whose expected value is positive is wired
    with a chance of 1 in 50 per step, to a random neuron of the hexagon that is not at
    0.5, with a weight in [0, 1] whose sign follows that neuron's side of 0.5.
    """
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for i in range(S.hx_nnb[h]):
        base = S.hx_nb[h, i] * npb
        for gid in range(base, base + npb):
            S.n_pot[gid] = sigmoid(S.n_in[gid])
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
        S.o_val[o] = sigmoid(z) if z != F0 else F0


@njit
def outputs_default(S, h):
    """Output neurons are the outputs: sigmoid of their input, 0 when they got none."""
    npb = S.n_in.shape[0] // S.nb_hex.shape[0]
    for o in range(S.o_val.shape[0]):
        if S.o_hex[o] != h:
            continue
        idx = S.o_idx[o]
        gid = S.hx_nb[h, idx // npb] * npb + idx % npb
        v = S.n_in[gid]
        out = sigmoid(v) if v != F0 else F0
        S.n_pot[gid] = out
        S.n_in[gid] = F0
        S.o_val[o] = out

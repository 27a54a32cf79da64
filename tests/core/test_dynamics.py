"""Spiking neuron update (cooldown, refractory time) and the reduction process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import blobs, line_template

from hanami.core import Cluster
from hanami.core import kernels as K
from hanami.core import state as st
from hanami.core.kernels import backward


def _reference_neuron(inputs, cooldown, refractory):
    """The spiking neuron update (kernels/forward.py, ``update_neurons``) written out plainly,
    in float32."""
    f32 = np.float32
    p, rho, out = f32(0), 1, []
    for x in inputs:
        p = f32(p / f32(cooldown))
        rho >>= 1
        if rho == 0:
            p = f32(p + f32(x))
            rho = refractory
        p = p if p > 0 else f32(0)
        p = f32(math.log2(float(p) + 1.0)) if p > 0 else f32(0)
        out.append(p)
    return out


@pytest.mark.parametrize(("cooldown", "refractory"), [(1.5, 3), (1.5, 5), (2.0, 1), (1e9, 20)])
def test_refractory_time_and_cooldown_on_a_scripted_input(cooldown, refractory):
    c = Cluster(line_template(cooldown=cooldown, refractory=refractory), seed=1)
    c._prepare_inputs(np.zeros((1, 1), dtype=np.float32))
    c._prepare_outputs(np.zeros((1, 1), dtype=np.float32))
    c._grow()
    s = c._state
    hidden = 1
    K.add_neuron_block(K.as_ref(s), hidden, 128)
    gid = int(s.hx_nb[hidden, 0]) * 128 + 7
    inputs = [100.0] * 12 + [0.0] * 4 + [-50.0, 80.0]
    seen = []
    for x in inputs:
        s.n_in[gid] = x
        K.update_neurons(K.as_ref(s), c._params, hidden, False)
        seen.append(s.n_pot[gid])
    assert seen == _reference_neuron(inputs, cooldown, refractory)


def test_every_firing_neuron_of_a_block_passes_on_its_log():
    """``forward.update_neurons`` lists the neurons that fire without a branch and takes the
    log of the listed ones only: over a block of inputs of both signs every neuron still
    ends at its own ``log2(1 + p)``, or at 0 where it stays silent."""
    c = Cluster(line_template(cooldown=2.0, refractory=1), seed=1)
    c._prepare_inputs(np.zeros((1, 1), dtype=np.float32))
    c._prepare_outputs(np.zeros((1, 1), dtype=np.float32))
    c._grow()
    s, hidden, npb = c._state, 1, 128
    first = K.add_neuron_block(K.as_ref(s), hidden, npb) * npb
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(3, npb)).astype(np.float32) * 4
    rows[:, -1] = 3.0  # the last neuron fires: a list cut one short misses it
    expect = [_reference_neuron(rows[:, j], 2.0, 1) for j in range(npb)]
    for step, row in enumerate(rows):
        s.n_in[first : first + npb] = row
        K.update_neurons(K.as_ref(s), c._params, hidden, True)
        assert [s.n_pot[first + j] for j in range(npb)] == [e[step] for e in expect]
        fired = [bool(s.n_act[first + j]) for j in range(npb)]
        assert fired == [e[step] > 0 for e in expect]


def test_refractory_period_is_the_bit_length_of_the_setting():
    # input is accepted only when the shifted counter reaches zero: R=5 -> every 3rd step
    out = _reference_neuron([100.0] * 9, 1e9, 5)
    accepted = [i for i in range(1, len(out)) if out[i] > out[i - 1]]
    assert accepted == [3, 6]


def _trained(reduction: bool, profile: str = "default") -> Cluster:
    X, Y = blobs(400, seed=3)
    c = Cluster(line_template(profile=profile, reduction=reduction), seed=4)
    c.train(X, Y)
    return c


def test_reduction_removes_inactive_synapses_and_keeps_persistent_ones():
    c = _trained(reduction=False)
    s = c._state
    used = np.argwhere(s.s_t[: s.meta[st.M_CB]] != st.UNUSED_TARGET)
    cb, slot, _ = used[0]
    n = int(np.count_nonzero(s.s_t[cb, slot] != st.UNUSED_TARGET))
    assert n >= 2, "need a section with two synapses"
    s.s_cnt[cb, slot, :n] = 10  # persistent
    s.s_cnt[cb, slot, 0] = 1  # dies at the next cycle
    kept = (s.s_w[cb, slot, 1:n].copy(), s.s_b[cb, slot, 1:n].copy())
    before = c.metrics()["synapses"]
    c._kernels.reduce(K.as_ref(s), c._params)
    assert np.array_equal(s.s_w[cb, slot, : n - 1], kept[0])  # compacted, order kept
    assert np.array_equal(s.s_b[cb, slot, : n - 1], kept[1])
    assert s.s_t[cb, slot, n - 1] == st.UNUSED_TARGET
    assert np.all(s.s_cnt[cb, slot, : n - 1] == 10)
    assert c.metrics()["synapses"] < before
    assert c.metrics()["synapses_removed"] >= 1


def test_reduction_frees_a_section_without_synapses():
    c = _trained(reduction=False)
    s = c._state
    cb, slot = np.argwhere(s.c_src[: s.meta[st.M_CB]] >= 0)[0]
    src = int(s.c_src[cb, slot])
    s.s_cnt[:] = 10  # everything persistent but the chosen section
    s.s_cnt[cb, slot] = np.where(s.s_t[cb, slot] != st.UNUSED_TARGET, 1, 0)
    sections = c.metrics()["sections"]
    c._kernels.reduce(K.as_ref(s), c._params)
    assert s.c_src[cb, slot] == -1
    assert c.metrics()["sections"] == sections - 1
    assert s.n_use[src] & (1 << s.c_pos[cb, slot]) == 0


def test_an_inhibitory_synapse_into_an_output_that_is_off_counts_as_active():
    """An output neuron is a sigmoid, so its potential is always above 0: with "active"
    meaning a potential above 0, a negative synapse into an output never counted up and
    the reduction kept removing them (docs/engine.md, Reduction). An output is active above
    0.5, where its input is positive, as a hidden neuron is when its input is."""
    X, Y = blobs(300, seed=3)
    c = Cluster(line_template(reduction=True), seed=4)
    c.train(X[:250], Y[:250])
    outputs = np.flatnonzero(c._state.hx_flags & st.HX_OUTPUT)
    cbs = np.flatnonzero(np.isin(c._state.cb_hex[: c._state.meta[st.M_CB]], outputs))
    counted = {True: 0, False: 0}  # synapses that counted up in a step, by sign before it
    for i in range(250, 260):  # no reduction cycle in between (one every 100 samples)
        used = c._state.s_t[cbs] != st.UNUSED_TARGET
        negative = c._state.s_w[cbs] < 0
        before = c._state.s_cnt[cbs].astype(int)
        c.train(X[i : i + 1], Y[i : i + 1])
        up = used & (c._state.s_cnt[cbs] > before)  # read anew: the buffers may have grown
        counted[True] += np.count_nonzero(up & negative)
        counted[False] += np.count_nonzero(up & ~negative)
    assert counted[True] > 0 and counted[False] > 0


@pytest.mark.parametrize("profile", ["classic", "default", "stream"])
def test_reduction_runs_when_enabled_and_the_network_still_learns(profile):
    X, Y = blobs(3000, seed=8)
    results = {}
    for reduction in (False, True):
        c = Cluster(line_template(profile=profile, reduction=reduction), seed=4)
        for _ in range(2):
            c.train(X[:2000], Y[:2000])
        accuracy = (c.request(X[2000:]).argmax(1) == Y[2000:].argmax(1)).mean()
        results[reduction] = (c.metrics(), accuracy)
    assert results[False][0]["synapses_removed"] == 0
    assert results[True][0]["synapses_removed"] > 0
    assert results[True][1] >= 0.85


def test_hidden_slopes_scale_each_neuron_by_its_own_slope():
    """``backward._hidden_slopes`` lists the neurons that fired without a branch: every
    neuron of a used block still gets its own slope, those past ``nb_size`` none."""
    c = Cluster(line_template(), seed=1)
    c._prepare_inputs(np.zeros((1, 1), dtype=np.float32))
    c._prepare_outputs(np.zeros((1, 1), dtype=np.float32))
    c._grow()
    s, hidden, npb = c._state, 1, 128
    blocks = [K.add_neuron_block(K.as_ref(s), hidden, size) for size in (128, 77)]
    rng = np.random.default_rng(0)
    s.n_act[:] = rng.random(s.n_act.shape) < 0.5
    s.n_pot[:] = rng.random(s.n_pot.shape, dtype=np.float32) * 8
    s.n_delta[:] = rng.normal(size=s.n_delta.shape).astype(np.float32)
    before = s.n_delta.copy()
    backward._hidden_slopes(K.as_ref(s), hidden)
    expect = before.copy()
    for nb in blocks:
        for gid in range(nb * npb, nb * npb + int(s.nb_size[nb])):
            slope = backward.LOG2E  # of log2(1 + p) at its output p, at 0 if it did not fire
            if s.n_act[gid]:
                slope = slope * np.float32(2.0 ** -float(s.n_pot[gid]))
            expect[gid] = before[gid] * slope
    assert s.n_delta.tobytes() == expect.tobytes()
    assert np.count_nonzero(s.n_delta != before) == 128 + 77


def test_counted_steps_of_long_sections_follow_the_formula():
    """``backward.update_block_default`` with a step per synapse (``decay``) takes a long
    section's steps in a loop of their own after the walk (vector code): every walked
    synapse of every section still steps by ``lr * d / (1 + n * decay)`` and counts up to
    ``steps_max``, and only a hidden source collects its share."""
    f32, syn = np.float32, 40
    rng = np.random.default_rng(3)
    stops = np.array([30, 5, 17], dtype=np.uint8)  # two long sections, one short
    kinds = np.array([1, 0, 0], dtype=np.uint8)  # an input source, two hidden ones
    sw = rng.normal(size=(3, syn)).astype(f32)
    sv = rng.integers(0, 20, size=(3, syn)).astype(f32)
    st_ = rng.integers(0, 8, size=(3, syn)).astype(np.uint8)
    t_delta = rng.normal(size=8).astype(f32)
    n_delta = np.zeros(4, dtype=f32)
    lr, decay, steps_max = f32(0.2), f32(0.001), f32(19.0)
    w0, v0 = sw.copy(), sv.copy()
    backward.update_block_default(
        np.arange(3, dtype=np.int32), 3, np.array([3, 1, 2], dtype=np.int32), kinds, stops,
        sw, st_, np.zeros((3, syn), np.uint8), sv, np.zeros(8, f32), t_delta, n_delta, lr,
        False, f32(0), f32(1e-8), False, f32(0), np.empty(syn, f32), decay, steps_max,
    )  # fmt: skip
    expect_w, expect_v, expect_n = w0.copy(), v0.copy(), np.zeros(4, dtype=f32)
    for slot in range(3):
        acc = f32(0)
        for k in range(stops[slot]):
            d = t_delta[st_[slot, k]]
            acc = f32(acc + d * w0[slot, k])
            expect_w[slot, k] = w0[slot, k] - lr * d / (f32(1) + decay * v0[slot, k])
            expect_v[slot, k] = min(v0[slot, k] + f32(1), steps_max)
        if kinds[slot] == 0:
            expect_n[[3, 1, 2][slot]] += acc
    assert sw.tobytes() == expect_w.tobytes()
    assert sv.tobytes() == expect_v.tobytes()
    assert n_delta.tobytes() == expect_n.tobytes()
    assert np.count_nonzero(sw != w0) == 30 + 5 + 17


def test_input_level_logs_of_whole_values_equal_the_compiled_log():
    """The input level takes the logs of whole values below 256 (MNIST's pixels) from a
    table: each must be the kernels' own ``math.log`` bit for bit, and other values still
    get it computed."""
    from numba import njit

    from hanami.core.kernels import forward

    @njit
    def compiled_log(v):
        return math.log(np.float64(v))

    values = np.concatenate([np.arange(1, 256), [0.5, 3.25, 255.5, 256, 1e6]])
    for v in values.astype(np.float32):
        assert forward.positive_log(v) == compiled_log(v), v
    assert forward.BYTE_LOGS[200] == math.log(200.0)

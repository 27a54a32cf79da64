"""The levers of the stream profile, each on a case it changes (docs/engine.md, The stream
profile): roots per neuron, a first synapse in pieces, splits at the value, adaptive steps,
and checkpoints that carry the adaptive state."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from engine_helpers import blobs, line_template
from test_growth import _forward, _input_section, _single_input

from hanami.core import Cluster, checkpoint, profiles
from hanami.core import state as st
from hanami.core.profiles import PROFILES, input_roots


def test_input_roots_scale_with_the_number_of_inputs():
    stream = PROFILES["stream"]
    assert input_roots(stream, 4) == 8  # at most MAX_ROOTS
    assert input_roots(stream, 64) == 4
    assert input_roots(stream, 784) == 3  # min_input_roots
    assert input_roots(PROFILES["default"], 4) == 1


def test_a_narrow_input_gets_one_section_per_root():
    sections = {}
    for profile in ("default", "stream"):
        c = _single_input(profile)
        _forward(c, 10.0)
        s = c._state
        gid = int(s.hx_nb[0, 0]) * c.profile.neurons_per_block  # the input neuron
        sections[profile] = int(np.count_nonzero(s.c_src == gid))
    assert sections == {"default": 1, "stream": 8}


def test_first_synapse_is_created_in_pieces():
    c = _single_input("stream")
    _forward(c, 16.0)
    cb, slot = _input_section(c)
    s = c._state
    used = s.s_t[cb, slot] != st.UNUSED_TARGET
    assert np.allclose(s.s_b[cb, slot][used], [2.0] * 8)


def _section_input(c: Cluster, cb: int, slot: int, q: float) -> np.ndarray:
    """What the section adds to each neuron of its target block for potential ``q``."""
    s = c._state
    out = np.zeros(c.profile.neurons_per_block)
    for b, w, t in zip(s.s_b[cb, slot], s.s_w[cb, slot], s.s_t[cb, slot], strict=True):
        if q <= 0 or t == st.UNUSED_TARGET:
            break
        out[t] += w * min(q / b, 1.0)
        q -= b
    return out


def test_function_preserving_split_keeps_the_output_and_adds_a_synapse(monkeypatch):
    # one input neuron is a very narrow input, whose sections stop splitting at their first
    # pieces (Profile.narrow_inputs): the split itself is tested here with that rule off
    splitting = dataclasses.replace(PROFILES["stream"], narrow_inputs=0)
    monkeypatch.setitem(PROFILES, "stream", splitting)
    c = _single_input("stream")
    _forward(c, 16.0)  # eight borders of 2.0
    cb, slot = _input_section(c)
    s = c._state
    before = _section_input(c, cb, slot, 3.0)
    synapses = int(np.count_nonzero(s.s_t[cb, slot] != st.UNUSED_TARGET))
    _forward(c, 3.0)  # runs out inside the second border, in its middle: a split
    after = _section_input(c, cb, slot, 3.0)
    assert np.count_nonzero(s.s_t[cb, slot] != st.UNUSED_TARGET) == synapses + 1
    # the later synapses moved up one position, in order, and the free ones stayed free
    assert s.s_b[cb, slot][:10].tolist() == pytest.approx([2.0, 1.0, 1.0] + [2.0] * 6 + [0.0])
    assert s.s_t[cb, slot, 1] == s.s_t[cb, slot, 2]  # same target: the function is kept
    assert np.allclose(before, after, atol=1e-6)


def test_adaptive_steps_keep_a_running_square_per_synapse():
    """The stream profile's steps adapt everywhere, the default's on output synapses only
    (``output_adaptive``)."""
    X, Y = blobs(200, seed=3)
    kept = {}
    for profile in ("classic", "default", "stream"):
        c = Cluster(line_template(profile=profile), seed=1)
        c.train(X, Y)
        s = c._state
        used = int(s.meta[st.M_CB])
        into_output = (s.hx_flags[s.cb_hex[:used]] & st.HX_OUTPUT) != 0
        squares = np.any(s.s_v[:used] != 0, axis=(1, 2))
        kept[profile] = (bool(squares[into_output].any()), bool(squares[~into_output].any()))
    assert kept == {"classic": (False, False), "default": (True, False), "stream": (True, True)}


def test_checkpoint_keeps_the_adaptive_state():
    X, Y = blobs(300, seed=5)
    c = Cluster(line_template(profile="stream"), seed=2)
    c.train(X, Y)
    again = Cluster.from_bytes(c.to_bytes())
    used = int(c._state.meta[st.M_CB])
    assert np.array_equal(again._state.s_v[:used], c._state.s_v[:used])
    assert np.array_equal(again.request(X), c.request(X))
    again.train(X[:50], Y[:50])
    c.train(X[:50], Y[:50])
    assert np.array_equal(again.request(X), c.request(X))


def test_state_saved_before_the_levers_still_loads():
    """Checkpoints written before this change have no ``s_v`` and a uint8 ``n_use``."""
    X, Y = blobs(300, seed=5)
    c = Cluster(line_template(), seed=2)
    c.train(X, Y)
    arrays = {name: np.array(a) for name, a in c._state._asdict().items() if name != "s_v"}
    arrays["n_use"] = arrays["n_use"].astype(np.uint8)
    old = checkpoint.restore(c.template.to_text(), [int(n) for n in c._out_n],
                             c._rng.bit_generator.state, arrays)  # fmt: skip
    assert old._state.n_use.dtype == np.uint32
    assert np.array_equal(old.request(X), c.request(X))


def test_each_lever_of_the_stream_profile_matters_on_a_small_stream(monkeypatch):
    """One pass over raw 8-feature blobs: the stream profile beats the default one, and
    turning any one lever back to the default's value changes what it predicts (the blobs
    are easy: two settings can score the same accuracy with different outputs)."""
    X, Y = blobs(1500, seed=7)

    def prequential(profile: str) -> np.ndarray:
        c = Cluster(line_template(profile=profile), seed=3)
        return c.train(X, Y, return_outputs=True).outputs

    def accuracy(outputs: np.ndarray) -> float:
        return float((outputs.argmax(1) == Y.argmax(1)).mean())

    stream = prequential("stream")
    assert accuracy(stream) > accuracy(prequential("default")) + 0.05
    default = PROFILES["default"]
    for lever in ("input_roots", "first_pieces", "adaptive", "cross_entropy", "halve_borders"):
        off = dataclasses.replace(PROFILES["stream"], **{lever: getattr(default, lever)})
        monkeypatch.setitem(PROFILES, "stream", off)
        assert not np.allclose(prequential("stream"), stream, atol=0.01), lever
        monkeypatch.undo()


def test_a_walk_that_cannot_split_leaves_the_borders_alone(monkeypatch):
    """A value that runs out near the edge of a border (no split there) must not move the
    borders (``halve_borders`` off): moving them changes the code of every larger value,
    and a full section would keep changing what it computes."""

    def moved(profile: str) -> bool:
        c = _single_input(profile)
        _forward(c, 16.0)  # eight borders of 2.0
        cb, slot = _input_section(c)
        borders = c._state.s_b[cb, slot].copy()
        before = [_section_input(c, cb, slot, q) for q in (3.0, 5.0, 9.0)]
        _forward(c, 2.1)  # runs out 5 % into the second border: outside the split margin
        after = [_section_input(c, cb, slot, q) for q in (3.0, 5.0, 9.0)]
        kept = all(np.allclose(b, a, atol=1e-6) for b, a in zip(before, after, strict=True))
        return not kept or not np.array_equal(borders, c._state.s_b[cb, slot])

    assert not moved("stream")
    halving = dataclasses.replace(PROFILES["stream"], halve_borders=True)
    monkeypatch.setitem(PROFILES, "stream", halving)
    assert moved("stream")


def _narrow_blobs(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four raw features (0..~120), ``classes`` Gaussian blobs: a narrow stream, so the
    stream profile gives every input neuron eight roots."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 100, (classes, 4))
    labels = rng.integers(0, classes, n)
    X = np.clip(centres[labels] + rng.normal(0, 8, (n, 4)), 0, None).astype(np.float32)
    return X, np.eye(classes, dtype=np.float32)[labels]


def _passes(X: np.ndarray, Y: np.ndarray, seed: int, n_passes: int) -> list[float]:
    """Prequential accuracy of each pass of one stream-profile cluster over ``(X, Y)``."""
    c = Cluster(line_template(profile="stream"), seed=seed)
    accuracies = []
    for _ in range(n_passes):
        out = c.train(X, Y, return_outputs=True).outputs
        accuracies.append(float((out.argmax(1) == Y.argmax(1)).mean()))
    return accuracies


def test_more_passes_keep_what_was_learned(monkeypatch):
    """Four inputs, ten classes, three passes: without the halving the network keeps what
    it learned (passes 2 and 3 at 98.8-98.9 %, above 99 % while hidden sections of one
    root still split); halving borders keeps rewriting the full input sections and holds
    it near 96.5 %."""
    X, Y = _narrow_blobs(3000, 10, seed=0)
    kept = _passes(X, Y, seed=0, n_passes=3)
    assert min(kept[1:]) > 0.985
    halving = dataclasses.replace(PROFILES["stream"], halve_borders=True)
    monkeypatch.setitem(PROFILES, "stream", halving)
    assert max(_passes(X, Y, seed=0, n_passes=3)[1:]) < 0.975


def test_hidden_synapses_learn_slower_with_more_roots(monkeypatch):
    """Four inputs, thirty classes, one pass, three seeds: eight roots per input move eight
    times the synapses into each hidden neuron, and dividing their rate by the roots
    scores better than the full rate (83.8 against 83.0 % with the wide hidden blocks of
    docs/engine.md, Wider hidden blocks for many classes; 1.4 before them)."""

    def mean_accuracy() -> float:
        runs = [_passes(*_narrow_blobs(3000, 30, seed), seed=seed, n_passes=1)[0]
                for seed in range(3)]  # fmt: skip
        return float(np.mean(runs))

    by_roots = mean_accuracy()
    full = dataclasses.replace(PROFILES["stream"], hidden_rate_by_roots=False)
    monkeypatch.setitem(PROFILES, "stream", full)
    assert by_roots > mean_accuracy() + 0.005


@pytest.mark.parametrize("profile", ["stream", "default"])
def test_inline_walks_change_nothing_but_the_code(monkeypatch, profile):
    """``inline_walks`` compiles the training walk into the hexagon's loop: the same
    network, bit for bit, as with a call per block (docs/engine.md, Time per sample,
    twenty-second round), also under the default rules, where narrow inputs (below
    ``INLINE_INPUTS``: the regressors' streams) now take it (twenty-third round)."""
    X, Y = blobs(600, seed=5)

    def trained(inline: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        c = Cluster(line_template(profile=profile), seed=4)
        outputs = c.train(X, Y, return_outputs=True).outputs
        assert c._params.inline_walks == inline
        return outputs, [c._state.s_w.copy(), c._state.s_b.copy(), c._state.s_t.copy()]

    assert PROFILES["stream"].inline_walks and not PROFILES["default"].inline_walks
    inline = trained(True)
    called = dataclasses.replace(PROFILES[profile], inline_walks=False)
    monkeypatch.setitem(PROFILES, profile, called)
    monkeypatch.setattr(profiles, "INLINE_INPUTS", 0)
    per_block = trained(False)
    assert np.array_equal(inline[0], per_block[0])
    assert all(np.array_equal(a, b) for a, b in zip(inline[1], per_block[1], strict=True))


def test_only_wide_inputs_of_the_default_profile_walk_with_a_call_per_block():
    """MNIST's step was slower with the walk inside the hexagon's loop (nineteenth round):
    the default profile keeps the call from ``INLINE_INPUTS`` inputs on."""
    default, stream = PROFILES["default"], PROFILES["stream"]
    assert profiles.shape_fields(default, 13 * 6, 3)["inline_walks"] is False
    assert profiles.shape_fields(default, 784, 10)["inline_walks"] is False
    assert profiles.shape_fields(default, 6 * 6, 1)["inline_walks"] is True
    assert profiles.shape_fields(stream, 784, 10)["inline_walks"] is True

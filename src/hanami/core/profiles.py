"""What a profile decides: block geometry, learning constants, and the kernels' parameters.

:class:`Profile` holds the constants of each profile (:data:`PROFILES`); :class:`Params` is
the one record the kernels read them from, built by :func:`make_params` from a profile and
a template's settings. Which kernels run is chosen by profile name in Python
(``hanami.core.kernels.KERNELS[profile.rules]``); compiled code never tests the profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from hanami.core.state import UNUSED_TARGET

if TYPE_CHECKING:
    from hanami.core.template import Template

REDUCTION_INTERVAL = 100  # training samples between two reduction cycles
RESERVE_BLOCKS = 4  # spare blocks kept besides 2 per hexagon and half the used ones
INPUT_FANOUT = 256  # input_roots=0: root sections of all input neurons together, about
OUTPUTS_PER_ROOT = 12  # hidden_roots=0: one root section per hidden neuron per 12 outputs
MAX_ROOTS = 8  # root sections per neuron, at most (chain positions follow them in n_use)
ADAPTIVE_EPS = 1e-4  # added to the root of the running squared step (adaptive)
GAIN_TOLERANCE = 0.6931  # input_gain: the running log level must move by more than log 2
# from the stream's first rows before the gain moves (docs/engine.md, Input gain)
GAIN_WARMUP = 100  # input_gain: rows whose mean level is the reference
WIDE_INPUTS = 64  # input_gain, wide_pieces: only inputs this wide have a level that is not
# the data's, and only there did a first synapse in pieces help (docs/engine.md, First
# synapses in pieces for wide inputs)
INLINE_INPUTS = 64  # below this many inputs every profile compiles the training walk into
# the hexagon's loop (inline_walks): few blocks, short walks; the regressors' streams 4-5 %
# less CPU (docs/engine.md, Time per sample, twenty-third round)
MAX_SECTION_SYNAPSES = 255  # synapses a section may hold (the walk's count is a uint8)
SPLIT_MARGIN = 0.1  # a split happens only where the potential is inside the border's
# middle (margin, 1 - margin): a split at the very edge would leave a sliver synapse


@dataclass(frozen=True)
class Profile:
    """Block geometry and learning constants of a profile."""

    name: str
    rules: str  # which kernels run: "classic" (OpenHanami's rules) or "default" (ours)
    neurons_per_block: int
    sections_per_block: int
    synapses_per_section: int
    learning_rate: float
    output_learning_rate: float
    threshold: float
    max_sections_per_neuron: int
    cross_entropy: bool = False
    learning_rate_decay: float = 0.0
    learning_rate_min: float = 0.0
    initial_weight: float = 0.1  # new synapses get |w| uniform in [0, 2 * initial_weight]
    input_roots: int = 1  # root sections per input neuron; 0: INPUT_FANOUT // inputs, 1 to 8
    min_input_roots: int = 1  # input_roots=0: at least this many, however wide the input
    hidden_roots: int = 1  # root sections per hidden neuron; 0: outputs // 12, 1 to 8
    input_split: int = 0  # partly covered input synapse: 0 halve rule, 1 or 2 split (walks.py)
    hidden_split: int = 0  # the same for sections of hidden neurons
    hidden_split_roots: int = 1  # ... only where hidden neurons have at least this many roots
    input_split_synapses: int = 0  # where min_input_roots lifts the roots (wide inputs), an
    # input section splits only while it has fewer synapses than this (0: no limit;
    # docs/engine.md, Shorter input sections for wide inputs)
    narrow_inputs: int = 0  # ... and where there are at most this many input neurons (very
    # narrow inputs, roots at MAX_ROOTS; docs/engine.md, Time per sample, seventh round)
    first_pieces: int = 1  # a section's first synapse is created as this many pieces
    wide_pieces: int = 0  # ... this many where the inputs are WIDE_INPUTS or more (pixels;
    # 0: first_pieces; docs/engine.md, First synapses in pieces for wide inputs)
    many_class_pieces: int = 0  # ... this many where hidden neurons have several roots (many
    # classes; 0: first_pieces; docs/engine.md, Wider hidden blocks for many classes)
    few_class_hidden: int = 0  # hidden blocks use only this many of their neurons where
    # hidden neurons have one root (a few classes; 0: all neurons_per_block)
    adaptive: float = 0.0  # RMSProp decay of per-synapse squared steps (0: plain step)
    output_adaptive: float = 0.0  # the same for synapses into output neurons only, which
    # then step by output_rate, constant (docs/engine.md, Adaptive output steps)
    output_rate: float = 0.001
    leak: float = 0.0  # share of the error a silent hidden source gets (backward.py)
    mean_backprop: bool = False  # a hidden neuron's error: mean, not sum, over its synapses
    # The estimators code each feature around these running quantiles of its values
    # (hanami.estimators._coding); empty: around 0. The engine itself never reads it.
    input_quantiles: tuple[float, ...] = ()
    halve_borders: bool = True  # an oversized partly covered border gives half to the next
    # position (walks.py); it moves the code of every larger value, so a full section keeps
    # changing what it computes (docs/engine.md, The stream profile)
    hidden_rate_by_roots: bool = False  # synapses into hidden neurons learn at the rate
    # divided by the input roots per neuron (docs/engine.md, The stream profile)
    learned_margin: float = 0.0  # a sample of 0/1 expected values whose every output is
    # within this of its own is not learned (docs/engine.md, Learned samples; 0: all are)
    narrow_margin: float = 0.0  # learned_margin where there are at most narrow_inputs input
    # neurons (0: learned_margin; docs/engine.md, Time per sample, fourteenth round)
    input_gain: float = 0.0  # decay of the running log level of an input hexagon's positive
    # values; once it moved by more than GAIN_TOLERANCE the inputs are scaled back to the
    # level of the stream's first rows, on inputs of WIDE_INPUTS values or more
    # (docs/engine.md, Input gain; 0: raw values always)
    wide_rate: float = 0.0  # where the inputs are WIDE_INPUTS or more, synapses into hidden
    wide_decay: float = 0.0  # neurons step at wide_rate / (1 + n * wide_decay), n the
    # learned samples that walked the synapse so far, instead of the schedule over samples
    # (0: that schedule everywhere; docs/engine.md, A step size per synapse for wide inputs)
    wide_rate_min: float = 0.0  # ... and never below this (the count stops where the step
    # reaches it), so a long-running cluster keeps learning (0: no floor)
    wide_synapses: int = 0  # where the inputs are WIDE_INPUTS or more, sections hold up to
    wide_synapses_after: int = 0  # this many synapses once the cluster has trained this
    # many samples, synapses_per_section before (0: synapses_per_section always;
    # docs/engine.md, Longer sections for a cluster that has learned a while)
    distinct_targets: bool = False  # a new synapse's target differs from those of its
    # section's previous synapses (docs/engine.md, Levers tried on MNIST and not kept;
    # Input gain)
    inline_walks: bool = False  # the training walk is compiled into the hexagon's loop (no
    # call per block) also on INLINE_INPUTS or more (below that always); speed only, the
    # results are the same (walks.py; docs/engine.md, Time per sample, twenty-second and
    # twenty-third rounds)

    def __post_init__(self) -> None:
        # a synapse's target is a uint8 index into its block and 255 marks "unused", so a
        # block of more than 255 neurons would silently drop every synapse that drew 255
        if self.neurons_per_block > UNUSED_TARGET:
            raise ValueError(f"neurons_per_block must be at most {UNUSED_TARGET}")
        # a walk counts the synapses it reached in a uint8 (c_stop)
        if max(self.synapses_per_section, self.wide_synapses) > MAX_SECTION_SYNAPSES:
            raise ValueError(
                f"synapses_per_section and wide_synapses must be at most {MAX_SECTION_SYNAPSES}"
            )


PROFILES = {
    "classic": Profile("classic", "classic", 128, 512, 128, 0.1, 0.1, 1e-5, 1),
    # Hanami March 2024 rules with a learning rate that starts at 0.1 and decays as
    # 0.1 / (1 + samples / 40,000) to a floor of 0.03 (the floor comes later than with
    # 20,000 since most samples skip the backward pass), new weights 8 times smaller
    # (|w| up to 0.025 instead of 0.2), 72 synapses per section (64 before issue 8's re-
    # tuning: a pixel reaches more hidden neurons), RMSProp steps of a constant scale on
    # the synapses into outputs, no backward pass for a sample whose outputs are all
    # within 0.3 of its classes, distinct targets in a section, an input gain that
    # carries a wide input's change of range, and there a first synapse in two pieces
    # and a step size per synapse that falls with the synapse's own steps, and sections
    # of 192 synapses after 60,000 samples; docs/engine.md has the measurements. The
    # estimators code features around running quantiles (the engine never reads it).
    "default": Profile("default", "default", 128, 512, 72, 0.1, 0.1, 0.01, 8,
                       learning_rate_decay=2.5e-5, learning_rate_min=0.03,
                       initial_weight=0.0125, input_quantiles=(0.2, 0.5, 0.8),
                       output_adaptive=0.999, output_rate=0.0004, learned_margin=0.3,
                       distinct_targets=True, input_gain=0.9, wide_pieces=2,
                       wide_rate=0.2, wide_decay=1e-3, wide_rate_min=0.01,
                       wide_synapses=192, wide_synapses_after=60_000),
    # The default rules with every lever of docs/engine.md, The stream profile: several
    # roots per neuron, splits at the value, a first synapse in pieces, per-synapse
    # adaptive steps on a cross-entropy error, a leak to silent neurons, hidden blocks of
    # 240 neurons (128 used while the classes are few). Best on the
    # classification streams of benchmarks/streams.py; "default" stays better on
    # regression and MNIST (the measurements are in docs/engine.md).
    "stream": Profile("stream", "default", 240, 512, 64, 0.001, 0.1, 0.001, 8,
                      cross_entropy=True, initial_weight=0.05, input_roots=0,
                      min_input_roots=3, hidden_roots=0, input_split=2, hidden_split=1,
                      hidden_split_roots=2, input_split_synapses=8, narrow_inputs=16,
                      narrow_margin=0.2,
                      first_pieces=8,
                      many_class_pieces=16,
                      few_class_hidden=128,
                      adaptive=0.999, leak=0.1, mean_backprop=True, halve_borders=False,
                      hidden_rate_by_roots=True, input_quantiles=(0.2, 0.5, 0.8),
                      inline_walks=True),
}  # fmt: skip


class Params(NamedTuple):
    """Everything the kernels read besides the state (Numba passes it as a typed tuple).

    Floats are float64 and the kernels cast to float32 where they compute, as they did
    when this was a float64 array.
    """

    cooldown: float  # a hidden neuron's potential is divided by this every step
    refractory: int  # refractory time: a neuron takes new input every bit_length(n) steps
    lr: float  # learning rate at sample 0: lr / (1 + samples * lr_decay), at least lr_min
    lr_decay: float  # see lr (0: constant)
    lr_min: float  # see lr
    lr_out: float  # classic: learning rate of the sparse output layer
    threshold: float  # a section walk stops when no more potential than this is left
    init_weight: float  # new synapses get |w| uniform in [0, 2 * init_weight]
    max_sections: int  # default: sections per neuron (a chain over rising potentials)
    cross_entropy: bool  # default: output error without the sigmoid slope (off)
    input_roots: int  # root sections per input neuron (resolved: at least 1)
    hidden_roots: int  # root sections per hidden neuron
    input_split: int  # see Profile
    input_split_synapses: int  # see Profile (resolved by input_fields)
    hidden_split: int  # see Profile (resolved: 0 below hidden_split_roots roots)
    split_margin: float  # see SPLIT_MARGIN
    first_pieces: int  # see Profile (resolved by first_pieces: many_class_pieces, wide_pieces)
    hidden_size: int  # neurons a new hidden block uses (0: all; resolved from few_class_hidden)
    adaptive: float  # see Profile
    adaptive_eps: float  # see ADAPTIVE_EPS
    output_adaptive: float  # see Profile
    output_rate: float  # see Profile
    leak: float  # see Profile
    mean_backprop: bool  # see Profile
    halve_borders: bool  # see Profile
    hidden_rate_by_roots: bool  # see Profile
    learned_margin: float  # see Profile (resolved by input_fields)
    input_gain: float  # see Profile (resolved: 0 below WIDE_INPUTS inputs)
    gain_tolerance: float  # see GAIN_TOLERANCE
    gain_warmup: int  # see GAIN_WARMUP
    distinct_targets: bool  # see Profile
    inline_walks: bool  # see Profile (resolved by shape_fields)
    synapse_rate: float  # see Profile.wide_rate (resolved by shape_fields)
    synapse_decay: float  # see Profile.wide_decay (resolved: 0 below WIDE_INPUTS inputs)
    synapse_steps_max: float  # see Profile.wide_rate_min (resolved: the count at the floor)
    long_synapses: int  # see Profile.wide_synapses (resolved: 0 below WIDE_INPUTS inputs)
    long_after: int  # see Profile.wide_synapses_after
    reduction: bool  # age synapses and remove those no longer used
    reduction_interval: int  # training samples between two reduction cycles
    reserve_blocks: int  # blocks kept spare beyond half the used neuron blocks
    grows: bool  # rows stop for the buffers to grow (False: at Cluster.max_bytes, see capacity)


def input_roots(profile: Profile, inputs: int) -> int:
    """Root sections per input neuron for ``inputs`` input neurons.

    With ``profile.input_roots == 0`` a narrow input gets several sections per neuron, each
    its own random thermometer code into a random hexagon, so four inputs reach about as
    many hidden neurons as hundreds of pixels do (docs/engine.md, Input roots); a wide input
    still gets ``profile.min_input_roots`` codes per neuron, where one alone left each pixel
    a single coarse code (docs/engine.md, The stream profile).
    """
    if profile.input_roots:
        return min(profile.input_roots, MAX_ROOTS)
    fanout = max(INPUT_FANOUT // max(inputs, 1), profile.min_input_roots, 1)
    return int(min(fanout, MAX_ROOTS))


def input_fields(profile: Profile, inputs: int, gain: bool = True) -> dict[str, float | int]:
    """The parameters that follow the number of input neurons: the input roots, how many synapses an
    input section may split into, the learned margin, and the input gain: the level of a row of
    a few features is the data itself (a rising value, a large class), so only rows of at least
    ``WIDE_INPUTS`` values (pixels) get one. Where ``profile.min_input_roots`` lifts the roots
    above ``INPUT_FANOUT // inputs`` (wide inputs), every input section is walked on every row
    its feature fires, so its length is the step's cost: there the splits stop at
    ``profile.input_split_synapses`` (docs/engine.md, Shorter input sections for wide inputs).
    So they do on very narrow inputs (at most ``profile.narrow_inputs`` neurons, two features in
    the estimators' coding): there each neuron already has ``MAX_ROOTS`` codes, and the splits
    made every input section a walk of about 30 synapses for no accuracy (docs/engine.md, Time
    per sample, seventh round); the inputs in between keep splitting to the section's end. Very
    narrow inputs also skip the backward pass of samples within ``profile.narrow_margin`` of
    their classes: a long stream of two features brings mostly rows it has learned
    (docs/engine.md, Time per sample, fourteenth round). ``gain`` False (the template's
    ``input_gain: false``) turns the gain off."""
    roots = input_roots(profile, inputs)
    narrow = inputs <= profile.narrow_inputs
    lifted = INPUT_FANOUT // max(inputs, 1) < roots or narrow
    cap = (profile.input_split_synapses if lifted else 0) or profile.synapses_per_section
    margin = profile.narrow_margin if narrow and profile.narrow_margin else profile.learned_margin
    gain = profile.input_gain if gain and inputs >= WIDE_INPUTS else 0.0
    return {"input_roots": roots, "input_split_synapses": int(cap),
            "learned_margin": float(margin), "input_gain": float(gain)}  # fmt: skip


def hidden_roots(profile: Profile, outputs: int) -> int:
    """Root sections per hidden neuron for ``outputs`` output neurons.

    With ``profile.hidden_roots == 0`` a hidden neuron gets one root per
    :data:`OUTPUTS_PER_ROOT` outputs: one code of its value is enough to tell a few classes
    apart, and more roots cost accuracy there; fifty classes need several (docs/engine.md,
    Hidden roots from the outputs).
    """
    if profile.hidden_roots:
        return min(profile.hidden_roots, MAX_ROOTS)
    return int(min(max(outputs // OUTPUTS_PER_ROOT, 1), MAX_ROOTS))


def hidden_fields(profile: Profile, outputs: int) -> dict[str, int]:
    """The parameters that follow the number of outputs: the hidden roots, and the hidden
    split rule, which runs only where a hidden neuron has ``profile.hidden_split_roots``
    roots or more: on the stream suite the splits cost accuracy where hidden neurons have
    one root (a few classes) and gain where they have four (fifty classes; docs/engine.md,
    Wide inputs and hidden splits). With several roots hidden blocks also use all their
    neurons; with one root, a wider hidden layer costs accuracy (docs/engine.md, Wider
    hidden blocks for many classes)."""
    roots = hidden_roots(profile, outputs)
    split = profile.hidden_split if roots >= profile.hidden_split_roots else 0
    return {
        "hidden_roots": roots,
        "hidden_split": int(split),
        "hidden_size": 0 if roots > 1 else int(profile.few_class_hidden),
    }


def first_pieces(profile: Profile, inputs: int, outputs: int) -> int:
    """How many pieces a section's first synapse is created as: ``many_class_pieces``
    where hidden neurons have several roots (many classes; with one root more pieces
    cost accuracy, docs/engine.md, Wider hidden blocks for many classes), else
    ``wide_pieces`` on inputs of ``WIDE_INPUTS`` values or more (two pieces lifted MNIST
    but cost a three-feature task its accuracy, docs/engine.md, First synapses in pieces
    for wide inputs), else ``first_pieces``."""
    if hidden_roots(profile, outputs) > 1 and profile.many_class_pieces:
        return int(profile.many_class_pieces)
    if inputs >= WIDE_INPUTS and profile.wide_pieces:
        return int(profile.wide_pieces)
    return int(profile.first_pieces)


def synapse_fields(profile: Profile, inputs: int) -> dict[str, float | int]:
    """The step size of synapses into hidden neurons: on inputs of ``WIDE_INPUTS`` values or
    more, ``wide_rate / (1 + n * wide_decay)`` after ``n`` learned samples that walked the
    synapse: a pixel that seldom fires keeps large steps while a busy one settles
    (docs/engine.md, A step size per synapse for wide inputs); elsewhere (``synapse_decay``
    0) the schedule over samples, which the narrow streams were tuned with. The count
    stops where the step reaches ``wide_rate_min`` (``synapse_steps_max``), so a cluster
    that runs for months still follows a change of its data. On the same inputs sections
    hold ``wide_synapses`` synapses after ``wide_synapses_after`` samples: finer codes of
    the pixels for a cluster that keeps learning, at no cost to its first samples."""
    wide = inputs >= WIDE_INPUTS and profile.wide_decay > 0.0
    floor = profile.wide_rate_min
    long = inputs >= WIDE_INPUTS and profile.wide_synapses > profile.synapses_per_section
    return {
        "long_synapses": int(profile.wide_synapses) if long else 0,
        "long_after": int(profile.wide_synapses_after) if long else 0,
        "synapse_rate": float(profile.wide_rate) if wide else 0.0,
        "synapse_decay": float(profile.wide_decay) if wide else 0.0,
        "synapse_steps_max": (
            float(round((profile.wide_rate / floor - 1.0) / profile.wide_decay))
            if wide and floor
            else math.inf
        ),
    }


def shape_fields(
    profile: Profile, inputs: int, outputs: int, gain: bool = True
) -> dict[str, float | int]:
    """Every parameter that follows the widths of the inputs and outputs seen so far
    (:func:`input_fields`, :func:`hidden_fields`, :func:`synapse_fields`,
    :func:`first_pieces`)."""
    return {
        **input_fields(profile, inputs, gain),
        **hidden_fields(profile, outputs),
        **synapse_fields(profile, inputs),
        "first_pieces": first_pieces(profile, inputs, outputs),
        "inline_walks": bool(profile.inline_walks) or inputs < INLINE_INPUTS,
    }


def make_params(profile: Profile, template: Template, inputs: int = 0, outputs: int = 0) -> Params:
    """The kernels' parameters for a cluster of ``template`` under ``profile`` whose input
    interfaces have ``inputs`` neurons and output interfaces ``outputs`` in all so far."""
    settings = template.settings
    return Params(
        cooldown=float(settings.neuron_cooldown),
        refractory=int(settings.refractory_time),
        lr=float(profile.learning_rate),
        lr_decay=float(profile.learning_rate_decay),
        lr_min=float(profile.learning_rate_min),
        lr_out=float(profile.output_learning_rate),
        threshold=float(profile.threshold),
        init_weight=float(profile.initial_weight),
        max_sections=int(profile.max_sections_per_neuron),
        cross_entropy=bool(profile.cross_entropy),
        **shape_fields(profile, inputs, outputs, settings.input_gain),
        input_split=int(profile.input_split),
        split_margin=SPLIT_MARGIN,
        adaptive=float(profile.adaptive),
        adaptive_eps=ADAPTIVE_EPS,
        output_adaptive=float(profile.output_adaptive),
        output_rate=float(profile.output_rate),
        leak=float(profile.leak),
        mean_backprop=bool(profile.mean_backprop),
        halve_borders=bool(profile.halve_borders),
        hidden_rate_by_roots=bool(profile.hidden_rate_by_roots),
        gain_tolerance=GAIN_TOLERANCE,
        gain_warmup=GAIN_WARMUP,
        distinct_targets=bool(profile.distinct_targets),
        reduction=bool(settings.enable_reduction),
        reduction_interval=REDUCTION_INTERVAL,
        reserve_blocks=RESERVE_BLOCKS + 2 * len(template.hexagons),
        grows=True,
    )

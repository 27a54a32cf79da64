"""What a profile decides: block geometry, learning constants, and the kernels' parameters.

:class:`Profile` holds the constants of each profile (:data:`PROFILES`); :class:`Params` is
the one record the kernels read them from, built by :func:`make_params` from a profile and
a template's settings. Which kernels run is chosen by profile name in Python
(``hanami.core.kernels.KERNELS``); compiled code never tests the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from hanami.core.template import Template

REDUCTION_INTERVAL = 100  # training samples between two reduction cycles
RESERVE_BLOCKS = 4  # spare blocks kept besides 2 per hexagon and half the used ones


@dataclass(frozen=True)
class Profile:
    """Block geometry and learning constants of a profile."""

    name: str
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


PROFILES = {
    "classic": Profile("classic", 128, 512, 128, 0.1, 0.1, 1e-5, 1),
    # Hanami March 2024 rules with a learning rate that starts at 0.1 and decays as
    # 0.1 / (1 + samples / 20,000) to a floor of 0.03, and new weights 8 times smaller
    # (|w| up to 0.025 instead of 0.2); docs/engine.md has the measurements.
    "default": Profile("default", 128, 512, 64, 0.1, 0.1, 0.01, 8,
                       learning_rate_decay=5e-5, learning_rate_min=0.03,
                       initial_weight=0.0125),
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
    reduction: bool  # age synapses and remove those no longer used
    reduction_interval: int  # training samples between two reduction cycles
    reserve_blocks: int  # blocks kept spare beyond half the used neuron blocks


def make_params(profile: Profile, template: Template) -> Params:
    """The kernels' parameters for a cluster of ``template`` under ``profile``."""
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
        reduction=bool(settings.enable_reduction),
        reduction_interval=REDUCTION_INTERVAL,
        reserve_blocks=RESERVE_BLOCKS + 2 * len(template.hexagons),
    )

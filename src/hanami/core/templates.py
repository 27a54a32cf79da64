"""Templates that come with the engine."""

from __future__ import annotations

from hanami.core.template import Template, parse_template

#: The template of the OpenHanami MNIST test: input hexagon with an
#: axon to the hidden hexagon, output hexagon next to it.
OPENHANAMI_MNIST = """version: 1
settings:
    neuron_cooldown: 10000000.0
    refractory_time: 1
    max_connection_distance: 1
    enable_reduction: false
hexagons:
    1,1,1
    3,1,1
    4,1,1
axons:
    1,1,1 -> 3,1,1
inputs:
    picture_hex: 1,1,1
outputs:
    label_hex: 4,1,1
"""


def mnist_template(profile: str = "default", **settings: object) -> Template:
    """The OpenHanami MNIST template with the given profile and settings."""
    return parse_template(OPENHANAMI_MNIST).with_settings(profile=profile, **settings)

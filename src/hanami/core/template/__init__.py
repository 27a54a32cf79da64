"""Cluster templates: the hexagons of a cluster, its axons and its named inputs and outputs.

``parse_template`` reads the text (``parser``, over the tokens of ``lexer``) into a
``Template`` (``model``), whose ``to_text`` writes it back in one canonical form. Only the
standard library is used.
"""

from hanami.core.template.model import (
    NEIGHBOR_OFFSETS,
    PROFILES,
    SUPPORTED_VERSION,
    Input,
    Output,
    Settings,
    Template,
    TemplateError,
)
from hanami.core.template.parser import parse_template

__all__ = [
    "NEIGHBOR_OFFSETS",
    "PROFILES",
    "SUPPORTED_VERSION",
    "Input",
    "Output",
    "Settings",
    "Template",
    "TemplateError",
    "parse_template",
]

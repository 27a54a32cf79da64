"""A parsed template as data (settings, hexagons, axons, inputs, outputs) and its canonical text.

The grammar that builds it lives in ``parser``; everything after parsing reads only this.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

SUPPORTED_VERSION = 1
# The values of ``Settings.profile`` (core/profiles.py holds what each one means).
PROFILES = ("classic", "default", "stream")

# Neighbour offsets per side, as in OpenHanami: (dx if y even, dx if y odd, dy, dz).
# Rows with even y are shifted left; side s and side 11 - s are opposite.
NEIGHBOR_OFFSETS: tuple[tuple[int, int, int, int], ...] = (
    (-1, 0, -1, -1),  # 0
    (0, 1, -1, -1),  # 1
    (0, 0, 0, -1),  # 2
    (0, 1, -1, 0),  # 3
    (1, 1, 0, 0),  # 4
    (0, 1, 1, 0),  # 5
    (-1, 0, -1, 0),  # 6
    (-1, -1, 0, 0),  # 7
    (-1, 0, 1, 0),  # 8
    (0, 0, 0, 1),  # 9
    (-1, 0, 1, 1),  # 10
    (0, 1, 1, 1),  # 11
)


class TemplateError(ValueError):
    """A template that does not parse or validate.

    Carries the 1-based ``line`` and ``column`` of the offending token so that users can fix
    the template without guessing; ``str(err)`` reads ``"line L, column C: message"``.
    """

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"line {line}, column {column}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the error picklable (worker processes) despite the custom constructor.
        return (type(self), (self.line, self.column, self.message))


@dataclass(frozen=True)
class Settings:
    """Cluster settings from the template; defaults are OpenHanami's.

    ``profile`` selects faithful OpenHanami behaviour ("classic"), ours ("default") or ours
    tuned for one-pass classification of small streams ("stream", core/profiles.py);
    ``seed`` makes the random walks and growth reproducible when given; ``input_gain: false``
    keeps a wide input's level as it comes where the profile would scale a lasting change of
    it away (docs/engine.md, Input gain).
    """

    neuron_cooldown: float = 1e9
    refractory_time: int = 1
    max_connection_distance: int = 1
    enable_reduction: bool = False
    profile: str = "default"
    seed: int | None = None
    input_gain: bool = True


@dataclass(frozen=True)
class Input:
    """A named input bound to one hexagon; ``kind`` is "plain", "binary" or "match"."""

    name: str
    hexagon: int
    kind: str = "plain"


@dataclass(frozen=True)
class Output:
    """A named output bound to one hexagon; ``type`` is "plain", "bool", "int" or "float"."""

    name: str
    hexagon: int
    type: str = "plain"


@dataclass(frozen=True)
class Template:
    """A parsed, validated cluster template.

    Hexagon ids are indices into ``hexagons`` in template order, which is also the processing
    order of the cluster (docs/engine.md, A training step), so everything else refers to
    hexagons by id.
    """

    settings: Settings
    hexagons: tuple[tuple[int, int, int], ...]
    axons: tuple[tuple[int, int], ...]
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]

    def with_settings(self, **changes: Any) -> "Template":
        """Return a copy with some settings replaced (e.g. a seed chosen by the caller)."""
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))

    def neighbors(self) -> list[list[int]]:
        """Per hexagon, the id of the neighbour on each of the 12 sides, or -1.

        Coordinates are never wrapped: a neighbour below 0 simply does not exist, as in the
        original where u32 underflow finds no hexagon in practice.
        """
        ids = {pos: i for i, pos in enumerate(self.hexagons)}
        result: list[list[int]] = []
        for x, y, z in self.hexagons:
            odd = y % 2 == 1
            row = []
            for dx_even, dx_odd, dy, dz in NEIGHBOR_OFFSETS:
                pos = (x + (dx_odd if odd else dx_even), y + dy, z + dz)
                row.append(ids.get(pos, -1))
            result.append(row)
        return result

    def to_text(self) -> str:
        """Canonical template text; ``parse_template(t.to_text()) == t`` for valid templates.

        Used to store and show templates in one normal form (all settings spelled out).
        """
        s = self.settings
        lines = [f"version: {SUPPORTED_VERSION}", "settings:"]
        lines.append(f"    neuron_cooldown: {float(s.neuron_cooldown)!r}")
        lines.append(f"    refractory_time: {int(s.refractory_time)}")
        lines.append(f"    max_connection_distance: {int(s.max_connection_distance)}")
        lines.append(f"    enable_reduction: {'true' if s.enable_reduction else 'false'}")
        lines.append(f"    profile: {s.profile}")
        if s.seed is not None:
            lines.append(f"    seed: {int(s.seed)}")
        if not s.input_gain:  # spelled out only when off: earlier texts keep their form
            lines.append("    input_gain: false")
        lines.append("hexagons:")
        lines.extend(f"    {format_position(p)}" for p in self.hexagons)
        if self.axons:
            lines.append("axons:")
            lines.extend(
                f"    {format_position(self.hexagons[a])} -> {format_position(self.hexagons[b])}"
                for a, b in self.axons
            )
        lines.append("inputs:")
        for inp in self.inputs:
            suffix = "" if inp.kind == "plain" else f" ({inp.kind})"
            lines.append(f"    {inp.name}: {format_position(self.hexagons[inp.hexagon])}{suffix}")
        lines.append("outputs:")
        for out in self.outputs:
            suffix = "" if out.type == "plain" else f" ({out.type})"
            lines.append(f"    {out.name}: {format_position(self.hexagons[out.hexagon])}{suffix}")
        return "\n".join(lines) + "\n"


def format_position(pos: tuple[int, int, int]) -> str:
    """``x,y,z`` as the template writes a hexagon position."""
    return f"{pos[0]},{pos[1]},{pos[2]}"

"""Cluster templates: parsing, validation and canonical text.

A template describes the hexagons of a cluster, the axons between them and which hexagons carry
the named inputs and outputs. The grammar follows OpenHanami's flex/bison parser
(``hanami_cluster_parser``) with a few compatible extensions: ``#`` comments, the settings
``profile`` and ``seed``, and an optional (or empty) ``settings:`` / ``axons:`` block.

The parser is a hand-written lexer plus recursive descent so that the package needs no parser
generator and every error can name the exact line and column (the service forwards the message
to API users). Only the standard library is used.
"""

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "NEIGHBOR_OFFSETS",
    "SUPPORTED_VERSION",
    "Input",
    "Output",
    "Settings",
    "Template",
    "TemplateError",
    "parse_template",
]

SUPPORTED_VERSION = 1
# Coordinates are u32 in the original.
MAX_COORDINATE = 2**32 - 1
# Names must be shorter than 255 characters (fixed-size name buffers in the original).
MAX_NAME_LENGTH = 254
# The refractory counter is stored in 8 bits in our neuron layout.
MAX_REFRACTORY_TIME = 255

PROFILES = ("classic", "default", "stream")
INPUT_KINDS = ("binary", "match")
OUTPUT_TYPES = ("bool", "int", "float")
# Words that start a section; they cannot be used as setting or interface names, which keeps
# the whitespace-insensitive grammar unambiguous with one token of lookahead.
SECTION_KEYWORDS = frozenset({"version", "settings", "hexagons", "axons", "inputs", "outputs"})
SETTING_NAMES = (
    "neuron_cooldown",
    "refractory_time",
    "max_connection_distance",
    "enable_reduction",
    "profile",
    "seed",
)

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


# --------------------------------------------------------------------------------------------
# Public data model
# --------------------------------------------------------------------------------------------


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
    ``seed`` makes the random walks and growth reproducible when given.
    """

    neuron_cooldown: float = 1e9
    refractory_time: int = 1
    max_connection_distance: int = 1
    enable_reduction: bool = False
    profile: str = "default"
    seed: int | None = None


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
        lines.append("hexagons:")
        lines.extend(f"    {_fmt_pos(p)}" for p in self.hexagons)
        if self.axons:
            lines.append("axons:")
            lines.extend(
                f"    {_fmt_pos(self.hexagons[a])} -> {_fmt_pos(self.hexagons[b])}"
                for a, b in self.axons
            )
        lines.append("inputs:")
        for inp in self.inputs:
            suffix = "" if inp.kind == "plain" else f" ({inp.kind})"
            lines.append(f"    {inp.name}: {_fmt_pos(self.hexagons[inp.hexagon])}{suffix}")
        lines.append("outputs:")
        for out in self.outputs:
            suffix = "" if out.type == "plain" else f" ({out.type})"
            lines.append(f"    {out.name}: {_fmt_pos(self.hexagons[out.hexagon])}{suffix}")
        return "\n".join(lines) + "\n"


def parse_template(text: str) -> Template:
    """Parse and validate template text; raise ``TemplateError`` on the first problem."""
    return _Parser(_tokenize(text)).parse()


def _fmt_pos(pos: tuple[int, int, int]) -> str:
    return f"{pos[0]},{pos[1]},{pos[2]}"


# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------

_INT, _FLOAT, _IDENT, _COMMA, _COLON, _LPAREN, _RPAREN, _ARROW, _EOF, _ERROR = (
    "INT",
    "FLOAT",
    "IDENT",
    ",",
    ":",
    "(",
    ")",
    "->",
    "EOF",
    "ERROR",
)
_DIGITS = frozenset("0123456789")
_PUNCT = {",": _COMMA, ":": _COLON, "(": _LPAREN, ")": _RPAREN}
_NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_WORD_TAIL_RE = re.compile(r"[A-Za-z_0-9.]*")


class _Token(NamedTuple):
    kind: str
    text: str
    line: int
    column: int


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens ending with EOF.

    A lexical error becomes a final ERROR token instead of an exception, so that the parser
    reports whichever problem comes first in the text.
    """
    tokens: list[_Token] = []
    i, n = 0, len(text)
    line, line_start = 1, 0
    end_line, end_col = 1, 1  # just after the last token, where EOF is reported
    while i < n:
        c = text[i]
        if c == "\n":
            i += 1
            line, line_start = line + 1, i
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        col = i - line_start + 1
        if c == "-" and text.startswith("->", i):
            tokens.append(_Token(_ARROW, "->", line, col))
            i += 2
        elif c in _PUNCT:
            tokens.append(_Token(_PUNCT[c], c, line, col))
            i += 1
        elif c in _DIGITS or (c == "-" and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER_RE.match(text, i)
            assert m is not None
            tail = _WORD_TAIL_RE.match(text, m.end())
            assert tail is not None
            if tail.end() > m.end():
                bad = text[i : tail.end()]
                tokens.append(_Token(_ERROR, f"malformed number '{bad}'", line, col))
                return tokens
            kind = _FLOAT if (m.group(1) or m.group(2)) else _INT
            tokens.append(_Token(kind, m.group(0), line, col))
            i = m.end()
        else:
            m = _IDENT_RE.match(text, i)
            if m is None:
                tokens.append(_Token(_ERROR, f"unexpected character {c!r}", line, col))
                return tokens
            tokens.append(_Token(_IDENT, m.group(0), line, col))
            i = m.end()
        end_line, end_col = line, i - line_start + 1
    tokens.append(_Token(_EOF, "", end_line, end_col))
    return tokens


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _describe(tok: _Token) -> str:
    return "end of input" if tok.kind == _EOF else f"'{tok.text}'"


class _Parser:
    """Recursive-descent parser over the token list; validates while it builds."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.hex_ids: dict[tuple[int, int, int], int] = {}
        self.hex_lines: list[int] = []

    # -- token helpers ----------------------------------------------------------------------

    def peek(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind == _ERROR:
            raise TemplateError(tok.line, tok.column, tok.text)
        return tok

    def advance(self) -> _Token:
        tok = self.peek()
        if tok.kind != _EOF:
            self.pos += 1
        return tok

    def fail(self, tok: _Token, message: str) -> TemplateError:
        return TemplateError(tok.line, tok.column, message)

    def expect(self, kind: str, what: str) -> _Token:
        tok = self.peek()
        if tok.kind != kind:
            raise self.fail(tok, f"expected {what}, found {_describe(tok)}")
        return self.advance()

    def at_word(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == _IDENT and tok.text == word

    def at_name(self) -> bool:
        """True at an identifier that is not a section keyword (setting or interface name)."""
        tok = self.peek()
        return tok.kind == _IDENT and tok.text not in SECTION_KEYWORDS

    def header(self, word: str) -> None:
        self.advance()
        self.expect(_COLON, f"':' after '{word}'")

    # -- grammar ----------------------------------------------------------------------------

    def parse(self) -> Template:
        self.version()
        settings = Settings()
        had_settings = self.at_word("settings")
        if had_settings:
            settings = self.settings()
        if not self.at_word("hexagons"):
            what = "'hexagons' section" if had_settings else "'settings' or 'hexagons' section"
            tok = self.peek()
            raise self.fail(tok, f"expected {what}, found {_describe(tok)}")
        hexagons = self.hexagons()
        axons: tuple[tuple[int, int], ...] = ()
        if self.at_word("axons"):
            axons = self.axons()
        if not self.at_word("inputs"):
            tok = self.peek()
            what = "'inputs' section" if axons else "'axons' or 'inputs' section"
            raise self.fail(tok, f"expected {what}, found {_describe(tok)}")
        self.header("inputs")
        owners: dict[int, tuple[str, str, int]] = {}  # hexagon -> (what, name, line)
        names: dict[str, int] = {}
        inputs = tuple(self.interfaces("input", INPUT_KINDS, owners, names))
        if not self.at_word("outputs"):
            tok = self.peek()
            raise self.fail(tok, f"expected 'outputs' section, found {_describe(tok)}")
        self.header("outputs")
        outputs = tuple(self.interfaces("output", OUTPUT_TYPES, owners, names))
        tok = self.peek()
        if tok.kind != _EOF:
            raise self.fail(
                tok, f"expected an output 'name: x,y,z' or end of template, found {_describe(tok)}"
            )
        return Template(
            settings=settings,
            hexagons=hexagons,
            axons=axons,
            inputs=tuple(Input(n, h, k) for n, h, k in inputs),
            outputs=tuple(Output(n, h, t) for n, h, t in outputs),
        )

    def version(self) -> None:
        tok = self.peek()
        if not self.at_word("version"):
            raise self.fail(
                tok,
                f"expected 'version: {SUPPORTED_VERSION}' at the start of the template, "
                f"found {_describe(tok)}",
            )
        self.header("version")
        num = self.expect(_INT, "an integer version number after 'version:'")
        if int(num.text) != SUPPORTED_VERSION:
            raise self.fail(
                num,
                f"unsupported template version {num.text}; "
                f"only version {SUPPORTED_VERSION} is supported",
            )

    def settings(self) -> Settings:
        self.header("settings")
        values: dict[str, Any] = {}
        seen: dict[str, int] = {}
        while self.at_name():
            key = self.advance()
            name = key.text
            if name not in SETTING_NAMES:
                raise self.fail(
                    key,
                    f"unknown setting '{name}'; expected one of {', '.join(SETTING_NAMES)}",
                )
            if name in seen:
                raise self.fail(
                    key, f"setting '{name}' given twice (first given on line {seen[name]})"
                )
            seen[name] = key.line
            self.expect(_COLON, f"':' after '{name}'")
            values[name] = getattr(self, f"setting_{name}")()
        return Settings(**values)

    def setting_neuron_cooldown(self) -> float:
        tok = self.peek()
        if tok.kind not in (_INT, _FLOAT):
            raise self.fail(tok, f"expected a number for neuron_cooldown, found {_describe(tok)}")
        self.advance()
        value = float(tok.text)
        if not value > 1:
            raise self.fail(tok, f"neuron_cooldown must be > 1, found {tok.text}")
        if value == float("inf"):
            raise self.fail(tok, f"neuron_cooldown must be finite, found {tok.text}")
        return value

    def _int_setting(self, name: str, minimum: int, maximum: int | None = None) -> int:
        tok = self.expect(_INT, f"an integer for {name}")
        value = int(tok.text)
        if value < minimum:
            raise self.fail(tok, f"{name} must be >= {minimum}, found {tok.text}")
        if maximum is not None and value > maximum:
            raise self.fail(tok, f"{name} must be at most {maximum}, found {tok.text}")
        return value

    def setting_refractory_time(self) -> int:
        return self._int_setting("refractory_time", 1, MAX_REFRACTORY_TIME)

    def setting_max_connection_distance(self) -> int:
        return self._int_setting("max_connection_distance", 1)

    def setting_seed(self) -> int:
        return self._int_setting("seed", 0)

    def setting_enable_reduction(self) -> bool:
        tok = self.peek()
        if tok.kind != _IDENT or tok.text not in ("true", "false", "True", "False"):
            raise self.fail(
                tok, f"expected true or false for enable_reduction, found {_describe(tok)}"
            )
        self.advance()
        return tok.text.lower() == "true"

    def setting_profile(self) -> str:
        tok = self.peek()
        if tok.kind != _IDENT or tok.text not in PROFILES:
            expected = "expected 'classic', 'default' or 'stream' for profile"
            raise self.fail(tok, f"{expected}, found {_describe(tok)}")
        self.advance()
        return tok.text

    def position(self) -> tuple[tuple[int, int, int], _Token]:
        """Parse ``x,y,z``; return the coordinates and the token of x (for error positions)."""
        first = self.peek()
        coords = []
        for axis in ("x", "y", "z"):
            if axis != "x":
                prev = "x" if axis == "y" else "y"
                self.expect(_COMMA, f"',' after {prev} coordinate")
            tok = self.expect(_INT, f"an integer {axis} coordinate")
            value = int(tok.text)
            if not 0 <= value <= MAX_COORDINATE:
                raise self.fail(
                    tok,
                    f"{axis} coordinate must be between 0 and {MAX_COORDINATE}, found {tok.text}",
                )
            coords.append(value)
        return (coords[0], coords[1], coords[2]), first

    def hexagons(self) -> tuple[tuple[int, int, int], ...]:
        self.header("hexagons")
        tok = self.peek()
        if tok.kind != _INT:
            raise self.fail(
                tok,
                f"expected at least one hexagon 'x,y,z' after 'hexagons:', found {_describe(tok)}",
            )
        hexagons: list[tuple[int, int, int]] = []
        while self.peek().kind == _INT:
            pos, first = self.position()
            if pos in self.hex_ids:
                other = self.hex_lines[self.hex_ids[pos]]
                raise self.fail(
                    first,
                    f"duplicate hexagon {_fmt_pos(pos)} on line {first.line}; "
                    f"already listed on line {other}",
                )
            self.hex_ids[pos] = len(hexagons)
            self.hex_lines.append(first.line)
            hexagons.append(pos)
        return tuple(hexagons)

    def hexagon_id(self, pos: tuple[int, int, int], tok: _Token, what: str) -> int:
        hid = self.hex_ids.get(pos)
        if hid is None:
            raise self.fail(tok, f"{what} {_fmt_pos(pos)} is not a listed hexagon")
        return hid

    def axons(self) -> tuple[tuple[int, int], ...]:
        self.header("axons")
        axons: list[tuple[int, int]] = []
        sources: dict[int, int] = {}  # source hexagon -> line of its axon
        while self.peek().kind == _INT:
            src_pos, src_tok = self.position()
            src = self.hexagon_id(src_pos, src_tok, "axon source")
            self.expect(_ARROW, "'->' after axon source")
            dst_pos, dst_tok = self.position()
            dst = self.hexagon_id(dst_pos, dst_tok, "axon target")
            if src == dst:
                raise self.fail(dst_tok, f"axon from hexagon {_fmt_pos(src_pos)} to itself")
            if src in sources:
                raise self.fail(
                    src_tok,
                    f"hexagon {_fmt_pos(src_pos)} already has an axon (line {sources[src]}); "
                    "a hexagon may have at most one outgoing axon",
                )
            sources[src] = src_tok.line
            axons.append((src, dst))
        return tuple(axons)

    def interfaces(
        self,
        what: str,
        suffixes: tuple[str, ...],
        owners: dict[int, tuple[str, str, int]],
        names: dict[str, int],
    ) -> list[tuple[str, int, str]]:
        """Parse the entries of an ``inputs`` or ``outputs`` section (at least one)."""
        if not self.at_name():
            tok = self.peek()
            raise self.fail(
                tok,
                f"expected at least one {what} 'name: x,y,z' after '{what}s:', "
                f"found {_describe(tok)}",
            )
        suffix_word = "kind" if what == "input" else "type"
        entries: list[tuple[str, int, str]] = []
        while self.at_name():
            name_tok = self.advance()
            name = name_tok.text
            if len(name) > MAX_NAME_LENGTH:
                raise self.fail(
                    name_tok,
                    f"{what} name is {len(name)} characters long; "
                    f"names must be shorter than {MAX_NAME_LENGTH + 1}",
                )
            if name in names:
                raise self.fail(
                    name_tok, f"duplicate name '{name}' (first used on line {names[name]})"
                )
            self.expect(_COLON, f"':' after {what} name '{name}'")
            pos, pos_tok = self.position()
            hid = self.hexagon_id(pos, pos_tok, f"{what} position")
            if hid in owners:
                o_what, o_name, o_line = owners[hid]
                raise self.fail(
                    pos_tok,
                    f"hexagon {_fmt_pos(pos)} already carries {o_what} '{o_name}' "
                    f"(line {o_line}); a hexagon can carry at most one input or output",
                )
            suffix = "plain"
            if self.peek().kind == _LPAREN:
                self.advance()
                tok = self.peek()
                if tok.kind != _IDENT:
                    raise self.fail(
                        tok,
                        f"expected {what} {suffix_word} ({' or '.join(suffixes)}) after '(', "
                        f"found {_describe(tok)}",
                    )
                if tok.text not in suffixes:
                    raise self.fail(
                        tok,
                        f"unknown {what} {suffix_word} '{tok.text}'; "
                        f"expected one of {', '.join(suffixes)}",
                    )
                self.advance()
                suffix = tok.text
                self.expect(_RPAREN, f"')' after {what} {suffix_word} '{suffix}'")
            names[name] = name_tok.line
            owners[hid] = (what, name, name_tok.line)
            entries.append((name, hid, suffix))
        return entries

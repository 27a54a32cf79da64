"""The template grammar: recursive descent over the tokens, validating while it builds.

The grammar follows OpenHanami's flex/bison parser (``hanami_cluster_parser``) with a few
compatible extensions: ``#`` comments, the settings ``profile`` and ``seed``, and an optional
(or empty) ``settings:`` / ``axons:`` block. Hand-written so that the package needs no parser
generator and every error can name the exact line and column (the service forwards the
message to API users).
"""

from typing import Any

from hanami.core.template.lexer import (
    ARROW,
    COLON,
    COMMA,
    EOF,
    ERROR,
    FLOAT,
    IDENT,
    INT,
    LPAREN,
    RPAREN,
    Token,
    tokenize,
)
from hanami.core.template.model import (
    PROFILES,
    SUPPORTED_VERSION,
    Input,
    Output,
    Settings,
    Template,
    TemplateError,
    format_position,
)

# Coordinates are u32 in the original.
MAX_COORDINATE = 2**32 - 1
# Names must be shorter than 255 characters (fixed-size name buffers in the original).
MAX_NAME_LENGTH = 254
# The refractory counter is stored in 8 bits in our neuron layout.
MAX_REFRACTORY_TIME = 255

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
    "input_gain",
)


def parse_template(text: str) -> Template:
    """Parse and validate template text; raise ``TemplateError`` on the first problem."""
    return _Parser(tokenize(text)).parse()


def _describe(tok: Token) -> str:
    return "end of input" if tok.kind == EOF else f"'{tok.text}'"


class _Parser:
    """Recursive-descent parser over the token list; validates while it builds."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.hex_ids: dict[tuple[int, int, int], int] = {}
        self.hex_lines: list[int] = []

    # -- token helpers ----------------------------------------------------------------------

    def peek(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind == ERROR:
            raise TemplateError(tok.line, tok.column, tok.text)
        return tok

    def advance(self) -> Token:
        tok = self.peek()
        if tok.kind != EOF:
            self.pos += 1
        return tok

    def fail(self, tok: Token, message: str) -> TemplateError:
        return TemplateError(tok.line, tok.column, message)

    def expect(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise self.fail(tok, f"expected {what}, found {_describe(tok)}")
        return self.advance()

    def at_word(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == IDENT and tok.text == word

    def at_name(self) -> bool:
        """True at an identifier that is not a section keyword (setting or interface name)."""
        tok = self.peek()
        return tok.kind == IDENT and tok.text not in SECTION_KEYWORDS

    def header(self, word: str) -> None:
        self.advance()
        self.expect(COLON, f"':' after '{word}'")

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
        if tok.kind != EOF:
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
        num = self.expect(INT, "an integer version number after 'version:'")
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
            self.expect(COLON, f"':' after '{name}'")
            values[name] = getattr(self, f"setting_{name}")()
        return Settings(**values)

    def setting_neuron_cooldown(self) -> float:
        tok = self.peek()
        if tok.kind not in (INT, FLOAT):
            raise self.fail(tok, f"expected a number for neuron_cooldown, found {_describe(tok)}")
        self.advance()
        value = float(tok.text)
        if not value > 1:
            raise self.fail(tok, f"neuron_cooldown must be > 1, found {tok.text}")
        if value == float("inf"):
            raise self.fail(tok, f"neuron_cooldown must be finite, found {tok.text}")
        return value

    def _int_setting(self, name: str, minimum: int, maximum: int | None = None) -> int:
        tok = self.expect(INT, f"an integer for {name}")
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
        return self._bool_setting("enable_reduction")

    def setting_input_gain(self) -> bool:
        return self._bool_setting("input_gain")

    def _bool_setting(self, name: str) -> bool:
        tok = self.peek()
        if tok.kind != IDENT or tok.text not in ("true", "false", "True", "False"):
            raise self.fail(tok, f"expected true or false for {name}, found {_describe(tok)}")
        self.advance()
        return tok.text.lower() == "true"

    def setting_profile(self) -> str:
        tok = self.peek()
        if tok.kind != IDENT or tok.text not in PROFILES:
            expected = "expected 'classic', 'default' or 'stream' for profile"
            raise self.fail(tok, f"{expected}, found {_describe(tok)}")
        self.advance()
        return tok.text

    def position(self) -> tuple[tuple[int, int, int], Token]:
        """Parse ``x,y,z``; return the coordinates and the token of x (for error positions)."""
        first = self.peek()
        coords = []
        for axis in ("x", "y", "z"):
            if axis != "x":
                prev = "x" if axis == "y" else "y"
                self.expect(COMMA, f"',' after {prev} coordinate")
            tok = self.expect(INT, f"an integer {axis} coordinate")
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
        if tok.kind != INT:
            raise self.fail(
                tok,
                f"expected at least one hexagon 'x,y,z' after 'hexagons:', found {_describe(tok)}",
            )
        hexagons: list[tuple[int, int, int]] = []
        while self.peek().kind == INT:
            pos, first = self.position()
            if pos in self.hex_ids:
                other = self.hex_lines[self.hex_ids[pos]]
                raise self.fail(
                    first,
                    f"duplicate hexagon {format_position(pos)} on line {first.line}; "
                    f"already listed on line {other}",
                )
            self.hex_ids[pos] = len(hexagons)
            self.hex_lines.append(first.line)
            hexagons.append(pos)
        return tuple(hexagons)

    def hexagon_id(self, pos: tuple[int, int, int], tok: Token, what: str) -> int:
        hid = self.hex_ids.get(pos)
        if hid is None:
            raise self.fail(tok, f"{what} {format_position(pos)} is not a listed hexagon")
        return hid

    def axons(self) -> tuple[tuple[int, int], ...]:
        self.header("axons")
        axons: list[tuple[int, int]] = []
        sources: dict[int, int] = {}  # source hexagon -> line of its axon
        while self.peek().kind == INT:
            src_pos, src_tok = self.position()
            src = self.hexagon_id(src_pos, src_tok, "axon source")
            self.expect(ARROW, "'->' after axon source")
            dst_pos, dst_tok = self.position()
            dst = self.hexagon_id(dst_pos, dst_tok, "axon target")
            if src == dst:
                raise self.fail(dst_tok, f"axon from hexagon {format_position(src_pos)} to itself")
            if src in sources:
                raise self.fail(
                    src_tok,
                    f"hexagon {format_position(src_pos)} already has an axon "
                    f"(line {sources[src]}); a hexagon may have at most one outgoing axon",
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
            self.expect(COLON, f"':' after {what} name '{name}'")
            pos, pos_tok = self.position()
            hid = self.hexagon_id(pos, pos_tok, f"{what} position")
            if hid in owners:
                o_what, o_name, o_line = owners[hid]
                raise self.fail(
                    pos_tok,
                    f"hexagon {format_position(pos)} already carries {o_what} '{o_name}' "
                    f"(line {o_line}); a hexagon can carry at most one input or output",
                )
            suffix = "plain"
            if self.peek().kind == LPAREN:
                self.advance()
                tok = self.peek()
                if tok.kind != IDENT:
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
                self.expect(RPAREN, f"')' after {what} {suffix_word} '{suffix}'")
            names[name] = name_tok.line
            owners[hid] = (what, name, name_tok.line)
            entries.append((name, hid, suffix))
        return entries

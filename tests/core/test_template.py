"""Tests for the cluster template parser."""

import pickle
import textwrap

import pytest

from hanami.core.template import (
    Input,
    Output,
    Settings,
    Template,
    TemplateError,
    parse_template,
)

# The template of the OpenHanami MNIST SDK test, verbatim.
MNIST_TEMPLATE = """\
version: 1
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

MINIMAL_TAIL = "hexagons:\n    1,1,1\n    2,1,1\ninputs:\n    a: 1,1,1\noutputs:\n    b: 2,1,1\n"


def parse(text: str) -> Template:
    return parse_template(textwrap.dedent(text))


def with_settings(lines: str) -> Template:
    return parse_template("version: 1\nsettings:\n" + lines + "\n" + MINIMAL_TAIL)


# --------------------------------------------------------------------------------------------
# Valid templates
# --------------------------------------------------------------------------------------------


def test_mnist_example_template() -> None:
    t = parse_template(MNIST_TEMPLATE)
    assert t == Template(
        settings=Settings(
            neuron_cooldown=10000000.0,
            refractory_time=1,
            max_connection_distance=1,
            enable_reduction=False,
            profile="default",
            seed=None,
        ),
        hexagons=((1, 1, 1), (3, 1, 1), (4, 1, 1)),
        axons=((0, 1),),
        inputs=(Input("picture_hex", 0, "plain"),),
        outputs=(Output("label_hex", 2, "plain"),),
    )


def test_defaults_without_settings_block() -> None:
    t = parse_template("version: 1\n" + MINIMAL_TAIL)
    assert t.settings == Settings()
    assert t.settings.neuron_cooldown == 1e9
    assert t.settings.refractory_time == 1
    assert t.settings.max_connection_distance == 1
    assert t.settings.enable_reduction is False
    assert t.settings.profile == "default"
    assert t.settings.seed is None
    assert t.axons == ()


def test_empty_settings_block() -> None:
    assert parse_template("version: 1\nsettings:\n" + MINIMAL_TAIL).settings == Settings()


def test_version_spellings() -> None:
    for head in ("version:1\n", "version : 1\n", "version:    1   "):
        assert parse_template(head + MINIMAL_TAIL).hexagons == ((1, 1, 1), (2, 1, 1))


def test_every_setting() -> None:
    t = with_settings(
        """
        neuron_cooldown: 2.5
        refractory_time: 255
        max_connection_distance: 3
        enable_reduction: true
        profile: classic
        seed: 42
        """
    )
    assert t.settings == Settings(
        neuron_cooldown=2.5,
        refractory_time=255,
        max_connection_distance=3,
        enable_reduction=True,
        profile="classic",
        seed=42,
    )


def test_cooldown_int_and_float() -> None:
    t = with_settings("neuron_cooldown: 100")
    assert t.settings.neuron_cooldown == 100.0
    assert isinstance(t.settings.neuron_cooldown, float)
    assert with_settings("neuron_cooldown: 1.5").settings.neuron_cooldown == 1.5
    assert with_settings("neuron_cooldown: 1e20").settings.neuron_cooldown == 1e20


@pytest.mark.parametrize(
    ("word", "value"), [("true", True), ("True", True), ("false", False), ("False", False)]
)
def test_enable_reduction_spellings(word: str, value: bool) -> None:
    assert with_settings(f"enable_reduction: {word}").settings.enable_reduction is value


def test_profile_and_seed() -> None:
    assert with_settings("profile: default").settings.profile == "default"
    assert with_settings("profile: classic").settings.profile == "classic"
    assert with_settings("seed: 0").settings.seed == 0
    assert with_settings("seed: 123456789012").settings.seed == 123456789012


def test_comments() -> None:
    t = parse(
        """\
        # a leading comment
        version: 1   # trailing comment
        settings:    # settings: refractory_time: 9
            refractory_time: 2#no space needed
        hexagons:
            # 5,5,5 is commented out
            1,1,1
            2,1,1 # -> 3,3,3
        inputs:
            a: 1,1,1 # (binary)
        outputs:
            b: 2,1,1
        # final comment without newline"""
    )
    assert t.settings.refractory_time == 2
    assert t.hexagons == ((1, 1, 1), (2, 1, 1))
    assert t.inputs == (Input("a", 0),)
    assert t.outputs == (Output("b", 1),)


def test_hexagons_and_axons() -> None:
    t = parse(
        """\
        version: 1
        hexagons:
            0,0,0
            1,0,0
            2,0,0
            4294967295,7,3
        axons:
            0,0,0 -> 2,0,0
            1,0,0->2,0,0
        inputs:
            i: 0,0,0
        outputs:
            o: 2,0,0
        """
    )
    assert t.hexagons == ((0, 0, 0), (1, 0, 0), (2, 0, 0), (4294967295, 7, 3))
    assert t.axons == ((0, 2), (1, 2))


def test_inputs_with_kinds() -> None:
    t = parse(
        """\
        version: 1
        hexagons: 1,1,1 2,1,1 3,1,1 4,1,1
        inputs:
            plain_in: 1,1,1
            bin_in: 2,1,1 (binary)
            match_in: 3,1,1(match)
        outputs:
            out: 4,1,1
        """
    )
    assert t.inputs == (
        Input("plain_in", 0, "plain"),
        Input("bin_in", 1, "binary"),
        Input("match_in", 2, "match"),
    )


def test_outputs_with_types() -> None:
    t = parse(
        """\
        version: 1
        hexagons: 1,1,1 2,1,1 3,1,1 4,1,1 5,1,1
        inputs:
            _in0: 1,1,1
        outputs:
            plain_out: 2,1,1
            bool_out: 3,1,1 (bool)
            int_out: 4,1,1 ( int )
            float_out: 5,1,1 (float)
        """
    )
    assert t.outputs == (
        Output("plain_out", 1, "plain"),
        Output("bool_out", 2, "bool"),
        Output("int_out", 3, "int"),
        Output("float_out", 4, "float"),
    )


def test_names_may_be_non_section_keywords() -> None:
    t = parse_template(
        "version: 1 hexagons: 1,1,1 2,1,1 inputs: binary: 1,1,1 (binary) outputs: int: 2,1,1 (int)"
    )
    assert t.inputs == (Input("binary", 0, "binary"),)
    assert t.outputs == (Output("int", 1, "int"),)


def test_whitespace_and_newlines_are_insignificant() -> None:
    one_line = " ".join(MNIST_TEMPLATE.split())
    assert "\n" not in one_line
    assert parse_template(one_line) == parse_template(MNIST_TEMPLATE)
    squashed = (
        "version:1 settings:neuron_cooldown:10000000.0 refractory_time:1 "
        "max_connection_distance:1 enable_reduction:false hexagons:1,1,1 3,1,1 4,1,1 "
        "axons:1,1,1->3,1,1 inputs:picture_hex:1,1,1 outputs:label_hex:4,1,1"
    )
    assert parse_template(squashed) == parse_template(MNIST_TEMPLATE)
    spread = "\r\n\t".join(MNIST_TEMPLATE.split()) + "\r\n\r\n"
    assert parse_template(spread) == parse_template(MNIST_TEMPLATE)


def test_axons_block_may_be_empty() -> None:
    t = parse_template(
        "version: 1\nhexagons: 1,1,1 2,1,1\naxons:\ninputs: a: 1,1,1 outputs: b: 2,1,1"
    )
    assert t.axons == ()


# --------------------------------------------------------------------------------------------
# Malformed templates: exact line, column and a distinctive part of the message
# --------------------------------------------------------------------------------------------

V = "version: 1\n"
H = "hexagons:\n    1,1,1\n    2,1,1\n"  # lines 2-4 after V
IO = "inputs:\n    a: 1,1,1\noutputs:\n    b: 2,1,1\n"

MALFORMED = [
    ("missing version", "settings:\n    refractory_time: 1\n" + H + IO, 1, 1,
     "expected 'version: 1' at the start of the template, found 'settings'"),
    ("empty text", "", 1, 1, "expected 'version: 1' at the start of the template, found end"),
    ("wrong version", "version: 2\n" + H + IO, 1, 10,
     "unsupported template version 2; only version 1 is supported"),
    ("float version", "version: 1.0\n" + H + IO, 1, 10, "integer version number"),
    ("unknown setting", V + "settings:\n    neuron_cooldwn: 5\n" + H + IO, 3, 5,
     "unknown setting 'neuron_cooldwn'"),
    ("cooldown equal 1", V + "settings:\n    neuron_cooldown: 1\n" + H + IO, 3, 22,
     "neuron_cooldown must be > 1, found 1"),
    ("cooldown below 1", V + "settings:\n    neuron_cooldown: 0.5\n" + H + IO, 3, 22,
     "neuron_cooldown must be > 1, found 0.5"),
    ("cooldown not a number", V + "settings:\n  neuron_cooldown: fast\n" + H + IO, 3, 20,
     "expected a number for neuron_cooldown, found 'fast'"),
    ("distance 0", V + "settings:\n    max_connection_distance: 0\n" + H + IO, 3, 30,
     "max_connection_distance must be >= 1, found 0"),
    ("distance float", V + "settings:\n    max_connection_distance: 1.5\n" + H + IO, 3, 30,
     "expected an integer for max_connection_distance, found '1.5'"),
    ("refractory 0", V + "settings:\n    refractory_time: 0\n" + H + IO, 3, 22,
     "refractory_time must be >= 1, found 0"),
    ("refractory 300", V + "settings:\n    refractory_time: 300\n" + H + IO, 3, 22,
     "refractory_time must be at most 255, found 300"),
    ("reduction yes", V + "settings:\n    enable_reduction: yes\n" + H + IO, 3, 23,
     "expected true or false for enable_reduction, found 'yes'"),
    ("bad profile", V + "settings:\n    profile: fast\n" + H + IO, 3, 14,
     "expected 'classic', 'default' or 'stream' for profile, found 'fast'"),
    ("negative seed", V + "settings:\n    seed: -1\n" + H + IO, 3, 11, "seed must be >= 0"),
    ("setting twice",
     V + "settings:\n    refractory_time: 2\n    seed: 1\n    refractory_time: 3\n" + H + IO,
     5, 5, "setting 'refractory_time' given twice (first given on line 3)"),
    ("setting colon missing", V + "settings:\n    seed 1\n" + H + IO, 3, 10,
     "expected ':' after 'seed', found '1'"),
    ("setting without settings header", V + "refractory_time: 2\n" + H + IO, 2, 1,
     "expected 'settings' or 'hexagons' section, found 'refractory_time'"),
    ("no hexagons", V + "hexagons:\ninputs:\n    a: 1,1,1\n", 3, 1,
     "expected at least one hexagon 'x,y,z' after 'hexagons:', found 'inputs'"),
    ("negative coordinate", V + "hexagons:\n    1,1,1\n    -1,1,1\n" + IO, 4, 5,
     "x coordinate must be between 0 and 4294967295, found -1"),
    ("coordinate too large", V + "hexagons:\n    1,1,4294967296\n" + IO, 3, 9,
     "z coordinate must be between 0 and 4294967295"),
    ("float coordinate", V + "hexagons:\n    1,1.5,1\n" + IO, 3, 7,
     "expected an integer y coordinate, found '1.5'"),
    ("duplicate hexagon", V + "hexagons:\n    1,1,1\n    2,1,1\n    1,1,1\n" + IO, 5, 5,
     "duplicate hexagon 1,1,1 on line 5; already listed on line 3"),
    ("missing z in axon", V + H + "axons:\n    1,1 -> 2,1,1\n" + IO, 6, 9,
     "expected ',' after y coordinate, found '->'"),
    ("missing y in axon", V + H + "axons:\n    1 -> 2,1,1\n" + IO, 6, 7,
     "expected ',' after x coordinate, found '->'"),
    ("axon to unknown hexagon", V + H + "axons:\n    1,1,1 -> 3,1,1\n" + IO, 6, 14,
     "axon target 3,1,1 is not a listed hexagon"),
    ("axon from unknown hexagon", V + H + "axons:\n    9,9,9 -> 1,1,1\n" + IO, 6, 5,
     "axon source 9,9,9 is not a listed hexagon"),
    ("axon arrow missing", V + H + "axons:\n    1,1,1 2,1,1\n" + IO, 6, 11,
     "expected '->' after axon source, found '2'"),
    ("axon to itself", V + H + "axons:\n    2,1,1 -> 2,1,1\n" + IO, 6, 14,
     "axon from hexagon 2,1,1 to itself"),
    ("two axons from one hexagon", V + H + "axons:\n    1,1,1 -> 2,1,1\n    1,1,1->2,1,1\n" + IO,
     7, 5, "hexagon 1,1,1 already has an axon (line 6)"),
    ("missing inputs section", V + H + "outputs:\n    b: 2,1,1\n", 5, 1,
     "expected 'axons' or 'inputs' section, found 'outputs'"),
    ("empty inputs", V + H + "inputs:\noutputs:\n    b: 2,1,1\n", 6, 1,
     "expected at least one input 'name: x,y,z' after 'inputs:', found 'outputs'"),
    ("input on unknown hexagon", V + H + "inputs:\n    a: 7,1,1\n" + "outputs:\n    b: 2,1,1\n",
     6, 8, "input position 7,1,1 is not a listed hexagon"),
    ("input colon missing", V + H + "inputs:\n    a 1,1,1\n" + "outputs:\n    b: 2,1,1\n", 6, 7,
     "expected ':' after input name 'a', found '1'"),
    ("unterminated (binary", V + H + "inputs:\n    a: 1,1,1 (binary\noutputs:\n    b: 2,1,1\n",
     7, 1, "expected ')' after input kind 'binary', found 'outputs'"),
    ("unknown input kind", V + H + "inputs:\n    a: 1,1,1 (bool)\noutputs:\n    b: 2,1,1\n",
     6, 15, "unknown input kind 'bool'; expected one of binary, match"),
    ("missing outputs section", V + H + "inputs:\n    a: 1,1,1\n", 6, 13,
     "expected 'outputs' section, found end of input"),
    ("empty outputs", V + H + "inputs:\n    a: 1,1,1\noutputs:\n", 7, 9,
     "expected at least one output 'name: x,y,z' after 'outputs:', found end of input"),
    ("unknown output type", V + H + "inputs:\n    a: 1,1,1\noutputs:\n    b: 2,1,1 (double)\n",
     8, 15, "unknown output type 'double'; expected one of bool, int, float"),
    ("output type not a word", V + H + "inputs:\n  a: 1,1,1\noutputs:\n  b: 2,1,1 (64)\n",
     8, 13, "expected output type (bool or int or float) after '(', found '64'"),
    ("duplicate name", V + H + "inputs:\n    a: 1,1,1\noutputs:\n    a: 2,1,1\n", 8, 5,
     "duplicate name 'a' (first used on line 6)"),
    ("input and output on one hexagon",
     V + H + "inputs:\n    a: 1,1,1\noutputs:\n    b: 1,1,1\n", 8, 8,
     "hexagon 1,1,1 already carries input 'a' (line 6)"),
    ("two inputs on one hexagon",
     V + H + "inputs:\n    a: 1,1,1\n    c: 1,1,1\noutputs:\n    b: 2,1,1\n", 7, 8,
     "a hexagon can carry at most one input or output"),
    ("name too long", V + H + "inputs:\n    " + "n" * 255 + ": 1,1,1\noutputs:\n    b: 2,1,1\n",
     6, 5, "names must be shorter than 255"),
    ("section after outputs", V + H + IO + "axons:\n    1,1,1 -> 2,1,1\n", 9, 1,
     "expected an output 'name: x,y,z' or end of template, found 'axons'"),
    ("bad character", V + H + "inputs:\n    a: 1,1,1 [binary]\n", 6, 14,
     "unexpected character '['"),
    ("malformed number", V + "hexagons:\n    1,1,1x\n" + IO, 3, 9, "malformed number '1x'"),
    ("number with trailing dot", V + "settings:\n  neuron_cooldown: 5.\n" + H + IO, 3, 20,
     "malformed number '5.'"),
    ("lone minus", V + H + "axons:\n    1,1,1 - 2,1,1\n" + IO, 6, 11,
     "unexpected character '-'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
def test_malformed(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_template(text)
    err = info.value
    assert fragment in err.message
    assert (err.line, err.column) == (line, column), str(err)
    assert str(err) == f"line {line}, column {column}: {err.message}"
    assert isinstance(err, ValueError)


def test_first_error_in_text_order_wins() -> None:
    # A lexical error later in the text must not hide an earlier grammar error.
    text = "version: 3\n" + H + "inputs: a: 1,1,1 outputs: b: 2,1,1 @"
    with pytest.raises(TemplateError, match="unsupported template version 3"):
        parse_template(text)


def test_error_message_format_and_pickle() -> None:
    with pytest.raises(TemplateError) as info:
        parse_template("version: 1\nhexagons:\n    1,1,1\naxons:\n    1 -> 1,1,1\n")
    err = info.value
    assert str(err) == "line 5, column 7: expected ',' after x coordinate, found '->'"
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.line, clone.column, clone.message) == (err.line, err.column, err.message)
    assert str(clone) == str(err)


# --------------------------------------------------------------------------------------------
# Canonical text
# --------------------------------------------------------------------------------------------

RICH_TEMPLATE = """\
version:1
settings:
    seed: 7
    profile: classic
    enable_reduction: True
    neuron_cooldown: 1e20
    refractory_time: 3
    max_connection_distance: 2
hexagons: 0,0,0 1,0,0 2,0,0 1,1,1 3,0,0 4,0,0
axons: 0,0,0 -> 2,0,0 1,0,0 -> 2,0,0 3,0,0 -> 4,0,0
inputs: i_plain: 0,0,0 i_bin: 1,0,0 (binary) i_match: 1,1,1 (match)
outputs: o_bool: 2,0,0 (bool) o_int: 3,0,0 (int) o_float: 4,0,0 (float)
"""


@pytest.mark.parametrize("text", [MNIST_TEMPLATE, RICH_TEMPLATE, "version: 1\n" + MINIMAL_TAIL])
def test_to_text_round_trip(text: str) -> None:
    t = parse_template(text)
    canonical = t.to_text()
    assert parse_template(canonical) == t
    assert parse_template(canonical).to_text() == canonical


def test_to_text_canonical_form() -> None:
    assert parse_template(MNIST_TEMPLATE).to_text() == (
        "version: 1\n"
        "settings:\n"
        "    neuron_cooldown: 10000000.0\n"
        "    refractory_time: 1\n"
        "    max_connection_distance: 1\n"
        "    enable_reduction: false\n"
        "    profile: default\n"
        "hexagons:\n"
        "    1,1,1\n"
        "    3,1,1\n"
        "    4,1,1\n"
        "axons:\n"
        "    1,1,1 -> 3,1,1\n"
        "inputs:\n"
        "    picture_hex: 1,1,1\n"
        "outputs:\n"
        "    label_hex: 4,1,1\n"
    )
    rich = parse_template(RICH_TEMPLATE).to_text()
    assert "    seed: 7\n" in rich
    assert "    neuron_cooldown: 1e+20\n" in rich
    assert "    enable_reduction: true\n" in rich
    assert "    i_bin: 1,0,0 (binary)\n" in rich
    assert "    o_float: 4,0,0 (float)\n" in rich


def test_with_settings() -> None:
    t = parse_template(MNIST_TEMPLATE)
    seeded = t.with_settings(seed=5, profile="classic")
    assert seeded.settings.seed == 5
    assert seeded.settings.profile == "classic"
    assert seeded.settings.neuron_cooldown == t.settings.neuron_cooldown
    assert seeded.hexagons == t.hexagons
    assert t.settings.seed is None  # the original is unchanged
    assert parse_template(seeded.to_text()) == seeded


# --------------------------------------------------------------------------------------------
# Neighbours
# --------------------------------------------------------------------------------------------


def template_of(positions: list[tuple[int, int, int]]) -> Template:
    hexes = " ".join(f"{x},{y},{z}" for x, y, z in positions)
    a, b = positions[0], positions[-1]
    return parse_template(
        f"version: 1 hexagons: {hexes} "
        f"inputs: i: {a[0]},{a[1]},{a[2]} outputs: o: {b[0]},{b[1]},{b[2]}"
    )


def expected_ids(t: Template, sides: dict[int, tuple[int, int, int]]) -> list[int]:
    """Turn a hand-written {side: position} map into the expected neighbour row."""
    index = {pos: i for i, pos in enumerate(t.hexagons)}
    return [index[sides[s]] if s in sides else -1 for s in range(12)]


def test_neighbors_2d() -> None:
    # A 3 x 4 grid in the plane z = 1: nothing exists in z = 0 or z = 2.
    grid = [(x, y, 1) for y in range(4) for x in range(3)]
    t = template_of(grid)
    nb = t.neighbors()
    assert len(nb) == len(grid)
    assert all(len(row) == 12 for row in nb)
    idx = {pos: i for i, pos in enumerate(t.hexagons)}
    # Odd row (y = 1): upper/lower neighbours at x and x+1.
    assert nb[idx[(1, 1, 1)]] == expected_ids(
        t,
        {3: (2, 0, 1), 4: (2, 1, 1), 5: (2, 2, 1), 6: (1, 0, 1), 7: (0, 1, 1), 8: (1, 2, 1)},
    )
    # Even row (y = 2, shifted left): upper/lower neighbours at x-1 and x.
    assert nb[idx[(1, 2, 1)]] == expected_ids(
        t,
        {3: (1, 1, 1), 4: (2, 2, 1), 5: (1, 3, 1), 6: (0, 1, 1), 7: (0, 2, 1), 8: (0, 3, 1)},
    )
    # Corner (0,0): only right and lower-right exist; no wrap-around at 0.
    assert nb[idx[(0, 0, 1)]] == expected_ids(t, {4: (1, 0, 1), 5: (0, 1, 1)})
    # Right edge of an odd row: x+1 neighbours are missing.
    assert nb[idx[(2, 1, 1)]] == expected_ids(t, {6: (2, 0, 1), 7: (1, 1, 1), 8: (2, 2, 1)})


def test_neighbors_3d() -> None:
    layout = [
        (1, 1, 1),  # odd-row centre
        (2, 2, 1),  # even-row centre
        (1, 0, 0),
        (2, 0, 0),
        (1, 1, 0),
        (2, 1, 0),
        (2, 2, 0),
        (1, 1, 2),
        (1, 2, 2),
        (2, 2, 2),
        (1, 3, 2),
        (2, 3, 2),
    ]
    t = template_of(layout)
    nb = t.neighbors()
    # (1,1,1), y odd: z-1 sides 0,1,2 -> (x, y-1), (x+1, y-1), (x, y); z+1 sides 9,10,11 ->
    # (x, y), (x, y+1), (x+1, y+1); in-plane side 5 (x+1, y+1) is the even-row centre.
    assert nb[0] == expected_ids(
        t,
        {
            0: (1, 0, 0),
            1: (2, 0, 0),
            2: (1, 1, 0),
            5: (2, 2, 1),
            9: (1, 1, 2),
            10: (1, 2, 2),
            11: (2, 2, 2),
        },
    )
    # (2,2,1), y even: z-1 sides 0,1,2 -> (x-1, y-1), (x, y-1), (x, y); z+1 sides 9,10,11 ->
    # (x, y), (x-1, y+1), (x, y+1); in-plane side 6 (x-1, y-1) is the odd-row centre.
    assert nb[1] == expected_ids(
        t,
        {
            0: (1, 1, 0),
            1: (2, 1, 0),
            2: (2, 2, 0),
            6: (1, 1, 1),
            9: (2, 2, 2),
            10: (1, 3, 2),
            11: (2, 3, 2),
        },
    )


def test_neighbors_opposite_sides_are_symmetric() -> None:
    layout = [(x, y, z) for z in range(3) for y in range(4) for x in range(3)]
    t = template_of(layout)
    nb = t.neighbors()
    for h, row in enumerate(nb):
        for side, other in enumerate(row):
            if other >= 0:
                assert nb[other][11 - side] == h, (t.hexagons[h], side)
    # An interior hexagon has all 12 neighbours.
    assert -1 not in nb[t.hexagons.index((1, 1, 1))]
    assert -1 not in nb[t.hexagons.index((1, 2, 1))]

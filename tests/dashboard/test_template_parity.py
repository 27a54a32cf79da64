"""The dashboard's template parser (static/js/template.js) agrees with hanami.core's.

Node runs the JavaScript port over a corpus of valid, broken and randomly mutated templates;
for each one both parsers must accept it with the same hexagons, axons, interfaces and
settings, or reject it with the same line, column and message.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hanami.core import TemplateError, parse_template
from hanami.core.templates import OPENHANAMI_MNIST

TEMPLATE_JS = Path(__file__).resolve().parents[2] / "src/hanami/dashboard/static/js/template.js"

NODE_SCRIPT = r"""
const fs = require("fs");
const { pathToFileURL } = require("url");
// by its file URL, so that its own imports (template-lexer.js) resolve
import(pathToFileURL(process.argv[1]).href).then((m) => {
  const cases = JSON.parse(fs.readFileSync(0, "utf8"));
  const out = cases.map((text) => {
    const r = m.validateTemplate(text);
    if (!r.ok) return { error: [r.error.line, r.error.column, r.error.message] };
    const t = r.template;
    return { template: [t.hexagons, t.axons,
      t.inputs.map((i) => [i.name, i.hexagon, i.kind]),
      t.outputs.map((o) => [o.name, o.hexagon, o.type]), t.settings] };
  });
  process.stdout.write(JSON.stringify(out));
});
"""

FULL = """version: 1
settings:
    neuron_cooldown: 1e7
    refractory_time: 3
    max_connection_distance: 2
    enable_reduction: True
    profile: classic
    seed: 42
    input_gain: false
hexagons:
    1,1,1
    2,1,1   # a comment
    3,1,1
    1,2,1
    2,2,2
axons:
    1,1,1 -> 3,1,1
    1,2,1 -> 2,2,2
inputs:
    a: 1,1,1 (binary)
    b: 1,2,1 (match)
outputs:
    c: 3,1,1 (float)
    d: 2,2,2 (bool)
    e: 2,1,1
"""

BROKEN = [
    "",
    "   \n  # only a comment\n",
    "version: 2\nhexagons:\n 1,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 1,1,1\n",
    "version 1",
    "version: 1\nsettings:\n foo: 1\n",
    "version: 1\nsettings:\n seed: 1\n seed: 2\n",
    "version: 1\nsettings:\n neuron_cooldown: 1\n",
    "version: 1\nsettings:\n neuron_cooldown: 1e999\n",
    "version: 1\nsettings:\n neuron_cooldown: abc\n",
    "version: 1\nsettings:\n refractory_time: 256\n",
    "version: 1\nsettings:\n refractory_time: 0\n",
    "version: 1\nsettings:\n enable_reduction: yes\n",
    "version: 1\nsettings:\n input_gain: 0\n",
    "version: 1\nsettings:\n profile: fancy\n",
    "version: 1\nsettings:\n seed: -1\n",
    "version: 1\nhexagons:\n",
    "version: 1\nhexagons:\n 1,1\n",
    "version: 1\nhexagons:\n 1,1,4294967296\n",
    "version: 1\nhexagons:\n 1,1,1\n 1,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\naxons:\n 1,1,1 -> 1,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\naxons:\n 1,1,1 -> 2,1,1\n 1,1,1 -> 2,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\naxons:\n 1,1,1 -> 9,9,9\n",
    "version: 1\nhexagons:\n 1,1,1\naxons:\n 1,1,1 2,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\ninputs:\n",
    "version: 1\nhexagons:\n 1,1,1\ninputs:\n a: 1,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\ninputs:\n a: 1,1,1\noutputs:\n a: 1,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 1,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1 (plain)\noutputs:\n b: 2,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1 (\noutputs:\n b: 2,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 2,1,1 (int\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 2,1,1\n 7\n",
    "version: 1\nhexagons:\n 1x,1,1\n",
    "version: 1\nhexagons:\n 1.5.3,1,1\n",
    "version: 1\nhexagons:\n 1,1,1 $\n",
    "version: 1\nhexagons:\n 1,1,1 'x'\n",
    "version: 1\nhexagons:\n 1,1,1 \\\n",
    "version: 1\nhexagons:\n \x01\n",
    "version: 1\nhexagons:\n 1,1,1 é\n",
    "version: 1\nhexagons:\n 1,1,1 \U0001f600\n",
    "version: 1\r\nhexagons:\r\n\t1,1,1\r\ninputs:\r\n a: 1,1,1\r\noutputs:\r\n b: 1,1,1",
    "version: 01\nhexagons:\n -0,1,1\ninputs:\n a: -0,1,1\noutputs:\n b: 5,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\ninputs:\n " + "n" * 255 + ": 1,1,1\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n hexagons: 1,1,1\n",
    "version: 1\nsettings:\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 2,1,1",
    "version: 1\nsettings:\n max_connection_distance: 5\naxons:\n",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\naxons:\ninputs:\n a: 1,1,1\noutputs:\n b: 2,1,1",
    "version:1 hexagons:1,1,1 2,1,1 inputs: a:1,1,1 outputs: b:2,1,1",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 2,1,1 -> 1",
    "version: 1\nhexagons:\n 1,1,1\n 2,1,1\ninputs:\n a: 1,1,1\noutputs:\n b: 2,1,1 - 1",
]


def mutations(base: str, count: int, seed: int) -> list[str]:
    """Random single-character deletions, insertions and replacements of ``base``."""
    rng = random.Random(seed)
    alphabet = "0123456789,:()->#abcxyz_ \n\t.eE"
    out = []
    for _ in range(count):
        text = list(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text))
            op = rng.random()
            if op < 0.4:
                del text[i]
            elif op < 0.7:
                text.insert(i, rng.choice(alphabet))
            else:
                text[i] = rng.choice(alphabet)
        out.append("".join(text))
    return out


def python_result(text: str) -> dict[str, Any]:
    try:
        t = parse_template(text)
    except TemplateError as exc:
        return {"error": [exc.line, exc.column, exc.message]}
    s = t.settings
    return {
        "template": [
            [list(h) for h in t.hexagons],
            [list(a) for a in t.axons],
            [[i.name, i.hexagon, i.kind] for i in t.inputs],
            [[o.name, o.hexagon, o.type] for o in t.outputs],
            {
                "neuron_cooldown": s.neuron_cooldown,
                "refractory_time": s.refractory_time,
                "max_connection_distance": s.max_connection_distance,
                "enable_reduction": s.enable_reduction,
                "profile": s.profile,
                "seed": s.seed,
                "input_gain": s.input_gain,
            },
        ]
    }


def test_javascript_parser_matches_python() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (needed to run the dashboard's JavaScript)")
    cases = [OPENHANAMI_MNIST, FULL, *BROKEN]
    cases += mutations(OPENHANAMI_MNIST, 250, seed=1) + mutations(FULL, 250, seed=2)
    proc = subprocess.run(
        [node, "-e", NODE_SCRIPT, str(TEMPLATE_JS)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    js_results = json.loads(proc.stdout)
    assert len(js_results) == len(cases)
    valid = 0
    for text, js in zip(cases, js_results, strict=True):
        expected = python_result(text)
        assert js == expected, f"template {text!r}"
        valid += "template" in expected
    assert valid >= 10  # the corpus exercises both outcomes

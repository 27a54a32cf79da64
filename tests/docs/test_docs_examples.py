"""The code in README.md and docs/*.md works.

Convention: an HTML comment on the line before a fenced block (blank lines allowed between)
marks it for the tests, and is invisible in the rendered Markdown:

- ``<!-- test: run -->`` on a ```` ```python ```` or ```` ```sh ```` block: the block runs.
  All marked blocks of one file and language run in document order, sharing state (one
  Python namespace; one ``bash -euo pipefail`` script), in an empty working folder, against
  a real server (``docs_server``) with ``HANAMI_ADDRESS``, ``HANAMI_USER`` and
  ``HANAMI_PASSPHRASE`` set. Two texts are replaced before running:
  ``http://127.0.0.1:11418`` by the test server's address and ``../shared/data/mnist`` by
  a folder holding an MNIST subset (10,000 training and 1,000 test images, gzip-compressed,
  original file names). Every ``accuracy: X %`` the examples print must be above 80.
- The accuracies README.md states in a comment on the line that prints one (``# 94.77 %``,
  ``# about 94 %``) are what its runs print on the whole of ``../shared/data/mnist``: within
  :data:`STATED_TOLERANCE` of a figure given to two decimals (the engine is deterministic
  for a seed), within :data:`ABOUT_TOLERANCE` of an "about" figure (a server cluster gets a
  random seed). Those runs take minutes: marked ``slow`` and ``mnist``.
- ``<!-- test: template -->``: the block is a cluster template that
  ``hanami.core.parse_template`` accepts; ``<!-- test: template-error TEXT -->``: one it
  rejects with a ``TemplateError`` whose message contains TEXT.

Independently of the markers, every ```` ```python ```` block must compile.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import e2e_data
import pytest
import sdk_server
from e2e_data import ACCURACY_THRESHOLD

from hanami.core import TemplateError, parse_template
from hanami.sdk import HanamiClient

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER_RE = re.compile(r"^<!--\s*test:\s*(?P<kind>[a-z-]+)(?:\s+(?P<arg>.*?))?\s*-->$")
KINDS = ("run", "template", "template-error")
RUN_LANGUAGES = {"python": "python", "py": "python", "sh": "sh", "bash": "sh", "shell": "sh"}
DEFAULT_ADDRESS = "http://127.0.0.1:11418"
MNIST_PATH = "../shared/data/mnist"
ACCURACY_RE = re.compile(r"accuracy: ([0-9.]+) %")
STATED_RE = re.compile(
    r"#\s*(?:accuracy:\s*)?(?P<about>about\s+)?(?P<figure>[0-9]+(?:\.[0-9]+)?) %$"
)
"""A comment that states an accuracy: ``# 94.77 %``, ``# accuracy: about 94 %``."""
STATED_TOLERANCE = 0.1
"""Percentage points between a figure stated to two decimals and the printed one."""
ABOUT_TOLERANCE = 1.0
"""Percentage points between an "about" figure and the printed one."""
RUN_TIMEOUT = 300
PRINTED_ACCURACIES = {("README.md", "sh"): 1, ("README.md", "python"): 2, ("api.md", "sh"): 1}
"""How many ``accuracy: X %`` lines the runs print (the tours grade what they trained)."""
LOGINS = {("README.md", "sh"): 1, ("cli.md", "sh"): 1}
"""How many times the runs log in (``POST /token``): the CLI caches its token."""

pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 60)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    kind: str | None
    arg: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def read_blocks(path: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks of a Markdown file, and problems with its markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    marker: tuple[str, str, int] | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if match := MARKER_RE.match(stripped):
            if marker is not None:
                problems.append(f"{path.name}:{marker[2]}: marker without a block")
            marker = (match["kind"], match["arg"] or "", i + 1)
            if match["kind"] not in KINDS:
                problems.append(f"{path.name}:{i + 1}: unknown marker '{match['kind']}'")
        elif stripped.startswith("```"):
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
            language = stripped[len(fence) :].strip().lower()
            end = i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            code = textwrap.dedent("\n".join(lines[i + 1 : end])) + "\n"
            kind, arg = (marker[0], marker[1]) if marker else (None, "")
            blocks.append(Block(path, i + 1, language, code, kind, arg))
            marker = None
            i = end
        elif stripped and marker is not None:
            problems.append(f"{path.name}:{marker[2]}: marker not followed by a block")
            marker = None
        i += 1
    if marker is not None:
        problems.append(f"{path.name}:{marker[2]}: marker at the end of the file")
    return blocks, problems


ALL_BLOCKS = [block for path in DOC_FILES for block in read_blocks(path)[0]]
PYTHON_BLOCKS = [b for b in ALL_BLOCKS if RUN_LANGUAGES.get(b.language) == "python"]
TEMPLATE_BLOCKS = [b for b in ALL_BLOCKS if b.kind in ("template", "template-error")]
RUN_GROUPS = sorted(
    {(b.path, RUN_LANGUAGES[b.language]) for b in ALL_BLOCKS if b.kind == "run"},
    key=lambda group: (str(group[0]), group[1]),
)


def run_blocks(path: Path, language: str) -> list[Block]:
    return [
        b
        for b in ALL_BLOCKS
        if b.path == path and b.kind == "run" and RUN_LANGUAGES.get(b.language) == language
    ]


def substitute(code: str, server_url: str, mnist_dir: Path) -> str:
    return code.replace(DEFAULT_ADDRESS, server_url).replace(MNIST_PATH, str(mnist_dir))


def check_accuracies(output: str, where: str) -> list[float]:
    values = [float(v) for v in ACCURACY_RE.findall(output)]
    for value in values:
        assert value > ACCURACY_THRESHOLD, f"{where} printed accuracy {value} %:\n{output}"
    return values


# ------------------------------------------------------------------------- static checks


def test_markers_are_attached_to_blocks() -> None:
    problems = [problem for path in DOC_FILES for problem in read_blocks(path)[1]]
    assert not problems
    for block in ALL_BLOCKS:
        if block.kind == "run":
            assert block.language in RUN_LANGUAGES, f"{block.where}: cannot run {block.language}"


def test_the_readme_tour_and_the_template_docs_are_tested() -> None:
    readme = {
        RUN_LANGUAGES[b.language]
        for b in ALL_BLOCKS
        if b.path.name == "README.md" and b.kind == "run"
    }
    assert readme == {"python", "sh"}
    assert any(b.path.name == "templates.md" and b.kind == "template" for b in ALL_BLOCKS)
    assert any(b.path.name == "api.md" and b.kind == "run" for b in ALL_BLOCKS)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.where)
def test_python_blocks_compile(block: Block) -> None:
    compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("block", TEMPLATE_BLOCKS, ids=lambda b: b.where)
def test_template_blocks(block: Block) -> None:
    if block.kind == "template":
        template = parse_template(block.code)
        assert parse_template(template.to_text()) == template
        return
    with pytest.raises(TemplateError) as error:
        parse_template(block.code)
    assert block.arg in str(error.value)


# ---------------------------------------------------------------------- running examples


@pytest.fixture
def docs_env(docs_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The environment the examples run in (also set in this process for Python blocks)."""
    return server_env(docs_server, monkeypatch, tmp_path)


def server_env(server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The environment of examples run against ``server`` (set in this process as well)."""
    for key in list(os.environ):
        if key.startswith("HANAMI_"):
            monkeypatch.delenv(key)
    env = {
        "HANAMI_ADDRESS": server.url,
        "HANAMI_USER": server.admin_id,
        "HANAMI_PASSPHRASE": server.admin_passphrase,
        "HANAMI_CONFIG_DIR": str(tmp_path / "config"),
        "HANAMI_TOKEN_CACHE": str(tmp_path / "config" / "tokens.json"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "language"),
    RUN_GROUPS,
    ids=[f"{path.relative_to(REPO)}-{language}" for path, language in RUN_GROUPS],
)
def test_examples_run(
    path: Path,
    language: str,
    docs_server,
    docs_env: dict[str, str],
    mnist_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocks = run_blocks(path, language)
    work = tmp_path / "work"
    work.mkdir()
    logins = LOGINS.get((path.name, language))
    before = count_admin_logins(docs_server) if logins is not None else 0
    if language == "sh":
        output = _run_shell(blocks, docs_server.url, mnist_dir, docs_env, work)
    else:
        monkeypatch.chdir(work)
        output = _run_python(blocks, docs_server.url, mnist_dir)
    accuracies = check_accuracies(output, f"{path.name} ({language})")
    assert len(accuracies) == PRINTED_ACCURACIES.get((path.name, language), 0), output
    if logins is not None:  # counting logs in once more itself: one row after ``before``
        assert count_admin_logins(docs_server) - before == logins + 1


def stated_accuracies(blocks: list[Block]) -> list[tuple[float, float]]:
    """(figure, tolerance) of each accuracy the blocks state in a comment, in order."""
    return [
        (float(m["figure"]), ABOUT_TOLERANCE if m["about"] else STATED_TOLERANCE)
        for block in blocks
        for line in block.code.splitlines()
        if (m := STATED_RE.search(line))
    ]


def test_stated_accuracies_are_read_from_the_comments() -> None:
    code = (
        "hanami dataset check $R -r $T   # accuracy: about 94 %\n"
        'print(f"accuracy: {a:.2f} %")  # 94.77 %\n'
        'print(f"accuracy: {a:.2f} %")\n'
    )
    block = Block(REPO / "README.md", 1, "sh", code, "run", "")
    assert stated_accuracies([block]) == [(94.0, ABOUT_TOLERANCE), (94.77, STATED_TOLERANCE)]
    readme = [b for language in ("sh", "python") for b in run_blocks(REPO / "README.md", language)]
    assert len(stated_accuracies(readme)) == 3  # the CLI tour, the SDK tour, the engine


@pytest.mark.slow
@pytest.mark.mnist
@pytest.mark.parametrize("language", ["sh", "python"])
def test_readme_figures_on_the_whole_of_mnist(
    language: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (e2e_data.MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found in {e2e_data.MNIST_DIR}")
    blocks = run_blocks(REPO / "README.md", language)
    work, folder = tmp_path / "work", tmp_path / "server"
    work.mkdir()
    folder.mkdir()
    # a server of its own: the tours create clusters by name, once per server
    with sdk_server.running_server(folder) as server:
        env = server_env(server, monkeypatch, tmp_path)
        if language == "sh":
            output = _run_shell(blocks, server.url, e2e_data.MNIST_DIR, env, work)
        else:
            monkeypatch.chdir(work)
            output = _run_python(blocks, server.url, e2e_data.MNIST_DIR)
    printed = [float(v) for v in ACCURACY_RE.findall(output)]
    stated = stated_accuracies(blocks)
    assert len(printed) == len(stated), output
    for value, (figure, tolerance) in zip(printed, stated, strict=True):
        assert abs(value - figure) <= tolerance, f"README.md states {figure} %, printed {value} %"


def count_admin_logins(server) -> int:
    with HanamiClient(server.url, user=server.admin_id, passphrase=server.admin_passphrase) as c:
        return sdk_server.count_logins(c, server.admin_id)


def _run_shell(
    blocks: list[Block], url: str, mnist_dir: Path, env: dict[str, str], work: Path
) -> str:
    script = "\n".join(
        f"# {block.where}\n{substitute(block.code, url, mnist_dir)}" for block in blocks
    )
    for tool in ("jq", "curl"):
        if re.search(rf"\b{tool}\b", script) and shutil.which(tool) is None:
            pytest.skip(f"the examples need '{tool}', which is not installed")
    (work / "examples.sh").write_text("set -euo pipefail\n" + script)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HANAMI_")}
    environment.update(env)
    environment["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environment["PATH"]
    result = subprocess.run(
        ["bash", "examples.sh"],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{blocks[0].path.name}: exit {result.returncode}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )
    sys.stdout.write(result.stdout)
    return result.stdout


def _run_python(blocks: list[Block], url: str, mnist_dir: Path) -> str:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            for block in blocks:
                code = compile(substitute(block.code, url, mnist_dir), block.where, "exec")
                exec(code, namespace)
    finally:
        for value in namespace.values():
            close = getattr(value, "close", None)
            if type(value).__name__ == "HanamiClient" and callable(close):
                close()
        sys.stdout.write(output.getvalue())
    return output.getvalue()

"""The package layers, checked on the imports every module writes (read from its AST).

- ``hanami.core`` (the engine) imports only numpy, numba, the standard library and itself.
- ``hanami.protocol`` (what goes over the wire) imports neither server, SDK nor CLI.
- ``hanami.sdk`` and ``hanami.cli`` never import ``hanami.server``, with one exception:
  the ``serve`` command of ``hanami.cli.main`` starts the server, so it imports it inside
  that function (lazily: the other commands never load the web stack).
- ``hanami.server`` never imports ``hanami.cli`` or ``hanami.sdk``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import hanami

PACKAGE_ROOT = Path(hanami.__file__).parent

ALLOWED_LAZY = {("hanami.cli.main", "serve"): "hanami.server"}
"""(module, function) -> the layer that function may import inside its body."""


def _module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path, root: Path = PACKAGE_ROOT) -> Iterator[tuple[str, str | None]]:
    """``(imported module, enclosing top-level function or None)`` for every import."""
    module = _module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    owners: dict[int, str] = {}
    for top in tree.body:
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(top):
                owners[id(node)] = top.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node, path.name == "__init__.py")
            names = [base] + [f"{base}.{alias.name}" for alias in node.names if base == "hanami"]
        else:
            continue
        for name in names:
            yield name, owners.get(id(node))


def _modules(layer: str, root: Path = PACKAGE_ROOT) -> list[Path]:
    return sorted((root / layer).rglob("*.py"))


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(layer: str, forbidden: tuple[str, ...], root: Path = PACKAGE_ROOT) -> list[str]:
    found = []
    for path in _modules(layer, root):
        module = _module_name(path, root)
        for name, function in imports(path, root):
            for package in forbidden:
                if _in(name, package) and ALLOWED_LAZY.get((module, function or "")) != package:
                    found.append(f"{module} ({function or 'module level'}) imports {name}")
    return found


CORE_ALLOWED = ("numpy", "numba", "hanami.core")


def test_core_imports_only_numpy_numba_and_the_standard_library() -> None:
    found = []
    for path in _modules("core"):
        for name, _ in imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            if not any(_in(name, allowed) for allowed in CORE_ALLOWED):
                found.append(f"{_module_name(path)} imports {name}")
    assert found == []


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("protocol", ("hanami.server", "hanami.sdk", "hanami.cli")),
        ("sdk", ("hanami.server", "hanami.cli")),
        ("cli", ("hanami.server",)),
        ("server", ("hanami.cli", "hanami.sdk")),
    ],
)
def test_layer_does_not_import(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(layer, forbidden) == []


def test_the_checker_sees_relative_lazy_and_from_package_imports(tmp_path: Path) -> None:
    """The walk must notice every spelling of an import, or the tests above prove nothing."""
    root = tmp_path / "hanami"
    (root / "cli").mkdir(parents=True)
    probe = "def serve():\n    import hanami.server.app\n"
    (root / "cli" / "main.py").write_text(probe, encoding="utf-8")
    sample = root / "cli" / "probe.py"
    sample.write_text(
        "from .. import server\n"
        + probe
        + "def other():\n    from hanami.server.config import ServerSettings\n",
        encoding="utf-8",
    )
    found = list(imports(sample, root))
    assert ("hanami.server", None) in found
    assert ("hanami.server.app", "serve") in found
    assert ("hanami.server.config", "other") in found
    assert _violations("cli", ("hanami.server",), root) == [  # serve is allowed only in main
        "hanami.cli.probe (module level) imports hanami.server",
        "hanami.cli.probe (serve) imports hanami.server.app",
        "hanami.cli.probe (other) imports hanami.server.config",
    ]


def test_the_allowed_exception_exists() -> None:
    """The one lazy import it allows is really there (else the exception is stale)."""
    path = PACKAGE_ROOT / "cli" / "main.py"
    assert any(f == "serve" and _in(n, "hanami.server") for n, f in imports(path))

"""What commands print: one JSON document (``--json``), a uuid (``--quiet``), or tables."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from hanami.cli._state import State

__all__ = ["emit", "emit_created", "emit_object", "emit_rows", "emit_table", "stdout_console"]


def stdout_console() -> Console:
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "200"))
    return Console(file=sys.stdout, width=width, soft_wrap=False, highlight=False)


def to_jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [to_jsonable(x) for x in data]
    if isinstance(data, dict):
        return {k: to_jsonable(v) for k, v in data.items()}
    if hasattr(data, "tolist"):
        return data.tolist()
    return data


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def emit(state: State, data: Any, text: str | Callable[[], None]) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text`` (a line, or a renderer)."""
    if state.json:
        typer.echo(json.dumps(to_jsonable(data), indent=2))
    elif callable(text):
        text()
    else:
        typer.echo(text)


def emit_object(
    state: State,
    data: BaseModel | Mapping[str, Any],
    *,
    title: str | None = None,
    fields: Sequence[str] | None = None,
) -> None:
    """One object: JSON, or a FIELD | VALUE table."""

    def render() -> None:
        values = to_jsonable(data)
        table = RichTable(title=title, box=box.SIMPLE_HEAVY, show_header=True)
        table.add_column("FIELD", style="bold", no_wrap=True)
        table.add_column("VALUE", overflow="fold")
        for key in fields or list(values):
            if key in values:
                table.add_row(key, _cell(values[key]))
        stdout_console().print(table)

    emit(state, data, render)


def emit_created(
    state: State,
    quiet: bool,
    data: BaseModel,
    *,
    title: str,
    fields: Sequence[str] | None = None,
) -> None:
    """A created thing: only its uuid with ``--quiet`` (for ``$(...)``), else as ``emit_object``."""
    if quiet and not state.json:
        typer.echo(to_jsonable(data)["uuid"])
    else:
        emit_object(state, data, title=title, fields=fields)


def emit_rows(
    state: State, data: Any, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """``data`` as JSON, else a table of ``header`` and ``rows`` (``(none)`` when empty)."""

    def render() -> None:
        table = RichTable(box=box.SIMPLE_HEAVY)
        for name in header:
            table.add_column(name.upper(), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(value) for value in row))
        stdout_console().print(table)
        if not rows:
            typer.echo("(none)")

    emit(state, data, render)


def emit_table(
    state: State, data: BaseModel | Mapping[str, Any], *, columns: Sequence[str] | None = None
) -> None:
    """A list answer (``header`` + ``body``): the same JSON, or a table of chosen columns."""
    values = to_jsonable(data)
    header: list[str] = values.get("header", [])
    chosen = [c for c in (columns or header) if c in header]
    indexes = [header.index(c) for c in chosen]
    rows = [[row[i] if i < len(row) else None for i in indexes] for row in values.get("body", [])]
    emit_rows(state, data, chosen, rows)

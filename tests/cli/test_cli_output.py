"""What the commands print for people and scripts: ``-q``, ``task list``, help width."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import typer
from cli_helpers import Cli
from sdk_server import needs_clusters, needs_datasets, needs_tasks
from typer.core import TyperGroup

from hanami.cli.main import app

UUID_LINE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def quiet(cli: Cli, *args: str) -> str:
    """Run with ``-q``: stdout must be exactly one uuid and a newline."""
    result = cli.ok(*args, "-q")
    assert UUID_LINE.fullmatch(result.stdout), result.stdout
    return result.stdout.strip()


@needs_clusters
def test_quiet_prints_exactly_the_uuid(admin_cli: Cli, template_file: Path) -> None:
    cluster = quiet(admin_cli, "cluster", "create", unique("quiet"), "-t", str(template_file))
    assert admin_cli.json("cluster", "show", cluster)["uuid"] == cluster
    assert admin_cli.json("cluster", "create", unique("q"), "-t", str(template_file), "-q")["uuid"]


@needs_tasks
@needs_datasets
def test_task_list_is_readable(admin_cli: Cli, template_file: Path, csv_file: Path) -> None:
    cluster = quiet(admin_cli, "cluster", "create", unique("list"), "-t", str(template_file))
    data = quiet(admin_cli, "dataset", "upload", "csv", unique("list"), "-i", str(csv_file))
    bindings = ("-c", cluster, "-i", f"{data}:x:picture_hex")
    trained = quiet(admin_cli, "task", "train", "fit_x", *bindings, "-o", f"{data}:y:label_hex")
    asked = quiet(admin_cli, "task", "request", "ask_y", *bindings, "-r", "label_hex:y", "-w")
    admin_cli.ok("task", "wait", trained, "-c", cluster, "--timeout", "120")
    lines = admin_cli.ok("task", "list", "-c", cluster).stdout.splitlines()
    header = next(line for line in lines if "UUID" in line).split()
    assert header == ["UUID", "NAME", "KIND", "STATE", "DONE", "QUEUED", "STARTED", "ENDED"]
    rows = {
        line.split()[0]: line.split() for line in lines if line.split()[:1] in ([trained], [asked])
    }
    assert rows[trained][1:6] == ["fit_x", "train", "finished", "100", "%"]
    assert rows[asked][1:6] == ["ask_y", "request", "finished", "100", "%"]
    assert "1.000000" not in "\n".join(lines)
    listed = admin_cli.json("task", "list", "-c", cluster)  # JSON: the server's list as sent
    assert listed["header"] == ["uuid", "state", "percentage", "queued", "start", "end"]


# ----------------------------------------------------------------------------------- help


def help_text(cli: Cli, columns: int, *command: str) -> str:
    return cli.ok(*command, "--help", COLUMNS=str(columns)).stdout


def every_command(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if not command.hidden:
            found += (
                every_command(command, (*path, name))
                if isinstance(command, TyperGroup)
                else [(*path, name)]
            )
    return found


def test_help_uses_a_wide_terminal(cli: Cli) -> None:
    text = help_text(cli, 120, "task", "train")
    assert max(len(line) for line in text.splitlines()) == 120
    (line,) = [line for line in text.splitlines() if "--input" in line]
    assert "DATASET_UUID:COLUMN:HEXAGON" in line


def test_help_wraps_metavars_on_a_narrow_terminal(cli: Cli) -> None:
    lines = help_text(cli, 60, "task", "request").splitlines()
    assert max(len(line) for line in lines) <= 60
    first = next(i for i, line in enumerate(lines) if "--input" in line)
    start = lines[first].index("DATASET_UUID")
    width = lines[first].index(" ", start) - start
    parts = []
    for line in lines[first:]:
        if "--result" in line:
            break
        parts.append(line[start : start + width].strip())
    assert "".join(parts) == "DATASET_UUID:COLUMN:HEXAGON"  # folded over lines, not cut
    assert len(parts) > 1


def test_no_help_is_cut_at_80_columns(cli: Cli) -> None:
    commands = every_command(typer.main.get_command(app))
    assert len(commands) > 40
    cut = [" ".join(c) for c in commands if "…" in help_text(cli, 80, *c)]
    assert cut == []

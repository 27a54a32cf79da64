"""``hanami cluster``, ``hanami checkpoint`` and ``hanami host``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hanami.cli._app import JsonOpt, QuietOpt, new_typer, show_command
from hanami.cli._commands import transfer
from hanami.cli._errors import CliError
from hanami.cli._output import emit, emit_created, emit_object, emit_table
from hanami.cli._resource_commands import ResourceCommands
from hanami.cli._state import state_of

__all__ = ["checkpoint_app", "cluster_app", "host_app", "read_template"]

cluster_app = new_typer("Clusters: create from a template, inspect, checkpoint, switch mode.")
checkpoint_app = new_typer("Checkpoints (saved clusters).")
host_app = new_typer("Logical compute hosts (CPU sockets, GPUs).")

CLUSTER_FIELDS = (
    "uuid",
    "name",
    "owner_id",
    "project_id",
    "visibility",
    "created_at",
    "mode",
    "inputs",
    "outputs",
    "number_of_blocks",
    "number_of_sections",
)
LIST_COLUMNS = ("uuid", "name", "owner_id", "project_id", "created_at")

ClusterUuid = Annotated[str, typer.Argument(help="Cluster uuid.", metavar="uuid")]
CLUSTER = ResourceCommands("clusters", ClusterUuid, "Cluster", fields=CLUSTER_FIELDS)


class Mode(StrEnum):
    TASK = "TASK"
    DIRECT = "DIRECT"


def read_template(path: Path, *, validate: bool = True) -> str:
    """Read a template file and check it with the local parser (errors name line/column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not a UTF-8 text file", 2) from exc
    except OSError as exc:
        raise CliError(f"cannot read template {path}: {exc.strerror or exc}", 2) from exc
    if validate:
        from hanami.core.template import TemplateError, parse_template

        try:
            parse_template(text)
        except TemplateError as exc:
            raise CliError(
                f"{path}:{exc.line}:{exc.column}: invalid template: {exc.message}"
            ) from exc
    return text


# ---------------------------------------------------------------------------------- clusters


@cluster_app.command("create")
def cluster_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    template: Annotated[
        Path, typer.Option("--template", "-t", help="Cluster template file.", dir_okay=False)
    ],
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Parse the template locally first.")
    ] = True,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Create a cluster from a template file (checked locally before the upload)."""
    state = state_of(ctx, json_)
    text = read_template(template, validate=validate)
    cluster = state.client(ctx).clusters.create(name, text)
    emit_created(state, quiet, cluster, title="Cluster", fields=CLUSTER_FIELDS)


@cluster_app.command("list")
def cluster_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List clusters."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).clusters.list(), columns=LIST_COLUMNS)


show_command(cluster_app, CLUSTER.show())
cluster_app.command("delete")(CLUSTER.delete())


cluster_app.command("save")(
    CLUSTER.task(
        "save",
        Annotated[str, typer.Option("--name", "-n", help="Checkpoint name.")],
        "Checkpoint task",
        "Save a cluster as a checkpoint (the printed uuid is the checkpoint's).",
    )
)
cluster_app.command("restore")(
    CLUSTER.task(
        "restore",
        Annotated[str, typer.Option("--checkpoint", "-c", help="Checkpoint uuid.")],
        "Restore task",
        "Restore a checkpoint into a cluster.",
    )
)


@cluster_app.command("mode")
def cluster_mode(
    ctx: typer.Context,
    uuid: ClusterUuid,
    mode: Annotated[Mode, typer.Argument(help="TASK (queued tasks) or DIRECT (websocket I/O).")],
    json_: JsonOpt = False,
) -> None:
    """Switch a cluster between task mode and direct (websocket) mode."""
    state = state_of(ctx, json_)
    result = state.client(ctx).clusters.set_mode(uuid, mode.value)
    emit_object(state, result, title="Cluster mode")


@cluster_app.command("switch-host")
def cluster_switch_host(
    ctx: typer.Context,
    uuid: ClusterUuid,
    host: Annotated[str, typer.Argument(help="Host uuid (see 'hanami host list').")],
    hexagon: Annotated[int, typer.Option("--hexagon", help="Hexagon index to move.")] = 1,
    json_: JsonOpt = False,
) -> None:
    """Move a hexagon of a cluster to another host."""
    state = state_of(ctx, json_)
    cluster = state.client(ctx).clusters.switch_host(uuid, host, hexagon_id=hexagon)
    emit_object(state, cluster, title="Cluster", fields=CLUSTER_FIELDS)


# ------------------------------------------------------------------------------- checkpoints


CheckpointUuid = Annotated[str, typer.Argument(help="Checkpoint uuid.", metavar="uuid")]
CheckpointName = Annotated[str, typer.Argument(help="Name of the new checkpoint.")]
CHECKPOINT = ResourceCommands("checkpoints", CheckpointUuid, "Checkpoint")


@checkpoint_app.command("list")
def checkpoint_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List checkpoints."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).checkpoints.list(), columns=LIST_COLUMNS)


show_command(checkpoint_app, CHECKPOINT.show())


@checkpoint_app.command("download")
def checkpoint_download(
    ctx: typer.Context,
    uuid: CheckpointUuid,
    output: Annotated[Path, typer.Option("--output", "-o", help="Target file.", dir_okay=False)],
    json_: JsonOpt = False,
) -> None:
    """Save a checkpoint file locally (Hanami)."""
    state, size = transfer(
        ctx, json_, f"Downloading {uuid}", lambda c: c.checkpoints.download, uuid, output
    )
    data = {"uuid": uuid, "output": str(output), "size": size}
    emit(state, data, f"Saved checkpoint {uuid} ({size} bytes) to {output}")


@checkpoint_app.command("upload")
def checkpoint_upload(
    ctx: typer.Context,
    name: CheckpointName,
    file: Annotated[
        Path,
        typer.Option("--input", "-i", help="Checkpoint file.", exists=True, dir_okay=False),
    ],
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Upload a checkpoint file (Hanami); restore it with 'hanami cluster restore'."""
    state, checkpoint = transfer(
        ctx, json_, f"Uploading {name}", lambda c: c.checkpoints.upload, name, file
    )
    emit_created(state, quiet, checkpoint, title="Checkpoint")


checkpoint_app.command("delete")(CHECKPOINT.delete())


# ------------------------------------------------------------------------------------- hosts


@host_app.command("list")
def host_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the server's logical hosts."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).hosts.list())

"""``hanami task``: train and request tasks, progress, cancellation."""

from __future__ import annotations

from typing import Annotated

import typer

from hanami.cli._app import JsonOpt, new_typer, show_command
from hanami.cli._commands import Starter, task_command
from hanami.cli._output import emit, emit_object, emit_rows
from hanami.cli._state import state_of
from hanami.cli._waiting import TimeoutOpt, start_task
from hanami.sdk import Task, TaskRow

__all__ = ["parse_binding", "parse_result", "task_app"]

task_app = new_typer("Train and request tasks of a cluster.")
create_app = new_typer("Create a task (same as 'hanami task train|request').")
task_app.add_typer(create_app, name="create", hidden=True)  # hanamictl's spelling

TASK_FIELDS = (
    "uuid", "name", "type", "state", "error",
    "current_cycle", "total_number_of_cycles", "epoch", "epochs", "samples_per_second",
    "queue_timestamp", "start_timestamp", "end_timestamp", "cluster_uuid",
)  # fmt: skip

LIST_HEADER = ("uuid", "name", "kind", "state", "done", "queued", "started", "ended")
"""``task list``'s table; its JSON stays the server's list (uuid, state, fraction, times)."""

ClusterOpt = Annotated[str, typer.Option("--cluster", "-c", help="Cluster uuid.")]
TaskUuid = Annotated[str, typer.Argument(help="Task uuid.")]
TaskName = Annotated[str, typer.Argument(help="Task name.")]
BINDING = "DATASET_UUID:COLUMN:HEXAGON"
InputsOpt = Annotated[
    list[str],
    typer.Option("--input", "-i", metavar=BINDING, help="Input values (repeatable)."),
]
TimeLengthOpt = Annotated[
    int, typer.Option("--time-length", "-t", help="Rows per step (sliding window).", min=1)
]


def parse_binding(value: str) -> tuple[str, str, str]:
    """``DATASET_UUID:COLUMN:HEXAGON`` -> ``(dataset_uuid, column, hexagon)``."""
    parts = value.split(":")
    if len(parts) != 3 or not all(parts):
        raise typer.BadParameter(f"'{value}' is not {BINDING}")
    return parts[0], parts[1], parts[2]


def parse_result(value: str) -> tuple[str, str]:
    """``HEXAGON:COLUMN`` -> ``(hexagon, column)``."""
    parts = value.split(":")
    if len(parts) != 2 or not all(parts):
        raise typer.BadParameter(f"'{value}' is not HEXAGON:COLUMN")
    return parts[0], parts[1]


_task_command = task_command("Task", fields=TASK_FIELDS)


@_task_command
def train(
    name: TaskName,
    cluster: ClusterOpt,
    inputs: InputsOpt,
    outputs: Annotated[
        list[str],
        typer.Option("--output", "-o", metavar=BINDING, help="Expected values (repeatable)."),
    ],
    time_length: TimeLengthOpt = 1,
    epochs: Annotated[
        int | None, typer.Option("--epochs", "-e", help="Passes over the data (Hanami).", min=1)
    ] = None,
    shuffle: Annotated[
        bool | None,
        typer.Option("--shuffle/--no-shuffle", help="New random row order per epoch (Hanami)."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the shuffle.")] = None,
) -> Starter:
    """Train a cluster on dataset columns (one pass over the rows unless --epochs)."""
    inputs_, outputs_ = [parse_binding(v) for v in inputs], [parse_binding(v) for v in outputs]
    options = {"time_length": time_length, "epochs": epochs, "shuffle": shuffle, "seed": seed}
    return lambda client: client.tasks.train(cluster, name, inputs_, outputs_, **options)


@_task_command
def request(
    name: TaskName,
    cluster: ClusterOpt,
    inputs: InputsOpt,
    results: Annotated[
        list[str],
        typer.Option(
            "--result",
            "-r",
            metavar="HEXAGON:COLUMN",
            help="An output hexagon and its column in the result dataset (repeatable).",
        ),
    ],
    time_length: TimeLengthOpt = 1,
) -> Starter:
    """Run a cluster on dataset columns; the outputs become a dataset with the task's uuid."""
    inputs_, results_ = [parse_binding(v) for v in inputs], [parse_result(v) for v in results]
    return lambda client: client.tasks.request(
        cluster, name, inputs_, results_, time_length=time_length
    )


for _app in (task_app, create_app):
    _app.command("train", hidden=_app is create_app)(train)
    _app.command("request", hidden=_app is create_app)(request)


@task_app.command("list")
def task_list(ctx: typer.Context, cluster: ClusterOpt, json_: JsonOpt = False) -> None:
    """List the tasks of a cluster: name, kind, state, how far, when."""
    state = state_of(ctx, json_)
    client = state.client(ctx)
    table = client.tasks.list(cluster)
    rows = [] if state.json else [_list_row(r, client.tasks.get(r.uuid, cluster)) for r in table]
    emit_rows(state, table, LIST_HEADER, rows)


def _list_row(row: TaskRow, task: Task) -> list[str]:
    """The list's row (a fraction as a string) with the name and kind that only the task has."""
    try:
        done = f"{float(row.percentage) * 100:.0f} %"
    except ValueError:
        done = row.percentage
    return [row.uuid, task.name, task.type or "-", row.state, done, row.queued, row.start, row.end]


def _task_show(
    ctx: typer.Context, uuid: TaskUuid, cluster: ClusterOpt, json_: JsonOpt = False
) -> None:
    """Show the progress of a task."""
    state = state_of(ctx, json_)
    emit_object(state, state.client(ctx).tasks.get(uuid, cluster), title="Task", fields=TASK_FIELDS)


show_command(task_app, _task_show)


@task_app.command("wait")
def task_wait(
    ctx: typer.Context,
    uuid: TaskUuid,
    cluster: ClusterOpt,
    timeout: TimeoutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Wait for a task to finish, with a progress bar (samples/s, ETA)."""
    start_task(ctx, json_, lambda client: client.tasks.get(uuid, cluster), wait=True,
               quiet=False, timeout=timeout, title="Task", fields=TASK_FIELDS)  # fmt: skip


def _task_cancel(
    ctx: typer.Context, uuid: TaskUuid, cluster: ClusterOpt, json_: JsonOpt = False
) -> None:
    """Cancel a queued or running task, or remove a finished one."""
    state = state_of(ctx, json_)
    state.client(ctx).tasks.delete(uuid, cluster)
    emit(state, {"uuid": uuid, "deleted": True}, f"Cancelled task {uuid}")


task_app.command("cancel")(_task_cancel)
task_app.command("delete", hidden=True)(_task_cancel)

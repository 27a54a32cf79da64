"""``hanami task``: train and request tasks, progress, cancellation."""

from __future__ import annotations

from typing import Annotated

import typer

from hanami.cli._common import (
    JsonOpt,
    emit,
    emit_object,
    emit_table,
    new_typer,
    progress_bar,
    show_command,
    state_of,
)
from hanami.sdk import HanamiClient, Task

__all__ = ["parse_binding", "parse_result", "task_app"]

task_app = new_typer("Train and request tasks of a cluster.")
create_app = new_typer("Create a task (same as 'hanami task train|request').")
task_app.add_typer(create_app, name="create", hidden=True)  # hanamictl's spelling

TASK_FIELDS = (
    "uuid",
    "name",
    "type",
    "state",
    "error",
    "current_cycle",
    "total_number_of_cycles",
    "epoch",
    "epochs",
    "samples_per_second",
    "queue_timestamp",
    "start_timestamp",
    "end_timestamp",
    "cluster_uuid",
)

ClusterOpt = Annotated[str, typer.Option("--cluster", "-c", help="Cluster uuid.")]
TaskUuid = Annotated[str, typer.Argument(help="Task uuid.")]
TaskName = Annotated[str, typer.Argument(help="Task name.")]
InputsOpt = Annotated[
    list[str],
    typer.Option("--input", "-i", help="DATASET_UUID:COLUMN:HEXAGON (repeatable)."),
]
TimeLengthOpt = Annotated[
    int, typer.Option("--time-length", "-t", help="Rows per step (sliding window).", min=1)
]
WaitOpt = Annotated[
    bool, typer.Option("--wait", "-w", help="Wait for the end, with a progress bar.")
]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", help="Give up waiting after this many seconds.")
]


def parse_binding(value: str) -> tuple[str, str, str]:
    """``DATASET_UUID:COLUMN:HEXAGON`` -> ``(dataset_uuid, column, hexagon)``."""
    parts = value.split(":")
    if len(parts) != 3 or not all(parts):
        raise typer.BadParameter(f"'{value}' is not DATASET_UUID:COLUMN:HEXAGON")
    return parts[0], parts[1], parts[2]


def parse_result(value: str) -> tuple[str, str]:
    """``HEXAGON:COLUMN`` -> ``(hexagon, column)``."""
    parts = value.split(":")
    if len(parts) != 2 or not all(parts):
        raise typer.BadParameter(f"'{value}' is not HEXAGON:COLUMN")
    return parts[0], parts[1]


def wait_with_progress(client: HanamiClient, task: Task, timeout: float | None) -> Task:
    with progress_bar(f"Task {task.name or task.uuid}", total=None, kind="samples") as update:

        def show(state: Task) -> None:
            update(
                state.current_cycle,
                state.total_number_of_cycles or None,
                rate=state.samples_per_second,
                eta=state.eta_seconds,
            )

        return client.wait(task, progress=show, timeout=timeout)


def _finish(ctx: typer.Context, json_: bool, task: Task, wait: bool, timeout: float | None):
    state = state_of(ctx, json_)
    if wait:
        task = wait_with_progress(state.client(ctx), task, timeout)
    emit_object(state, task, title="Task", fields=TASK_FIELDS)


def train(
    ctx: typer.Context,
    name: TaskName,
    cluster: ClusterOpt,
    inputs: InputsOpt,
    outputs: Annotated[
        list[str],
        typer.Option("--output", "-o", help="DATASET_UUID:COLUMN:HEXAGON of expected values."),
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
    wait: WaitOpt = False,
    timeout: TimeoutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Train a cluster on dataset columns (one pass over the rows unless --epochs)."""
    state = state_of(ctx, json_)
    task = state.client(ctx).tasks.train(
        cluster,
        name,
        [parse_binding(v) for v in inputs],
        [parse_binding(v) for v in outputs],
        time_length=time_length,
        epochs=epochs,
        shuffle=shuffle,
        seed=seed,
    )
    _finish(ctx, json_, task, wait, timeout)


def request(
    ctx: typer.Context,
    name: TaskName,
    cluster: ClusterOpt,
    inputs: InputsOpt,
    results: Annotated[
        list[str],
        typer.Option("--result", "-r", help="HEXAGON:COLUMN of the result dataset (repeatable)."),
    ],
    time_length: TimeLengthOpt = 1,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Run a cluster on dataset columns; the outputs become a dataset with the task's uuid."""
    state = state_of(ctx, json_)
    task = state.client(ctx).tasks.request(
        cluster,
        name,
        [parse_binding(v) for v in inputs],
        [parse_result(v) for v in results],
        time_length=time_length,
    )
    _finish(ctx, json_, task, wait, timeout)


for _app in (task_app, create_app):
    _app.command("train", hidden=_app is create_app)(train)
    _app.command("request", hidden=_app is create_app)(request)


@task_app.command("list")
def task_list(ctx: typer.Context, cluster: ClusterOpt, json_: JsonOpt = False) -> None:
    """List the tasks of a cluster."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).tasks.list(cluster))


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
    state = state_of(ctx, json_)
    client = state.client(ctx)
    task = client.tasks.get(uuid, cluster)
    _finish(ctx, json_, task, True, timeout)


def _task_cancel(
    ctx: typer.Context, uuid: TaskUuid, cluster: ClusterOpt, json_: JsonOpt = False
) -> None:
    """Cancel a queued or running task, or remove a finished one."""
    state = state_of(ctx, json_)
    state.client(ctx).tasks.delete(uuid, cluster)
    emit(state, {"uuid": uuid, "deleted": True}, f"Cancelled task {uuid}")


task_app.command("cancel")(_task_cancel)
task_app.command("delete", hidden=True)(_task_cancel)

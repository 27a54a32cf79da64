"""Queued work (train, request, save, restore): optionally wait with a progress bar, then
print the task."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from pydantic import BaseModel

from hanami.cli._output import emit_created
from hanami.cli._progress import progress_bar
from hanami.cli._state import State, state_of
from hanami.sdk import HanamiClient, Task, TaskRef

__all__ = ["TimeoutOpt", "WaitOpt", "finish_task", "start_task"]

WaitOpt = Annotated[
    bool, typer.Option("--wait", "-w", help="Wait for the end, with a progress bar.")
]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", help="Give up waiting after this many seconds.")
]


def _wait_with_progress(
    client: HanamiClient,
    task: Task | TaskRef,
    *,
    cluster_uuid: str | None = None,
    timeout: float | None = None,
) -> Task:
    """Poll ``task`` until it finishes, drawing samples, rate and ETA on a terminal."""
    with progress_bar(f"Task {task.name or task.uuid}", total=None, kind="samples") as update:

        def show(state: Task) -> None:
            update(
                state.current_cycle,
                state.total_number_of_cycles or None,
                rate=state.samples_per_second,
                eta=state.eta_seconds,
            )

        target = task if isinstance(task, Task) else task.uuid
        return client.wait(target, cluster_uuid=cluster_uuid, progress=show, timeout=timeout)


def finish_task(
    state: State,
    client: HanamiClient,
    task: Task | TaskRef,
    wait: bool,
    quiet: bool,
    title: str,
    cluster_uuid: str | None = None,
    timeout: float | None = None,
    *,
    fields: Sequence[str] | None = None,
) -> None:
    """Wait (with ``--wait``) and print the task, or only its uuid with ``--quiet``."""
    shown: BaseModel = task
    if wait:
        shown = _wait_with_progress(client, task, cluster_uuid=cluster_uuid, timeout=timeout)
    emit_created(state, quiet, shown, title=title, fields=fields)


def start_task(
    ctx: typer.Context,
    json_: bool,
    start: Callable[[HanamiClient], Task | TaskRef],
    *,
    wait: bool,
    quiet: bool,
    timeout: float | None,
    title: str,
    cluster_uuid: str | None = None,
    fields: Sequence[str] | None = None,
) -> None:
    """Queue work with ``start(client)``, then wait and print it as :func:`finish_task` does."""
    state = state_of(ctx, json_)
    client = state.client(ctx)
    task = start(client)
    finish_task(state, client, task, wait, quiet, title, cluster_uuid, timeout, fields=fields)

"""Bodies that several commands share: queueing a task and a file transfer.

:func:`task_command` gives every command that queues a task (``task train``, ``task request``,
``cluster save``, ``cluster restore``) the same tail of options and the same wait-and-print
end; :func:`transfer` runs an upload or a download under a progress bar.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import typer

from hanami.cli._app import JsonOpt, QuietOpt
from hanami.cli._progress import progress_bar
from hanami.cli._state import State, state_of
from hanami.cli._waiting import TimeoutOpt, WaitOpt, start_task
from hanami.sdk import HanamiClient, Task, TaskRef

__all__ = ["Starter", "task_command", "transfer"]

T = TypeVar("T")
Starter = Callable[[HanamiClient], Task | TaskRef]
"""What queues the task, given the logged-in client."""

_KEYWORD = inspect.Parameter.KEYWORD_ONLY
_CONTEXT = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             annotation=typer.Context)  # fmt: skip
_TAIL = (
    inspect.Parameter("wait", _KEYWORD, default=False, annotation=WaitOpt),
    inspect.Parameter("timeout", _KEYWORD, default=None, annotation=TimeoutOpt),
    inspect.Parameter("quiet", _KEYWORD, default=False, annotation=QuietOpt),
    inspect.Parameter("json_", _KEYWORD, default=False, annotation=JsonOpt),
)
"""The options every task-queueing command ends with, in the order ``--help`` lists them."""


def task_command(
    title: str, *, fields: Sequence[str] | None = None, cluster_param: str | None = None
) -> Callable[[Callable[..., Starter]], Callable[..., None]]:
    """Make a command of ``build(**its options) -> Starter``: it queues the task, waits for
    it with ``--wait`` (``--timeout``) and prints it as ``title`` (``fields``), or only its
    uuid with ``--quiet``. ``cluster_param`` names the option that holds the cluster's uuid
    (for the wait); ``build``'s docstring is the command's help.

    Typer reads the command's parameters from its signature: ``build``'s own, after the
    context, then :data:`_TAIL`."""

    def decorate(build: Callable[..., Starter]) -> Callable[..., None]:
        signature = inspect.signature(build, eval_str=True)

        def command(ctx: typer.Context, **options: Any) -> None:
            wait, timeout, quiet, json_ = (options.pop(p.name) for p in _TAIL)
            cluster_uuid = options[cluster_param] if cluster_param else None
            start = build(**options)
            start_task(ctx, json_, start, wait=wait, quiet=quiet, timeout=timeout, title=title,
                       cluster_uuid=cluster_uuid, fields=fields)  # fmt: skip

        parameters = [_CONTEXT, *signature.parameters.values(), *_TAIL]
        command.__signature__ = signature.replace(parameters=parameters, return_annotation=None)
        command.__doc__ = build.__doc__
        command.__name__ = build.__name__
        return command

    return decorate


def transfer(
    ctx: typer.Context,
    json_: bool,
    title: str,
    method: Callable[[HanamiClient], Callable[..., T]],
    *args: Any,
    kind: str = "bytes",
    **kwargs: Any,
) -> tuple[State, T]:
    """The command's state and what ``method(client)(*args, progress=update, **kwargs)``
    returns, run under a progress bar ``title`` (uploads and downloads of datasets and
    checkpoints; ``kind`` as :func:`~hanami.cli._progress.progress_bar`)."""
    state = state_of(ctx, json_)
    client = state.client(ctx)
    with progress_bar(title, total=None, kind=kind) as update:
        return state, method(client)(*args, progress=update, **kwargs)

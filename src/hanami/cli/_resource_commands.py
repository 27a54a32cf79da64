"""``show`` and ``delete`` of an SDK resource, and the commands that start a task on one
(``cluster save``, ``cluster restore``), written once: only the resource and words differ.

No ``from __future__ import annotations`` here: Typer reads the parameter types of the
commands made below, and the identifier's type is known only when a command is made.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import typer

from hanami.cli._app import JsonOpt
from hanami.cli._commands import Starter, task_command
from hanami.cli._output import emit, emit_object
from hanami.cli._state import state_of

__all__ = ["ResourceCommands"]


@dataclass(frozen=True)
class ResourceCommands:
    """Commands for ``client.<attribute>`` (``get`` and ``delete`` by one identifier).

    ``argument`` is the identifier's ``Annotated`` type; its ``metavar`` names it in the help,
    as a parameter's name would. ``key`` is the identifier's name in ``--json`` output.
    """

    attribute: str
    argument: Any
    title: str
    key: str = "uuid"
    fields: Sequence[str] | None = None

    def show(self, help: str | None = None) -> Callable[..., None]:
        """A command printing the resource (``title`` and ``fields`` as ``emit_object``)."""
        attribute, title, fields = self.attribute, self.title, self.fields

        def show(ctx: typer.Context, identifier: self.argument, json_: JsonOpt = False) -> None:
            state = state_of(ctx, json_)
            found = getattr(state.client(ctx), attribute).get(identifier)
            emit_object(state, found, title=title, fields=fields)

        show.__doc__ = help or f"Show a {title.lower()}."
        return show

    def delete(self, help: str | None = None, *, done: str | None = None) -> Callable[..., None]:
        """A command deleting the resource; prints ``"<done> <identifier>"``."""
        attribute, key = self.attribute, self.key
        done = done or f"Deleted {self.title.lower()}"

        def delete(ctx: typer.Context, identifier: self.argument, json_: JsonOpt = False) -> None:
            state = state_of(ctx, json_)
            getattr(state.client(ctx), attribute).delete(identifier)
            emit(state, {key: identifier, "deleted": True}, f"{done} {identifier}")

        delete.__doc__ = help or f"Delete a {self.title.lower()}."
        return delete

    def task(self, method: str, option: Any, title: str, help: str) -> Callable[..., None]:
        """A command calling ``client.<attribute>.<method>(identifier, option)``, which starts
        a task, then waiting for it and printing it as every task command does."""
        attribute = self.attribute

        def start(identifier: self.argument, value: option) -> Starter:
            return lambda client: getattr(getattr(client, attribute), method)(identifier, value)

        start.__doc__ = help
        return task_command(title, cluster_param="identifier")(start)

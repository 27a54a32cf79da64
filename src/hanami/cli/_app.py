"""The command tree's plumbing: the root group (error boundary), sub-apps, shared options."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from hanami.cli._errors import ENV_DEBUG, report_error
from hanami.cli._state import State
from hanami.sdk import Unauthorized

__all__ = ["CommandGroup", "HanamiGroup", "JsonOpt", "QuietOpt", "new_typer", "show_command"]

JsonOpt = Annotated[
    bool,
    typer.Option("--json", "-j", help="Print exactly one JSON document on stdout."),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only the uuid (to use in $(...))."),
]


class CommandGroup(TyperGroup):
    """A group that prints its help when called without a command, and exits with 2.

    Typer signals that with an exception class it keeps private; a plain ``typer.Exit``
    leaves the error boundary nothing to guess."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), nl=False)  # rich prints the help itself, returns ""
            raise typer.Exit(2)
        return super().parse_args(ctx, args)


class HanamiGroup(CommandGroup):
    """The root command: every error becomes one line on stderr and a non-zero exit code.

    A request refused with a cached token (revoked, or signed by a server since reset) runs
    the command once more: the cached token is gone then, so it logs in afresh."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)

        def run(state: State) -> int:
            result = super(HanamiGroup, self).main(
                args=arguments,
                prog_name=prog_name or "hanami",
                complete_var=complete_var,
                standalone_mode=False,
                obj=state,
                **extra,
            )
            return result if isinstance(result, int) else 0

        try:
            code = self._run_once_more_if_refused(run)
        except KeyboardInterrupt:
            typer.echo("hanami: interrupted", err=True)
            code = 130
        except Exception as exc:
            if os.environ.get(ENV_DEBUG) and not isinstance(exc, typer.TyperException):
                raise
            code = report_error(exc)
        if not standalone_mode:
            return code
        sys.exit(code)

    @staticmethod
    def _run_once_more_if_refused(run: Callable[[State], int]) -> int:
        state = State()
        try:
            return run(state)
        except Unauthorized:
            if not state.forget_cached_token():
                raise
        return run(State())


def new_typer(help: str, **kwargs: Any) -> typer.Typer:
    """A sub-app with the project's defaults."""
    return typer.Typer(
        cls=CommandGroup,
        help=help,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        **kwargs,
    )


def show_command(app: typer.Typer, func: Callable[..., None]) -> None:
    """Register ``func`` as ``show`` and as the hidden alias ``get`` (the original's verb)."""
    app.command("show")(func)
    app.command("get", hidden=True)(func)

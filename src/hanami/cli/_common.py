"""Plumbing shared by the commands: state, login cache, error boundary, output, progress."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from typer.core import TyperGroup

from hanami.sdk import (
    DEFAULT_ADDRESS,
    HanamiClient,
    HanamiError,
    NotLoggedIn,
    StatusError,
    Unauthorized,
)
from hanami.sdk._client import jwt_claims, token_project

__all__ = [
    "CliError",
    "HanamiGroup",
    "JsonOpt",
    "State",
    "config_dir",
    "emit",
    "emit_object",
    "emit_table",
    "load_login",
    "new_typer",
    "save_login",
    "show_command",
    "state_of",
]

ENV_DEBUG = "HANAMI_DEBUG"
TOKEN_FILE = "token.json"

JsonOpt = Annotated[
    bool,
    typer.Option("--json", "-j", help="Print exactly one JSON document on stdout."),
]


class CliError(Exception):
    """A user-facing error: printed as one line on stderr, then exit with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


# ---------------------------------------------------------------------------- error boundary


def _one_line(text: str) -> str:
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts) if parts else ""


def describe_error(exc: BaseException) -> tuple[str, int]:
    """``(message, exit code)`` for anything a command can raise."""
    if isinstance(exc, CliError):
        return exc.message, exc.exit_code
    if isinstance(exc, NotLoggedIn):
        return (
            f"not logged in ({exc.message}): run 'hanami login' or set HANAMI_USER and "
            "HANAMI_PASSPHRASE",
            1,
        )
    if isinstance(exc, Unauthorized):
        return f"{exc.message} (HTTP 401; log in again with 'hanami login')", 1
    if isinstance(exc, StatusError):
        reason = exc.response.reason_phrase or ""
        return f"{exc.message} (HTTP {exc.status_code}{' ' + reason if reason else ''})", 1
    if isinstance(exc, HanamiError):
        return exc.message, 1
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}", 1
    if isinstance(exc, typer.Abort) or type(exc).__name__ == "Abort":
        return "aborted", 1
    if isinstance(exc, typer.TyperException):  # click usage errors (vendored click)
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        return message, int(getattr(exc, "exit_code", 2))
    return f"unexpected error: {type(exc).__name__}: {exc} (set {ENV_DEBUG}=1 for a traceback)", 1


def report_error(exc: BaseException) -> int:
    message, code = describe_error(exc)
    typer.echo(f"hanami: error: {_one_line(message)}", err=True)
    return code


class HanamiGroup(TyperGroup):
    """The root command: every error becomes one line on stderr and a non-zero exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name or "hanami",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = result if isinstance(result, int) else 0
        except KeyboardInterrupt:
            typer.echo("hanami: interrupted", err=True)
            code = 130
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # help was printed already
                code = 2
            elif os.environ.get(ENV_DEBUG) and not isinstance(exc, typer.TyperException):
                raise
            else:
                code = report_error(exc)
        if not standalone_mode:
            return code
        sys.exit(code)


def new_typer(help: str, **kwargs: Any) -> typer.Typer:
    """A sub-app with the project's defaults."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        **kwargs,
    )


# ------------------------------------------------------------------------------ login cache


def config_dir() -> Path:
    """``$HANAMI_CONFIG_DIR``, else the platform config folder (``$XDG_CONFIG_HOME/hanami``)."""
    override = os.environ.get("HANAMI_CONFIG_DIR")
    return Path(override) if override else Path(typer.get_app_dir("hanami"))


def token_file() -> Path:
    return config_dir() / TOKEN_FILE


def load_login() -> dict[str, Any] | None:
    path = token_file()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the saved login {path}: {exc}; run 'hanami login'") from exc
    return data if isinstance(data, dict) and isinstance(data.get("token"), str) else None


def save_login(address: str, user: str | None, token: str) -> Path:
    """Write the login cache atomically with mode 0600 (folder 0700)."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    claims = jwt_claims(token)
    data = {
        "address": address,
        "user": user or claims.get("sub"),
        "project_id": token_project(claims),
        "expires_at": claims.get("exp"),
        "token": token,
    }
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return path


def delete_login() -> bool:
    try:
        token_file().unlink()
    except FileNotFoundError:
        return False
    return True


# ------------------------------------------------------------------------------------ state


@dataclass
class State:
    """Global options, shared with every command through ``ctx.obj``."""

    address: str | None = None
    user: str | None = None
    passphrase: str | None = None
    token: str | None = None
    insecure: bool = False
    json: bool = False
    timeout: float = 60.0
    _client: HanamiClient | None = field(default=None, repr=False)
    uses_saved_login: bool = False

    def resolved_address(self) -> str:
        if self.address:
            return self.address
        saved = load_login()
        if saved and isinstance(saved.get("address"), str):
            return saved["address"]
        return DEFAULT_ADDRESS

    def client(self, ctx: typer.Context | None = None) -> HanamiClient:
        """The SDK client, from (in order) a token, user + passphrase, or the saved login."""
        if self._client is not None:
            return self._client
        address = self.resolved_address()
        common: dict[str, Any] = {"timeout": self.timeout, "verify": not self.insecure}
        if self.token:
            client = HanamiClient(address, token=self.token, **common)
        elif self.user or self.passphrase:
            if not (self.user and self.passphrase):
                missing = "HANAMI_PASSPHRASE" if self.user else "HANAMI_USER"
                raise CliError(f"{missing} (or its option) is missing; give user and passphrase")
            client = HanamiClient(address, user=self.user, passphrase=self.passphrase, **common)
        else:
            saved = load_login()
            if not saved or saved.get("address", "").rstrip("/") != address.rstrip("/"):
                raise NotLoggedIn(f"no saved login for {address}")
            expires = saved.get("expires_at")
            if isinstance(expires, int | float) and expires <= time.time():
                raise CliError(f"the saved login for {address} has expired: run 'hanami login'")
            user = saved.get("user")
            client = HanamiClient(
                address,
                token=saved["token"],
                renew_margin=600.0,
                on_token=lambda token: save_login(address, user, token),
                **common,
            )
            self.uses_saved_login = True
        self._client = client
        if ctx is not None:
            ctx.call_on_close(client.close)
        return client


def state_of(ctx: typer.Context, json_output: bool = False) -> State:
    """The root state; ``--json`` on a command sets JSON output as the global flag does."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    state: State = root.obj
    state.json = state.json or json_output
    return state


# ------------------------------------------------------------------------------------ output


def stdout_console() -> Console:
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "200"))
    return Console(file=sys.stdout, width=width, soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


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


def print_json(data: Any) -> None:
    typer.echo(json.dumps(to_jsonable(data), indent=2))


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
        print_json(data)
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


def emit_table(
    state: State,
    data: BaseModel | Mapping[str, Any],
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """A list answer (``header`` + ``body``): the same JSON, or a table of chosen columns."""

    def render() -> None:
        values = to_jsonable(data)
        header: list[str] = values.get("header", [])
        chosen = [c for c in (columns or header) if c in header]
        indexes = [header.index(c) for c in chosen]
        table = RichTable(title=title, box=box.SIMPLE_HEAVY)
        for name in chosen:
            table.add_column(name.upper(), overflow="fold")
        for row in values.get("body", []):
            table.add_row(*(_cell(row[i]) if i < len(row) else "-" for i in indexes))
        stdout_console().print(table)
        if not values.get("body"):
            typer.echo("(none)")

    emit(state, data, render)


# ---------------------------------------------------------------------------------- progress


@contextlib.contextmanager
def progress_bar(
    description: str, *, total: float | None, kind: str = "bytes"
) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr (only drawn on a terminal); yields ``update``.

    ``kind="bytes"`` shows size and transfer rate; ``kind="samples"`` shows done/total
    samples, samples per second and the ETA (pass ``completed``, ``total`` to update).
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = stderr_console()
    if kind == "bytes":
        columns: list[Any] = [
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]
    else:
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
        ]
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task_id = progress.add_task(description, total=total, count="", rate="", eta="-")
        started: list[float] = []

        def update(
            completed: float,
            total: float | None = None,
            *,
            rate: float | None = None,
            eta: float | None = None,
        ) -> None:
            """``rate``/``eta``: the server's numbers when it sends them, else measured."""
            fields: dict[str, Any] = {}
            if kind == "samples":
                now = time.monotonic()
                if not started:
                    started.extend([now, completed])
                if rate is None:
                    elapsed, done = now - started[0], completed - started[1]
                    rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
                left = (total or 0) - completed
                if eta is None and rate and left > 0:
                    eta = left / rate
                fields["count"] = (
                    f"{completed:,.0f}/{total:,.0f} samples"
                    if total
                    else f"{completed:,.0f} samples"
                )
                fields["rate"] = f"{rate:,.0f} samples/s" if rate else ""
                fields["eta"] = _duration(eta) if eta is not None and left > 0 else "-"
            progress.update(task_id, completed=completed, total=total, **fields)

        yield update


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def show_command(app: typer.Typer, func: Callable[..., None]) -> None:
    """Register ``func`` as ``show`` and as the hidden alias ``get`` (the original's verb)."""
    app.command("show")(func)
    app.command("get", hidden=True)(func)

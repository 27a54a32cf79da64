"""The ``hanami`` command: run the server and manage everything on it.

Connection settings come from options, the environment (``HANAMI_ADDRESS``, ``HANAMI_USER``,
``HANAMI_PASSPHRASE``, ``HANAMI_TOKEN``) or the login saved by ``hanami login``. Every command
takes ``--json`` (one JSON document on stdout); every error is one line on stderr and a
non-zero exit code.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from hanami import __version__
from hanami.cli import admin, bench, clusters, datasets, monitoring, tasks
from hanami.cli._app import HanamiGroup, JsonOpt
from hanami.cli._errors import CliError
from hanami.cli._output import emit, emit_object
from hanami.cli._session import delete_login, load_login, save_login, token_file, token_summary
from hanami.cli._state import state_of
from hanami.sdk import HanamiClient

__all__ = ["app"]

app = typer.Typer(
    name="hanami",
    cls=HanamiGroup,
    help="Hanami: a growing neural network served over an API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.add_typer(admin.user_app, name="user", rich_help_panel="Administration")
app.add_typer(admin.project_app, name="project", rich_help_panel="Administration")
app.add_typer(admin.api_token_app, name="api-token", rich_help_panel="Administration")
app.add_typer(clusters.cluster_app, name="cluster", rich_help_panel="Resources")
app.add_typer(datasets.dataset_app, name="dataset", rich_help_panel="Resources")
app.add_typer(tasks.task_app, name="task", rich_help_panel="Resources")
app.add_typer(clusters.checkpoint_app, name="checkpoint", rich_help_panel="Resources")
app.add_typer(clusters.host_app, name="host", rich_help_panel="Server")
app.add_typer(monitoring.logs_app, name="logs", rich_help_panel="Server")
app.add_typer(monitoring.metrics_app, name="metrics", rich_help_panel="Server")
app.add_typer(bench.app, name="bench", rich_help_panel="Server")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hanami {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            "-a",
            envvar="HANAMI_ADDRESS",
            help="Server URL (default: the saved login, else http://127.0.0.1:11418).",
        ),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", "-u", envvar="HANAMI_USER", help="User id.")
    ] = None,
    passphrase: Annotated[
        str | None,
        typer.Option(
            "--passphrase", envvar="HANAMI_PASSPHRASE", help="Passphrase.", show_default=False
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="HANAMI_TOKEN", help="A JWT or API token to use."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Do not verify TLS certificates.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each HTTP answer.")
    ] = 60.0,
    json_: JsonOpt = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Hanami: a growing neural network served over an API."""
    state = state_of(ctx, json_)
    state.address, state.user, state.passphrase, state.token = address, user, passphrase, token
    state.insecure, state.timeout = insecure, timeout


# ------------------------------------------------------------------------------------ serve


@app.command(rich_help_panel="Server")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 11418).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data folder (default ./.hanami).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", envvar="HANAMI_CONFIG_FILE", help="Original-format INI file."
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLAlchemy URL (default SQLite).")
    ] = None,
    policies: Annotated[Path | None, typer.Option(help="Policy file (default embedded).")] = None,
    debug: Annotated[bool | None, typer.Option("--debug", "-d", help="Debug logging.")] = None,
) -> None:
    """Run the Hanami server (options > HANAMI_* environment > INI file > defaults)."""
    from pydantic import ValidationError

    from hanami.server.config import ConfigError, ServerSettings
    from hanami.server.security.policy import PolicyError

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "config_file": config,
        "database_url": database_url,
        "policies": policies,
        "debug": debug,
    }
    try:
        settings = ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
        from hanami.server.runner import serve as run_server

        run_server(settings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise CliError(f"configuration error: {problems}", exit_code=2) from exc
    except (ConfigError, PolicyError) as exc:
        raise CliError(f"configuration error: {exc}", exit_code=2) from exc


# ------------------------------------------------------------------------------------ login


@app.command(rich_help_panel="Session")
def login(
    ctx: typer.Context,
    address: Annotated[
        str | None, typer.Option("--address", "-a", help="Server URL (overrides the global one).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User id.")] = None,
    passphrase: Annotated[
        str | None, typer.Option("--passphrase", "-p", help="Passphrase (prompted if missing).")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Work in this project (PUT /token).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Log in and save the token (mode 0600) for the next commands."""
    state = state_of(ctx, json_)
    server = (address or state.address or _saved_address() or "http://127.0.0.1:11418").rstrip("/")
    user = user or state.user or typer.prompt("User")
    passphrase = passphrase or state.passphrase or typer.prompt("Passphrase", hide_input=True)
    client = HanamiClient(
        server,
        user=user,
        passphrase=passphrase,
        project_id=project,
        timeout=state.timeout,
        verify=not state.insecure,
    )
    ctx.call_on_close(client.close)
    info = client.login()
    path = save_login(server, info.id, info.token)
    data = {
        "address": server,
        "id": info.id,
        "name": info.name,
        "is_admin": info.is_admin,
        "project_id": client.project_id,
        "expires_at": client.token_expires_at,
        "token_file": str(path),
    }
    emit(
        state,
        data,
        f"Logged in to {server} as {info.id} (project {client.project_id}); token saved in {path}",
    )


def _saved_address() -> str | None:
    saved = load_login()
    return saved.get("address") if saved else None


@app.command(rich_help_panel="Session")
def logout(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Forget the saved login."""
    state = state_of(ctx, json_)
    removed = delete_login()
    message = f"Removed {token_file()}" if removed else "Not logged in"
    emit(state, {"logged_out": removed}, message)


@app.command(rich_help_panel="Session")
def whoami(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Show who the commands act as (and check that the server accepts it)."""
    state = state_of(ctx, json_)
    client = state.client(ctx)
    projects = client.users.projects()
    summary = token_summary(client.token or "")
    expires = summary.get("expires_at")
    data = {
        "address": client.address,
        "user": client.login_info.id if client.login_info else summary.get("user"),
        "project_id": summary.get("project_id") or client.project_id,
        "expires_at": (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(expires)) if expires else None
        ),
        "projects": [p.project_id for p in projects],
    }
    emit_object(state, data, title="Session")


@app.command(rich_help_panel="Server")
def health(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Check that the server is up and ready (no login needed)."""
    state = state_of(ctx, json_)
    client = HanamiClient(
        state.resolved_address(), timeout=state.timeout, verify=not state.insecure
    )
    ctx.call_on_close(client.close)
    status = client.health()
    ready = client.ready()
    data = {"address": client.address, "status": status.get("status"), "ready": ready}
    emit(
        state,
        data,
        f"{client.address}: {status.get('status')}, {'ready' if ready else 'not ready'}",
    )
    if not ready:
        raise typer.Exit(1)

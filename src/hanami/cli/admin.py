"""``hanami user``, ``hanami project`` and ``hanami api-token``."""

from __future__ import annotations

from typing import Annotated

import typer

from hanami.cli._app import JsonOpt, new_typer, show_command
from hanami.cli._output import emit, emit_object, emit_table
from hanami.cli._resource_commands import ResourceCommands
from hanami.cli._session import save_login
from hanami.cli._state import state_of

__all__ = ["api_token_app", "project_app", "user_app"]

user_app = new_typer("Users and their project assignments (admin).")
project_app = new_typer("Projects (admin), and switching the current project.")
api_token_app = new_typer("Long-lived API tokens (the secret is shown once).")

USER_FIELDS = ("id", "name", "is_admin", "creator_id", "created_at", "projects")
PROJECT_FIELDS = ("id", "name", "creator_id", "created_at")
API_TOKEN_FIELDS = (
    "id",
    "name",
    "user_id",
    "project_id",
    "created_at",
    "expires_at",
    "last_used_at",
)

UserId = Annotated[str, typer.Argument(help="User id (login name).", metavar="user_id")]
ProjectId = Annotated[str, typer.Argument(help="Project id.", metavar="project_id")]
TokenId = Annotated[str, typer.Argument(help="Token id.", metavar="token_id")]
USER = ResourceCommands("users", UserId, "User", key="id", fields=USER_FIELDS)
PROJECT = ResourceCommands("projects", ProjectId, "Project", key="id", fields=PROJECT_FIELDS)
API_TOKEN = ResourceCommands("api_tokens", TokenId, "API token", key="id", fields=API_TOKEN_FIELDS)
DisplayNameOpt = Annotated[str, typer.Option("--name", "-n", help="Display name.")]
TokenProjectOpt = Annotated[
    str | None, typer.Option("--project", "-p", help="Project (default: the current one).")
]
ExpiresInOpt = Annotated[
    int | None, typer.Option("--expires-in", help="Lifetime in seconds (default: none).")
]


# ------------------------------------------------------------------------------------- users


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    user_id: UserId,
    name: DisplayNameOpt,
    passphrase: Annotated[
        str | None,
        typer.Option("--passphrase", "-p", help="Passphrase (prompted twice if not given)."),
    ] = None,
    is_admin: Annotated[bool, typer.Option("--admin", "--is_admin", help="Make an admin.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Create a user."""
    state = state_of(ctx, json_)
    if passphrase is None:
        passphrase = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    user = state.client(ctx).users.create(user_id, name, passphrase, is_admin=is_admin)
    emit_object(state, user, title="User", fields=USER_FIELDS)


@user_app.command("list")
def user_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List users."""
    state = state_of(ctx, json_)
    emit_table(
        state, state.client(ctx).users.list(), columns=("id", "name", "is_admin", "projects")
    )


show_command(user_app, USER.show())
user_app.command("delete")(USER.delete("Delete a user (not yourself)."))


@user_app.command("add-project")
def user_add_project(
    ctx: typer.Context,
    user_id: UserId,
    project_id: ProjectId,
    role: Annotated[str, typer.Option("--role", "-r", help="Role in the project.")] = "member",
    project_admin: Annotated[
        bool, typer.Option("--project-admin", help="Admin of this project.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Assign a project (with a role) to a user."""
    state = state_of(ctx, json_)
    user = state.client(ctx).users.add_project(
        user_id, project_id, role=role, is_project_admin=project_admin
    )
    emit_object(state, user, title="User", fields=USER_FIELDS)


@user_app.command("remove-project")
def user_remove_project(
    ctx: typer.Context, user_id: UserId, project_id: ProjectId, json_: JsonOpt = False
) -> None:
    """Remove a project assignment from a user."""
    state = state_of(ctx, json_)
    user = state.client(ctx).users.remove_project(user_id, project_id)
    emit_object(state, user, title="User", fields=USER_FIELDS)


@user_app.command("projects")
def user_projects(
    ctx: typer.Context,
    user_id: Annotated[str | None, typer.Argument(help="User id (default: yourself).")] = None,
    json_: JsonOpt = False,
) -> None:
    """List the projects of a user."""
    state = state_of(ctx, json_)
    projects = state.client(ctx).users.projects(user_id)
    table = {
        "header": ["project_id", "role", "is_project_admin"],
        "body": [[p.project_id, p.role, p.is_project_admin] for p in projects],
    }
    emit_table(state, table)


# ---------------------------------------------------------------------------------- projects


@project_app.command("create")
def project_create(
    ctx: typer.Context,
    project_id: ProjectId,
    name: DisplayNameOpt,
    json_: JsonOpt = False,
) -> None:
    """Create a project."""
    state = state_of(ctx, json_)
    project = state.client(ctx).projects.create(project_id, name)
    emit_object(state, project, title="Project", fields=PROJECT_FIELDS)


@project_app.command("list")
def project_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List projects."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).projects.list(), columns=("id", "name", "creator_id"))


show_command(project_app, PROJECT.show())
project_app.command("delete")(PROJECT.delete())


@project_app.command("switch")
def project_switch(ctx: typer.Context, project_id: ProjectId, json_: JsonOpt = False) -> None:
    """Switch the saved login to another of your projects (PUT /token)."""
    state = state_of(ctx, json_)
    client = state.client(ctx)
    state.cache_tokens = False
    info = client.switch_project(project_id)
    saved = ""
    if state.uses_saved_login:
        path = save_login(client.address, info.id, info.token)
        saved = f"; saved to {path}"
    data = {"id": info.id, "name": info.name, "is_admin": info.is_admin, "project_id": project_id}
    emit(state, data, f"Now working in project {project_id} as {info.id}{saved}")


# -------------------------------------------------------------------------------- API tokens


@api_token_app.command("create")
def api_token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name to recognise the token by.")],
    project: TokenProjectOpt = None,
    expires_in: ExpiresInOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create an API token; its secret is printed once."""
    state = state_of(ctx, json_)
    token = state.client(ctx).api_tokens.create(name, project_id=project, expires_in=expires_in)
    emit_object(state, token, title="API token", fields=(*API_TOKEN_FIELDS, "token"))


@api_token_app.command("list")
def api_token_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List API tokens (yours; all for admins)."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).api_tokens.list())


api_token_app.command("show")(API_TOKEN.show("Show an API token (without its secret)."))
api_token_app.command("delete")(API_TOKEN.delete("Revoke an API token.", done="Revoked API token"))

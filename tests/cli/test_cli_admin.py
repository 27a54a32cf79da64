"""``hanami user``, ``project``, ``api-token`` and ``logs``: CRUD, JSON shapes, errors."""

from __future__ import annotations

import uuid

from cli_helpers import Cli
from sdk_server import ADMIN_ID, MEMBER_PASSPHRASE


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def test_project_crud(admin_cli: Cli) -> None:
    project = unique("cliproj")
    created = admin_cli.json("project", "create", project, "-n", "cli test project")
    assert set(created) == {"created_at", "id", "name", "creator_id"}
    assert (created["id"], created["name"], created["creator_id"]) == (
        project,
        "cli test project",
        ADMIN_ID,
    )
    assert admin_cli.json("project", "show", project) == created
    assert admin_cli.json("project", "get", project) == created  # hanamictl's spelling
    table = admin_cli.json("project", "list")
    assert table["header"] == ["created_at", "id", "name", "creator_id"]
    assert project in [row[1] for row in table["body"]]
    listing = admin_cli.ok("project", "list").stdout
    assert project in listing and "cli test project" in listing
    assert admin_cli.json("project", "delete", project) == {"id": project, "deleted": True}
    message = admin_cli.fails("project", "show", project, code=1)
    assert message == f"Project with id '{project}' not found (HTTP 404 Not Found)"


def test_duplicate_and_invalid_project(admin_cli: Cli) -> None:
    project = unique("cliproj")
    admin_cli.ok("project", "create", project, "-n", "first")
    message = admin_cli.fails("project", "create", project, "-n", "second")
    assert message == f"Project with id '{project}' already exist. (HTTP 409 Conflict)"
    message = admin_cli.fails("project", "create", "1 bad", "-n", "bad")
    assert "Validation failed" in message and "(HTTP 400 Bad Request)" in message


def test_user_crud_and_assignment(admin_cli: Cli) -> None:
    user, project = unique("cliuser"), unique("cliproj")
    admin_cli.ok("project", "create", project, "-n", "user project")
    created = admin_cli.json("user", "create", user, "-n", "cli test user", "-p", MEMBER_PASSPHRASE)
    assert set(created) == {"created_at", "id", "name", "is_admin", "creator_id", "projects"}
    assert (created["id"], created["is_admin"], created["projects"]) == (user, False, [])
    assigned = admin_cli.json("user", "add-project", user, project, "--role", "member")
    assert assigned["projects"] == [
        {"project_id": project, "role": "member", "is_project_admin": False}
    ]
    projects = admin_cli.json("user", "projects", user)
    assert projects == {
        "header": ["project_id", "role", "is_project_admin"],
        "body": [[project, "member", False]],
    }
    table = admin_cli.json("user", "list")
    assert table["header"] == ["created_at", "id", "name", "creator_id", "projects", "is_admin"]
    assert user in [row[1] for row in table["body"]]
    assert admin_cli.json("user", "remove-project", user, project)["projects"] == []
    assert admin_cli.json("user", "delete", user) == {"id": user, "deleted": True}
    assert "not found" in admin_cli.fails("user", "delete", user)
    assert "own user" in admin_cli.fails("user", "delete", ADMIN_ID)


def test_user_create_prompts_for_the_passphrase(admin_cli: Cli) -> None:
    user = unique("prompted")
    result = admin_cli.run(
        "user",
        "create",
        user,
        "-n",
        "Prompted User",
        "-j",
        input="long passphrase\nlong passphrase\n",
    )
    assert result.exit_code == 0, result.stderr
    assert '"id": "' + user + '"' in result.stdout
    admin_user = admin_cli.json(
        "user", "create", unique("admin"), "-n", "Admin Two", "-p", "x" * 10, "--admin"
    )
    assert admin_user["is_admin"] is True


def test_member_session_switch_and_forbidden(admin_cli: Cli, cli_factory) -> None:  # type: ignore[no-untyped-def]
    user, first, second = unique("member"), unique("cliproj"), unique("cliproj")
    for project in (first, second):
        admin_cli.ok("project", "create", project, "-n", "member project")
    admin_cli.ok("user", "create", user, "-n", "Member", "-p", MEMBER_PASSPHRASE)
    admin_cli.ok("user", "add-project", user, first)
    admin_cli.ok("user", "add-project", user, second)

    member = cli_factory()
    member.ok("login", "-u", user, "-p", MEMBER_PASSPHRASE)
    assert member.json("whoami")["project_id"] == first
    switched = member.json("project", "switch", second)
    assert switched["project_id"] == second
    assert member.json("whoami")["project_id"] == second  # saved for the next command
    message = member.fails("user", "list")
    assert "(HTTP 403 Forbidden)" in message
    assert "not assigned" in member.fails("project", "switch", "nowhere_project")


def test_api_tokens(admin_cli: Cli) -> None:
    created = admin_cli.json("api-token", "create", "cli token", "--expires-in", "3600")
    assert created["token"].startswith("hnm_")
    token_id = created["id"]
    shown = admin_cli.json("api-token", "show", token_id)
    assert "token" not in shown and shown["name"] == "cli token"
    assert token_id in [row[1] for row in admin_cli.json("api-token", "list")["body"]]
    assert "admin" in admin_cli.json("whoami", HANAMI_TOKEN=created["token"])["projects"]
    assert admin_cli.json("user", "show", ADMIN_ID, HANAMI_TOKEN=created["token"])["id"] == ADMIN_ID
    assert admin_cli.json("api-token", "delete", token_id) == {"id": token_id, "deleted": True}
    assert "not found" in admin_cli.fails("api-token", "show", token_id)


def test_logs(admin_cli: Cli) -> None:
    project = unique("logged")
    admin_cli.ok("project", "create", project, "-n", "logged project")
    audit = admin_cli.json("logs", "audit")
    assert audit["header"] == ["created_at", "user_id", "endpoint", "request_type"]
    assert ["v1.0alpha/project", "POST"] in [row[2:] for row in audit["body"]]
    errors = admin_cli.json("logs", "errors", "--page", "0")
    assert errors["header"][0] == "created_at"
    assert "ENDPOINT" in admin_cli.ok("logs", "audit").stdout

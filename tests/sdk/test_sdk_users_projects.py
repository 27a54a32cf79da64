"""Users, projects and logs against the real server, with the typed errors they raise."""

from __future__ import annotations

import httpx
import pytest
from sdk_server import ADMIN_ID, RunningServer, unique

from hanami.sdk import (
    AuditLogRow,
    BadRequest,
    Conflict,
    Forbidden,
    HanamiClient,
    NotFound,
    Project,
    ProjectRow,
    ServerError,
    StatusError,
    User,
    UserRow,
)
from hanami.sdk._exceptions import error_for_response

# ------------------------------------------------------------------------------- projects


def test_project_crud(admin: HanamiClient) -> None:
    project_id = unique("proj")
    created = admin.projects.create(project_id, "Test Project")
    assert isinstance(created, Project)
    assert (created.id, created.name, created.creator_id) == (project_id, "Test Project", ADMIN_ID)
    assert admin.projects.get(project_id) == created
    table = admin.projects.list()
    assert table.header == ["created_at", "id", "name", "creator_id"]
    rows = table.rows()
    assert all(isinstance(row, ProjectRow) for row in rows)
    assert project_id in [row.id for row in rows]
    assert project_id in table.column("id")
    assert len(table) == len(rows)
    admin.projects.delete(project_id)
    with pytest.raises(NotFound) as info:
        admin.projects.get(project_id)
    assert str(info.value) == f"Project with id '{project_id}' not found"


def test_duplicate_project_raises_conflict(admin: HanamiClient) -> None:
    project_id = unique("proj")
    admin.projects.create(project_id, "Test Project")
    with pytest.raises(Conflict) as info:
        admin.projects.create(project_id, "Again")
    assert info.value.status_code == 409
    assert str(info.value) == f"Project with id '{project_id}' already exist."


def test_delete_unknown_project_raises_not_found(admin: HanamiClient) -> None:
    with pytest.raises(NotFound):
        admin.projects.delete(unique("gone"))


def test_invalid_project_id_raises_bad_request(admin: HanamiClient) -> None:
    with pytest.raises(BadRequest) as info:
        admin.projects.create("1-invalid id", "Bad")
    assert "Validation failed" in str(info.value)
    assert info.value.status_code == 400


# ---------------------------------------------------------------------------------- users


def test_user_crud_and_project_assignment(admin: HanamiClient) -> None:
    user_id, project_id = unique("user"), unique("proj")
    admin.projects.create(project_id, "Assigned Project")
    user = admin.users.create(user_id, "Test User", "a long passphrase")
    assert isinstance(user, User)
    assert (user.id, user.name, user.is_admin, user.projects) == (user_id, "Test User", False, [])
    assert admin.users.get(user_id).creator_id == ADMIN_ID

    updated = admin.users.add_project(user_id, project_id, role="member", is_project_admin=True)
    assert [(p.project_id, p.role, p.is_project_admin) for p in updated.projects] == [
        (project_id, "member", True)
    ]
    with pytest.raises(Conflict):
        admin.users.add_project(user_id, project_id)

    rows = admin.users.list().rows()
    assert all(isinstance(row, UserRow) for row in rows)
    row = next(r for r in rows if r.id == user_id)
    assert row.projects[0].project_id == project_id
    assert admin.users.projects(user_id)[0].project_id == project_id

    assert admin.users.remove_project(user_id, project_id).projects == []
    with pytest.raises(NotFound):
        admin.users.remove_project(user_id, project_id)

    admin.users.delete(user_id)
    with pytest.raises(NotFound) as info:
        admin.users.get(user_id)
    assert str(info.value) == f"User with id '{user_id}' not found"
    with pytest.raises(NotFound):
        admin.users.delete(user_id)


def test_duplicate_user_and_self_delete_raise_conflict(admin: HanamiClient) -> None:
    user_id = unique("user")
    admin.users.create(user_id, "Test User", "a long passphrase")
    with pytest.raises(Conflict) as info:
        admin.users.create(user_id, "Test User", "a long passphrase")
    assert str(info.value) == f"User with id '{user_id}' already exist."
    with pytest.raises(Conflict) as info:
        admin.users.delete(ADMIN_ID)
    assert str(info.value) == "You can not delete your own user."


def test_assigning_unknown_project_raises_not_found(admin: HanamiClient) -> None:
    user_id = unique("user")
    admin.users.create(user_id, "Test User", "a long passphrase")
    with pytest.raises(NotFound) as info:
        admin.users.add_project(user_id, unique("missing"))
    assert "not found" in str(info.value)


def test_short_passphrase_raises_bad_request(admin: HanamiClient) -> None:
    with pytest.raises(BadRequest) as info:
        admin.users.create(unique("user"), "Test User", "short")
    assert "at least 8 characters" in str(info.value)


def test_admin_user_flag(admin: HanamiClient) -> None:
    user = admin.users.create(unique("admin"), "Second Admin", "a long passphrase", is_admin=True)
    assert user.is_admin is True


def test_member_is_forbidden_admin_endpoints(member) -> None:  # type: ignore[no-untyped-def]
    client: HanamiClient = member.client
    with pytest.raises(Forbidden) as info:
        client.users.list()
    assert info.value.status_code == 403
    assert str(info.value)  # the server's reason
    with pytest.raises(Forbidden):
        client.projects.create(unique("proj"), "Not Allowed")
    with pytest.raises(Forbidden):
        client.users.projects(ADMIN_ID)
    own = client.users.projects()
    assert [p.project_id for p in own] == [member.project_id]


# ----------------------------------------------------------------------------------- logs


def test_audit_log_lists_own_requests(admin: HanamiClient) -> None:
    project_id = unique("proj")
    admin.projects.create(project_id, "Audited")
    pages = []
    page = 0
    while True:
        table = admin.logs.audit(page)
        pages.extend(table.rows())
        if len(table) < 100:
            break
        page += 1
    assert all(isinstance(row, AuditLogRow) for row in pages)
    assert ("v1.0alpha/project", "POST") in [(r.endpoint, r.request_type) for r in pages]
    assert {r.user_id for r in pages} == {ADMIN_ID}


def test_audit_log_of_another_user_is_admin_only(admin: HanamiClient, member) -> None:  # type: ignore[no-untyped-def]
    member.client.login()
    rows = admin.logs.audit(user_id=member.id).rows()
    assert [r.endpoint for r in rows] == ["v1.0alpha/token"]
    with pytest.raises(Forbidden) as info:
        member.client.logs.audit(user_id=ADMIN_ID)
    assert "'user_id' can only be set by an admin" in str(info.value)


def test_error_log_is_admin_only(admin: HanamiClient, member) -> None:  # type: ignore[no-untyped-def]
    table = admin.logs.errors()
    assert table.header == [
        "created_at",
        "user_id",
        "component",
        "context",
        "input_values",
        "message",
    ]
    with pytest.raises(Forbidden):
        member.client.logs.errors()


def test_negative_page_raises_bad_request(admin: HanamiClient) -> None:
    with pytest.raises(BadRequest):
        admin.logs.audit(-1)


# ------------------------------------------------------------------------- error mapping


def test_unknown_endpoint_raises_not_found_with_message(admin: HanamiClient) -> None:
    with pytest.raises(NotFound) as info:
        admin.request("GET", "no/such/endpoint")
    assert str(info.value) == "No endpoint found for path '/v1.0alpha/no/such/endpoint'"


def test_unmapped_status_raises_plain_status_error(admin: HanamiClient) -> None:
    with pytest.raises(StatusError) as info:
        admin.request("PUT", "project/all", body={})
    assert type(info.value) is StatusError
    assert info.value.status_code == 405


def test_server_errors_carry_the_correlation_id(server: RunningServer) -> None:
    # A 500 cannot be provoked on purpose; check the mapping on a response of that shape.
    request = httpx.Request("GET", f"{server.url}/v1.0alpha/cluster")
    response = httpx.Response(
        500,
        text="Internal server error (correlation id: 1234)",
        headers={"x-correlation-id": "1234"},
        request=request,
    )
    error = error_for_response(response)
    assert isinstance(error, ServerError)
    assert error.correlation_id == "1234"
    assert str(error) == "Internal server error (correlation id: 1234)"
    json_error = error_for_response(
        httpx.Response(404, json={"error": "gone", "status": 404}, request=request)
    )
    assert isinstance(json_error, NotFound)
    assert str(json_error) == "gone"

"""User and project CRUD with the exact answer and list shapes of the original."""

from __future__ import annotations

import re

from server_helpers import b64, unique

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def test_project_crud(admin):
    project_id = unique("test_project")
    response = admin.post("project", {"id": project_id, "name": "Test Project"})
    assert response.status_code == 200, response.text
    created = response.json()
    assert list(created) == ["created_at", "id", "name", "creator_id"]
    assert TIMESTAMP.match(created["created_at"])
    assert (created["id"], created["name"], created["creator_id"]) == (
        project_id,
        "Test Project",
        "asdf",
    )

    response = admin.post("project", {"id": project_id, "name": "Test Project"})
    assert response.status_code == 409
    assert response.text == f"Project with id '{project_id}' already exist."

    assert admin.get("project", id=project_id).json() == created

    listing = admin.get("project/all").json()
    assert listing["header"] == ["created_at", "id", "name", "creator_id"]
    assert [created["created_at"], project_id, "Test Project", "asdf"] in listing["body"]
    assert all(len(row) == 4 for row in listing["body"])

    response = admin.get("project", id="fail_project")
    assert response.status_code == 404
    assert response.text == "Project with id 'fail_project' not found"

    assert admin.delete("project", id=project_id).json() == {}
    assert admin.delete("project", id=project_id).status_code == 404
    assert admin.get("project", id=project_id).status_code == 404


def test_project_id_admin_is_reserved(admin):
    assert admin.post("project", {"id": "admin", "name": "Admins"}).status_code == 409


def test_user_crud(admin):
    user_id = unique("tsugumi")
    body = {"id": user_id, "name": "Tsugumi", "passphrase": b64("asdfasdf"), "is_admin": True}
    response = admin.post("user", body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert list(created) == ["created_at", "id", "name", "is_admin", "creator_id", "projects"]
    assert (created["id"], created["name"], created["is_admin"]) == (user_id, "Tsugumi", True)
    assert (created["creator_id"], created["projects"]) == ("asdf", [])
    assert "passphrase" not in response.text and "hash" not in response.text

    response = admin.post("user", body)
    assert response.status_code == 409
    assert response.text == f"User with id '{user_id}' already exist."

    assert admin.get("user", id=user_id).json() == created

    listing = admin.get("user/all").json()
    assert listing["header"] == ["created_at", "id", "name", "creator_id", "projects", "is_admin"]
    row = next(r for r in listing["body"] if r[1] == user_id)
    assert row == [created["created_at"], user_id, "Tsugumi", "asdf", [], True]
    admin_row = next(r for r in listing["body"] if r[1] == "asdf")
    assert admin_row[3] == "HANAMI_INIT"

    response = admin.get("user", id="fail_user")
    assert response.status_code == 404
    assert response.text == "User with id 'fail_user' not found"

    assert admin.delete("user", id=user_id).json() == {}
    assert admin.delete("user", id=user_id).status_code == 404


def test_is_admin_defaults_to_false(admin):
    user_id = unique("plain")
    response = admin.post(
        "user", {"id": user_id, "name": "Plain User", "passphrase": b64("asdfasdf")}
    )
    assert response.status_code == 200
    assert response.json()["is_admin"] is False


def test_deleting_yourself_is_409(admin, server):
    response = admin.delete("user", id=server.admin_id)
    assert response.status_code == 409
    assert admin.get("user", id=server.admin_id).status_code == 200


def test_new_user_can_log_in_with_the_decoded_passphrase(admin, anonymous):
    user_id = unique("login")
    admin.post(
        "user",
        {"id": user_id, "name": "Login User", "passphrase": b64("p4ss wörd!"), "is_admin": True},
    )
    response = anonymous.post("token", {"id": user_id, "passphrase": b64("p4ss wörd!")})
    assert response.status_code == 200


def test_passphrase_shorter_than_8_characters_is_rejected(admin):
    # b64("short") is 8 characters long: the original only checked the encoded length.
    response = admin.post(
        "user",
        {
            "id": unique("short"),
            "name": "Short Pass",
            "passphrase": b64("short"),
            "is_admin": False,
        },
    )
    assert response.status_code == 400
    assert "at least 8" in response.text


def test_assign_and_unassign_projects(admin, make_project):
    user_id = unique("member")
    admin.post(
        "user", {"id": user_id, "name": "Member", "passphrase": b64("asdfasdf"), "is_admin": False}
    )
    first, second = make_project(), make_project()

    response = admin.post(
        "user/project",
        {"id": user_id, "project_id": first, "role": "member", "is_project_admin": False},
    )
    assert response.status_code == 200, response.text
    assert response.json()["projects"] == [
        {"project_id": first, "role": "member", "is_project_admin": False}
    ]
    response = admin.post(
        "user/project",
        {"id": user_id, "project_id": second, "role": "member", "is_project_admin": True},
    )
    assert [p["project_id"] for p in response.json()["projects"]] == [first, second]

    response = admin.post(
        "user/project",
        {"id": user_id, "project_id": first, "role": "member", "is_project_admin": False},
    )
    assert response.status_code == 409
    assert (
        admin.post(
            "user/project",
            {
                "id": user_id,
                "project_id": unique("nope"),
                "role": "member",
                "is_project_admin": False,
            },
        ).status_code
        == 404
    )
    assert (
        admin.post(
            "user/project",
            {
                "id": unique("nobody"),
                "project_id": first,
                "role": "member",
                "is_project_admin": False,
            },
        ).status_code
        == 404
    )

    listing = admin.get("user/all").json()
    row = next(r for r in listing["body"] if r[1] == user_id)
    assert row[4] == [
        {"project_id": first, "role": "member", "is_project_admin": False},
        {"project_id": second, "role": "member", "is_project_admin": True},
    ]

    response = admin.delete("user/project", id=user_id, project_id=first)
    assert response.status_code == 200
    assert [p["project_id"] for p in response.json()["projects"]] == [second]
    assert admin.delete("user/project", id=user_id, project_id=first).status_code == 404

    # Deleting a project removes its assignments.
    admin.delete("project", id=second)
    assert admin.get("user", id=user_id).json()["projects"] == []


def test_list_projects_of_a_user(admin, member, make_member):
    response = admin.get("user/project", user_id=member.id)
    assert response.status_code == 200
    assert [p["project_id"] for p in response.json()["projects"]] == [member.project_id]
    own = admin.get("user/project").json()["projects"]
    assert own[0] == {"project_id": "admin", "role": "admin", "is_project_admin": True}

    other = make_member()
    response = member.api.get("user/project", user_id=other.id)
    assert response.status_code == 403
    assert member.api.get("user/project", user_id=member.id).status_code == 200

"""Audit log rows for every non-GET request; log listings and their scope."""

from __future__ import annotations

from server_helpers import Api, b64, login, unique


def _fresh_admin(admin: Api) -> tuple[str, Api]:
    user_id = unique("auditor")
    admin.post(
        "user",
        {"id": user_id, "name": "Auditor", "passphrase": b64("auditor pass"), "is_admin": True},
    )
    return user_id, Api(admin.http, login(admin.http, user_id, "auditor pass"))


def test_non_get_requests_write_audit_rows(admin):
    user_id, auditor = _fresh_admin(admin)
    project_id = unique("audited")
    auditor.post("project", {"id": project_id, "name": "Audited"})
    auditor.get("project", id=project_id)  # GET: not audited
    auditor.delete("project", id=project_id)
    auditor.delete("project", id=project_id)  # 404, but authenticated: audited

    response = auditor.get("audit_log", page=0)
    assert response.status_code == 200
    listing = response.json()
    assert listing["header"] == ["created_at", "user_id", "endpoint", "request_type"]
    assert [row[1:] for row in listing["body"]] == [
        [user_id, "v1.0alpha/token", "POST"],
        [user_id, "v1.0alpha/project", "POST"],
        [user_id, "v1.0alpha/project", "DELETE"],
        [user_id, "v1.0alpha/project", "DELETE"],
    ]
    assert auditor.get("audit_log", page=1).json()["body"] == []


def test_admin_reads_other_users_audit_log_members_do_not(admin, member):
    member.api.put("token", {"project_id": member.project_id})
    rows = admin.get("audit_log", page=0, user_id=member.id).json()["body"]
    assert [row[2:] for row in rows] == [["v1.0alpha/token", "POST"], ["v1.0alpha/token", "PUT"]]

    own = member.api.get("audit_log", page=0)
    assert own.status_code == 200
    assert all(row[1] == member.id for row in own.json()["body"])
    response = member.api.get("audit_log", page=0, user_id="asdf")
    assert response.status_code == 403
    assert response.text == "'user_id' can only be set by an admin"


def test_error_log_listing_is_admin_only(admin, member):
    response = admin.get("error_log", page=0)
    assert response.status_code == 200
    assert response.json()["header"] == [
        "created_at",
        "user_id",
        "component",
        "context",
        "input_values",
        "message",
    ]
    assert admin.get("error_log", page=0, user_id="asdf").status_code == 200
    assert member.api.get("error_log", page=0).status_code == 403

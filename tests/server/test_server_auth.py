"""Login, tokens in both headers, 401 for bad tokens, 403 for members, revocation."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from server_helpers import MEMBER_PASSPHRASE, Api, b64, login, unique

from hanami.server.security.credentials import create_access_token

ACCESS_DENIED = "ACCESS DENIED! User or passphrase is incorrect."


def test_login_returns_user_fields_and_a_jwt(anonymous, server):
    response = anonymous.post("token", {"id": server.admin_id, "passphrase": b64("asdfasdf")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "name", "is_admin", "token"}
    assert (body["id"], body["name"], body["is_admin"]) == ("asdf", "Test Admin", True)
    claims = jwt.decode(body["token"], server.token_key, algorithms=["HS256"], issuer="hanami")
    assert claims["sub"] == "asdf"
    assert claims["exp"] - claims["iat"] == 3600
    assert (claims["pid"], claims["role"], claims["adm"], claims["padm"]) == (
        "admin",
        "admin",
        True,
        True,
    )
    user = json.loads(claims["user"])  # the original's claim: a JSON object in a string
    assert user["id"] == "asdf" and user["project_id"] == "admin" and user["role"] == "admin"


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain"])
def test_login_body_is_json_whatever_the_content_type(anonymous, server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = {"id": server.admin_id, "passphrase": b64(server.admin_passphrase)}
    assert anonymous.post("token", body, headers=headers).status_code == 200


def test_wrong_passphrase_and_unknown_user_get_the_same_401(anonymous, server):
    wrong = anonymous.post("token", {"id": server.admin_id, "passphrase": b64("wrong pass")})
    unknown = anonymous.post("token", {"id": unique("nobody"), "passphrase": b64("asdfasdf")})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.text == ACCESS_DENIED


def test_passphrase_must_be_base64(anonymous, server):
    response = anonymous.post("token", {"id": server.admin_id, "passphrase": "asdfasdf!"})
    assert response.status_code == 400
    assert "passphrase" in response.text


def test_plain_passphrase_is_not_accepted(anonymous, server):
    # "asdfasdf" is itself valid base64 (of other bytes), so this is a wrong passphrase.
    response = anonymous.post("token", {"id": server.admin_id, "passphrase": "asdfasdf"})
    assert response.status_code == 401


def test_token_accepted_in_x_auth_token_and_bearer(admin, http):
    assert Api(http, admin.token).get("user/all").status_code == 200
    assert Api(http, admin.token, bearer=True).get("user/all").status_code == 200


def test_missing_token_is_401(anonymous):
    response = anonymous.get("user/all")
    assert response.status_code == 401
    assert "X-Auth-Token" in response.text
    assert response.headers["www-authenticate"] == "Bearer"


def _admin_claims():
    return {"id": "asdf", "name": "x", "is_admin": True, "creator_id": "x", "created_at": "-"}


def test_expired_token_is_401(http, server):
    token = create_access_token(
        server.token_key.encode(),
        user=_admin_claims(),
        project_id="admin",
        role="admin",
        is_project_admin=True,
        security_stamp="x",
        expires_in=60,
        now=int(time.time()) - 3600,
    )
    response = Api(http, token).get("user/all")
    assert response.status_code == 401
    assert "expired" in response.text


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        create_access_token(
            b"another key that is at least 32 bytes!!",
            user=_admin_claims(),
            project_id="admin",
            role="admin",
            is_project_admin=True,
            security_stamp="x",
            expires_in=3600,
        ),
        jwt.encode(
            {"sub": "asdf", "pid": "admin", "stamp": "x", "iat": 0, "exp": 2**40},
            None,
            algorithm="none",
        ),
    ],
    ids=["garbage", "dots", "forged", "alg-none"],
)
def test_forged_or_malformed_tokens_are_401(http, token):
    assert Api(http, token).get("user/all").status_code == 401
    assert Api(http, token, bearer=True).get("user/all").status_code == 401


def test_token_with_right_key_but_stale_stamp_is_401(http, server):
    token = create_access_token(
        server.token_key.encode(),
        user=_admin_claims(),
        project_id="admin",
        role="admin",
        is_project_admin=True,
        security_stamp="not-the-stamp",
        expires_in=3600,
    )
    assert Api(http, token).get("user/all").status_code == 401


def test_member_gets_403_on_admin_endpoints(member):
    api = member.api
    assert api.get("user/all").status_code == 403
    assert api.get("user", id="asdf").status_code == 403
    assert api.get("project/all").status_code == 403
    assert api.post("project", {"id": unique("p"), "name": "Some Name"}).status_code == 403
    assert api.get("error_log", page=0).status_code == 403
    # Admin-only in code although the policy lets members call it:
    response = api.post(
        "user/project",
        {
            "id": member.id,
            "project_id": member.project_id,
            "role": "admin",
            "is_project_admin": True,
        },
    )
    assert response.status_code == 403
    assert response.text == "Only admins may use this endpoint"


def test_policy_and_auth_run_before_field_validation(member, anonymous):
    # A member sending garbage to an admin endpoint learns nothing about the fields.
    assert member.api.post("user", raw=b"{not json").status_code == 403
    assert member.api.post("user", {"unknown": 1}).status_code == 403
    assert anonymous.post("user", raw=b"{not json").status_code == 401
    assert anonymous.get("user", id="x").status_code == 401


def test_member_can_use_member_endpoints(member):
    response = member.api.get("user/project")
    assert response.status_code == 200
    assert response.json() == {
        "projects": [{"project_id": member.project_id, "role": "member", "is_project_admin": False}]
    }


def test_role_outside_the_policy_is_locked_out(make_member):
    tester = make_member(role="tester")
    assert tester.api.get("user/project").status_code == 403


def test_deleted_users_token_stops_working_at_once(admin, member):
    assert member.api.get("user/project").status_code == 200
    assert admin.delete("user", id=member.id).status_code == 200
    response = member.api.get("user/project")
    assert response.status_code == 401


def test_unassigned_project_revokes_access_at_once(admin, member):
    assert member.api.get("user/project").status_code == 200
    response = admin.delete("user/project", id=member.id, project_id=member.project_id)
    assert response.status_code == 200
    assert member.api.get("user/project").status_code == 401


def test_role_change_applies_at_once(admin, member):
    admin.delete("user/project", id=member.id, project_id=member.project_id)
    admin.post(
        "user/project",
        {
            "id": member.id,
            "project_id": member.project_id,
            "role": "tester",
            "is_project_admin": False,
        },
    )
    assert member.api.get("user/project").status_code == 403  # same token, new role


def test_user_without_project_cannot_log_in(admin, http):
    user_id = unique("lonely")
    admin.post(
        "user",
        {"id": user_id, "name": "Lonely User", "passphrase": b64("lonely pass"), "is_admin": False},
    )
    response = Api(http).post("token", {"id": user_id, "passphrase": b64("lonely pass")})
    assert response.status_code == 401
    assert response.text == f"User with id '{user_id}' has no project assigned."


def test_put_token_switches_project(admin, http, make_member, make_project):
    member = make_member()
    other = make_project()
    admin.post(
        "user/project",
        {"id": member.id, "project_id": other, "role": "member", "is_project_admin": True},
    )
    response = member.api.put("token", {"project_id": other})
    assert response.status_code == 200, response.text
    switched = Api(http, response.json()["token"])
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert (claims["pid"], claims["padm"]) == (other, True)
    assert switched.get("user/project").status_code == 200

    response = member.api.put("token", {"project_id": make_project()})
    assert response.status_code == 404
    assert member.api.put("token", {"project_id": "admin"}).status_code == 404
    assert admin.put("token", {"project_id": "admin"}).status_code == 200


def test_first_assigned_project_is_the_login_project(admin, http, make_member, make_project):
    member = make_member()
    admin.post(
        "user/project",
        {
            "id": member.id,
            "project_id": make_project(),
            "role": "member",
            "is_project_admin": False,
        },
    )
    token = login(http, member.id, MEMBER_PASSPHRASE)
    assert jwt.decode(token, options={"verify_signature": False})["pid"] == member.project_id


def test_failed_logins_are_rate_limited(anonymous, admin):
    user_id = unique("victim")
    admin.post(
        "user",
        {"id": user_id, "name": "Victim User", "passphrase": b64("right pass"), "is_admin": True},
    )
    for _ in range(10):
        response = anonymous.post("token", {"id": user_id, "passphrase": b64("wrong pass")})
        assert response.status_code == 401
    response = anonymous.post("token", {"id": user_id, "passphrase": b64("right pass")})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "Too many failed logins" in response.text

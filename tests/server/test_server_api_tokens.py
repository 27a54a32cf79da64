"""Long-lived API tokens: create, use in both headers, list, revoke."""

from __future__ import annotations

from server_helpers import Api, unique


def test_api_token_lifecycle(member, http):
    response = member.api.post("api_token", {"name": "ci token"})
    assert response.status_code == 200, response.text
    created = response.json()
    secret = created.pop("token")
    assert secret.startswith("hnm_") and len(secret) > 40
    assert created["user_id"] == member.id and created["project_id"] == member.project_id
    assert (created["expires_at"], created["last_used_at"]) == ("-", "-")

    for api in (Api(http, secret), Api(http, secret, bearer=True)):
        response = api.get("user/project")
        assert response.status_code == 200, response.text
        assert response.json()["projects"][0]["project_id"] == member.project_id

    shown = member.api.get("api_token", id=created["id"]).json()
    assert "token" not in shown and shown["last_used_at"] != "-"
    listing = member.api.get("api_token/all").json()
    assert listing["header"] == [
        "created_at",
        "id",
        "user_id",
        "project_id",
        "expires_at",
        "last_used_at",
        "name",
    ]
    assert [row[1] for row in listing["body"]] == [created["id"]]
    assert secret not in str(listing)

    assert member.api.delete("api_token", id=created["id"]).json() == {}
    assert Api(http, secret).get("user/project").status_code == 401
    assert member.api.delete("api_token", id=created["id"]).status_code == 404


def test_api_tokens_are_private_to_their_user(member, make_member, admin):
    token_id = member.api.post("api_token", {"name": "mine"}).json()["id"]
    other = make_member()
    assert other.api.get("api_token", id=token_id).status_code == 404
    assert other.api.delete("api_token", id=token_id).status_code == 404
    assert token_id not in str(other.api.get("api_token/all").json())
    assert admin.get("api_token", id=token_id).status_code == 200  # admins see all


def test_api_token_cannot_mint_tokens(member, http):
    secret = member.api.post("api_token", {"name": "limited"}).json()["token"]
    api = Api(http, secret)
    assert api.post("api_token", {"name": "another"}).status_code == 403
    assert api.put("token", {"project_id": member.project_id}).status_code == 403


def test_api_token_dies_with_its_user(member, admin, http):
    secret = member.api.post("api_token", {"name": "doomed"}).json()["token"]
    assert Api(http, secret).get("user/project").status_code == 200
    admin.delete("user", id=member.id)
    assert Api(http, secret).get("user/project").status_code == 401


def test_api_token_project_must_be_assigned(member, admin):
    response = member.api.post("api_token", {"name": "elsewhere", "project_id": unique("p")})
    assert response.status_code == 404
    assert admin.post("api_token", {"name": "admin token"}).json()["project_id"] == "admin"


def test_api_token_expiry(member):
    assert member.api.post("api_token", {"name": "short", "expires_in": 10}).status_code == 400
    created = member.api.post("api_token", {"name": "hourly", "expires_in": 3600}).json()
    assert created["expires_at"] != "-"

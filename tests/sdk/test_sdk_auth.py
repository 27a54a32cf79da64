"""Login, token renewal, project switching, API tokens and transport errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import jwt
import pytest
from sdk_server import (
    ADMIN_ID,
    ADMIN_PASSPHRASE,
    Connect,
    RunningServer,
    free_port,
    running_server,
    unique,
)

from hanami.sdk import (
    Forbidden,
    HanamiClient,
    HanamiError,
    NotFound,
    NotLoggedIn,
    StatusError,
    Token,
    TooManyRequests,
    TransportError,
    Unauthorized,
    token_claims,
)


def test_login_returns_token_and_user(server: RunningServer) -> None:
    with HanamiClient(server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        assert client.token is None
        info = client.login()
        assert isinstance(info, Token)
        assert (info.id, info.is_admin) == (ADMIN_ID, True)
        assert client.token == info.token
        assert client.project_id == "admin"
        assert client.token_expires_at is not None
        assert client.token_expires_at > time.time() + 60


def test_first_request_logs_in_lazily(server: RunningServer) -> None:
    with HanamiClient(server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        assert len(client.projects.list().header) == 4
        assert client.login_info is not None
        assert client.login_info.id == ADMIN_ID


def test_wrong_passphrase_raises_unauthorized_with_server_message(server: RunningServer) -> None:
    with (
        HanamiClient(server.url, user=ADMIN_ID, passphrase="wrong passphrase") as client,
        pytest.raises(Unauthorized) as info,
    ):
        client.login()
    error = info.value
    assert error.status_code == 401
    assert str(error) == "ACCESS DENIED! User or passphrase is incorrect."
    assert error.response.status_code == 401
    assert error.request.url.path == "/v1.0alpha/token"
    assert isinstance(error, StatusError)
    assert isinstance(error, HanamiError)


def test_failed_logins_are_throttled_with_retry_after(server: RunningServer) -> None:
    user = unique("nobody")
    with HanamiClient(server.url, user=user, passphrase="wrong passphrase") as client:
        for _ in range(10):
            with pytest.raises(Unauthorized):
                client.login()
        with pytest.raises(TooManyRequests) as info:
            client.login()
    assert info.value.status_code == 429
    assert info.value.retry_after is not None
    assert info.value.retry_after >= 1
    assert "Too many failed logins" in str(info.value)


def test_no_credentials_raises_not_logged_in(server: RunningServer) -> None:
    with HanamiClient(server.url) as client, pytest.raises(NotLoggedIn):
        client.projects.list()


def test_user_and_passphrase_go_together(server: RunningServer) -> None:
    with pytest.raises(ValueError, match="both"):
        HanamiClient(server.url, user=ADMIN_ID)


def test_invalid_token_raises_unauthorized(server: RunningServer) -> None:
    with HanamiClient(server.url, token="not-a-jwt") as client, pytest.raises(Unauthorized) as info:
        client.projects.list()
    assert "Failed to validate JWT-Token" in str(info.value)


def test_existing_token_is_used_as_is(server: RunningServer, admin: HanamiClient) -> None:
    admin.login()
    with HanamiClient(server.url, token=admin.token) as client:
        assert client.users.get(ADMIN_ID).is_admin
        assert client.token == admin.token


def test_token_about_to_expire_is_renewed_in_place(server: RunningServer, connect: Connect) -> None:
    seen: list[str] = []
    with connect(
        server.url,
        user=ADMIN_ID,
        passphrase=ADMIN_PASSPHRASE,
        renew_margin=10**6,
        on_token=seen.append,
    ) as client:
        first = client.login().token
        client.projects.list()  # expires "soon" (within the huge margin): renewed first
        assert client.token != first
        assert len(seen) == 2
        assert client.project_id == "admin"


def _expired_copy(token: str, key: str) -> str:
    claims = token_claims(token)
    claims["iat"] = claims["exp"] = int(time.time()) - 10
    return jwt.encode(claims, key, algorithm="HS256")


def _admin_token(server: RunningServer) -> str:
    with HanamiClient(server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE) as client:
        return client.login().token


def test_expired_token_is_replaced_by_a_new_login(server: RunningServer, connect: Connect) -> None:
    expired = _expired_copy(_admin_token(server), server.token_key)
    seen: list[str] = []
    with connect(
        server.url,
        user=ADMIN_ID,
        passphrase=ADMIN_PASSPHRASE,
        token=expired,
        renew_margin=0,  # no renewal before sending: the server answers 401 first
        on_token=seen.append,
    ) as client:
        assert client.users.get(ADMIN_ID).id == ADMIN_ID  # logged in again, then retried
        assert client.token != expired
        assert seen == [client.token]


def test_expired_token_without_credentials_raises(server: RunningServer, connect: Connect) -> None:
    expired = _expired_copy(_admin_token(server), server.token_key)
    with connect(server.url, token=expired) as client, pytest.raises(Unauthorized) as info:
        client.projects.list()
    assert "expired" in str(info.value)


def test_401_that_is_not_about_expiry_is_not_retried(
    server: RunningServer, connect: Connect
) -> None:
    forged = jwt.encode({"sub": ADMIN_ID, "exp": int(time.time()) + 600}, "x" * 40)
    seen: list[str] = []
    with connect(
        server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE, token=forged, on_token=seen.append
    ) as client:
        with pytest.raises(Unauthorized):
            client.projects.list()
        assert seen == []  # no login was tried


TOKEN_LIFETIME = 2


@pytest.fixture(scope="module")
def short_lived_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose tokens expire after :data:`TOKEN_LIFETIME` seconds."""
    extra_env = {"HANAMI_TOKEN_EXPIRE_TIME": str(TOKEN_LIFETIME)}
    with running_server(tmp_path_factory.mktemp("short-tokens"), extra_env=extra_env) as running:
        yield running


def test_token_that_expired_while_idle_is_renewed(
    short_lived_server: RunningServer, connect: Connect
) -> None:
    seen: list[str] = []
    with connect(
        short_lived_server.url,
        user=ADMIN_ID,
        passphrase=ADMIN_PASSPHRASE,
        renew_margin=0,
        on_token=seen.append,
    ) as client:
        first = client.login()
        expires = client.token_expires_at
        assert expires is not None
        assert expires - time.time() <= TOKEN_LIFETIME
        time.sleep(max(0.0, expires - time.time()) + 1.1)  # the server's clock counts seconds
        assert client.users.get(ADMIN_ID).id == ADMIN_ID
        assert client.token != first.token
        assert seen == [first.token, client.token]


def test_short_lived_token_is_renewed_before_each_request(
    short_lived_server: RunningServer, connect: Connect
) -> None:
    seen: list[str] = []
    with connect(
        short_lived_server.url, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE, on_token=seen.append
    ) as client:
        for _ in range(2):
            assert client.projects.list().header[1] == "id"
        assert len(seen) == 3  # a login, then one renewal per request (the margin is 60 s)


def test_token_claims_reads_a_jwt_and_nothing_else(admin: HanamiClient) -> None:
    admin.login()
    claims = token_claims(admin.token or "")
    assert claims["sub"] == ADMIN_ID
    assert claims["exp"] == admin.token_expires_at
    assert claims["exp"] > time.time()
    assert token_claims("hnm_an_api_token") == {}
    assert token_claims("not a token") == {}


def test_switch_project_and_renew(member) -> None:  # type: ignore[no-untyped-def]
    client: HanamiClient = member.client
    client.login()
    assert client.project_id == member.project_id
    renewed = client.renew_token()
    assert renewed.id == member.id
    switched = client.switch_project(member.project_id)
    assert switched.token == client.token
    with pytest.raises(NotFound) as info:
        client.switch_project("other_project")
    assert "is not assigned" in str(info.value)


def test_project_id_option_switches_after_login(server: RunningServer, admin: HanamiClient) -> None:
    project = unique("proj")
    admin.projects.create(project, "Second project")
    user = unique("user")
    admin.users.create(user, "Two Projects", "two projects pass")
    admin.users.add_project(user, project)
    other = unique("proj")
    admin.projects.create(other, "Third project")
    admin.users.add_project(user, other)
    with HanamiClient(
        server.url, user=user, passphrase="two projects pass", project_id=other
    ) as client:
        client.login()
        assert client.project_id == other


def test_api_token_lifecycle_and_use(server: RunningServer, member) -> None:  # type: ignore[no-untyped-def]
    client: HanamiClient = member.client
    created = client.api_tokens.create("ci token", expires_in=3600)
    assert created.token.startswith("hnm_")
    assert created.project_id == member.project_id
    shown = client.api_tokens.get(created.id)
    assert shown.name == "ci token"
    assert not hasattr(shown, "token") or "token" not in shown.model_dump()
    rows = client.api_tokens.list().rows()
    assert created.id in [row.id for row in rows]
    with HanamiClient(server.url, token=created.token) as api_client:
        assert api_client.users.projects()[0].project_id == member.project_id
        assert api_client.token_expires_at is None
        with pytest.raises(Forbidden) as info:
            api_client.api_tokens.create("nested")
        assert "API tokens can not create API tokens" in str(info.value)
    client.api_tokens.delete(created.id)
    with pytest.raises(NotFound):
        client.api_tokens.get(created.id)
    with HanamiClient(server.url, token=created.token) as api_client, pytest.raises(Unauthorized):
        api_client.users.projects()


def test_unreachable_server_raises_transport_error() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    with (
        HanamiClient(address, user=ADMIN_ID, passphrase=ADMIN_PASSPHRASE, timeout=5) as client,
        pytest.raises(TransportError) as info,
    ):
        client.login()
    assert address in str(info.value)
    assert isinstance(info.value, HanamiError)


def test_health_ready_metrics_and_openapi(admin: HanamiClient) -> None:
    assert admin.health() == {"status": "ok"}
    assert admin.ready() is True
    metrics = admin.metrics()
    assert "hanami_http_requests_total" in metrics
    assert "/v1.0alpha/token" in admin.openapi()["paths"]


def test_request_escape_hatch_returns_json(admin: HanamiClient) -> None:
    data = admin.request("GET", "project/all")
    assert data["header"] == ["created_at", "id", "name", "creator_id"]
    assert json.dumps(data)


def test_client_from_environment(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANAMI_ADDRESS", server.url)
    monkeypatch.setenv("HANAMI_USER", ADMIN_ID)
    monkeypatch.setenv("HANAMI_PASSPHRASE", ADMIN_PASSPHRASE)
    monkeypatch.delenv("HANAMI_TOKEN", raising=False)
    with HanamiClient.from_env() as client:
        assert client.address == server.url
        assert client.login().id == ADMIN_ID
    monkeypatch.setenv("HANAMI_TOKEN", "hnm_not_a_real_token")
    with HanamiClient.from_env() as client, pytest.raises(Unauthorized):
        client.users.projects()

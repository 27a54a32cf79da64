"""In-process checks that need to add routes: the 500 boundary and the error log."""

from __future__ import annotations

import json
import re
import warnings

import pytest
from server_helpers import b64

from hanami.server import ServerSettings, create_app
from hanami.server.api import CurrentUser, InputModel, Payload
from hanami.server.db import ErrorLog
from hanami.server.security.policy import DEFAULT_POLICY

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class BoomInput(InputModel):
    passphrase: str
    value: int


@pytest.fixture
def client(tmp_path, monkeypatch):
    for key in ("HANAMI_ADMIN_USER_ID", "HANAMI_ADMIN_PASSPHRASE", "HANAMI_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    policies = tmp_path / "policies"
    policies.write_text(DEFAULT_POLICY + "\nv1.0alpha/boom\n- POST: admin\n")
    settings = ServerSettings(
        data_dir=tmp_path,
        token_key="k" * 32,
        policies=policies,
        admin_user_id="root",
        admin_passphrase="root passphrase",
    )
    app = create_app(settings)

    @app.post("/v1.0alpha/boom")
    def boom(user: CurrentUser, data: Payload[BoomInput]) -> dict:
        raise RuntimeError("kaputt")

    @app.get("/boom-public")
    def boom_public() -> dict:
        raise ValueError("public kaputt")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, app


def _login(test_client) -> dict:
    response = test_client.post(
        "/v1.0alpha/token", content=json.dumps({"id": "root", "passphrase": b64("root passphrase")})
    )
    assert response.status_code == 200, response.text
    return {"X-Auth-Token": response.json()["token"]}


def test_unhandled_error_answers_500_with_a_correlation_id_and_logs_it(client):
    test_client, app = client
    headers = _login(test_client)
    response = test_client.post(
        "/v1.0alpha/boom",
        content=json.dumps({"passphrase": "secret", "value": 3}),
        headers=headers,
    )
    assert response.status_code == 500
    match = re.fullmatch(
        r"Internal server error \(correlation id: ([0-9a-f-]{36})\)", response.text
    )
    assert match, response.text
    correlation_id = match.group(1)
    assert response.headers["x-correlation-id"] == correlation_id

    with app.state.ctx.database.session() as session:
        row = session.query(ErrorLog).filter_by(correlation_id=correlation_id).one()
    assert row.user_id == "root"
    assert "RuntimeError: kaputt" in row.message
    assert json.loads(row.input_values) == {"passphrase": "***", "value": 3}
    assert correlation_id in row.context and "v1.0alpha/boom" in row.context

    listing = test_client.get("/v1.0alpha/error_log", params={"page": 0}, headers=headers).json()
    last = listing["body"][-1]
    assert last[1] == "root" and last[4] == {"passphrase": "***", "value": 3}
    assert correlation_id in last[3]


def test_anonymous_crash_is_logged_without_user(client):
    test_client, app = client
    response = test_client.get("/boom-public")
    assert response.status_code == 500
    assert "correlation id" in response.text
    with app.state.ctx.database.session() as session:
        row = session.query(ErrorLog).order_by(ErrorLog.id.desc()).first()
    assert row.user_id == "" and "ValueError: public kaputt" in row.message


def test_bodies_over_the_limit_are_413_except_on_upload_routes(tmp_path, monkeypatch):
    for key in ("HANAMI_ADMIN_USER_ID", "HANAMI_ADMIN_PASSPHRASE", "HANAMI_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    settings = ServerSettings(
        data_dir=tmp_path,
        token_key="k" * 32,
        max_json_body_bytes=1024,
        admin_user_id="root",
        admin_passphrase="root passphrase",
    )
    body = json.dumps({"id": "root", "passphrase": b64("x" * 1000)}).encode()

    def chunks():  # no Content-Length: counted while streaming
        yield body[:1000]
        yield body[1000:]

    with TestClient(create_app(settings)) as test_client:
        response = test_client.post("/v1.0alpha/token", content=body)
        assert response.status_code == 413
        assert response.text == "Request body is larger than 1024 bytes"
        response = test_client.post(
            "/v1.0alpha/token", content=chunks(), headers={"Accept": "application/json"}
        )
        assert response.status_code == 413
        assert response.json() == {"error": "Request body is larger than 1024 bytes", "status": 413}
        # The streamed upload routes have their own limits.
        headers = _login(test_client)
        csv = "a,b\n" + "".join(f"{i},{i + 1}\n" for i in range(500))
        response = test_client.post(
            "/v1.0alpha/dataset/upload",
            data={"name": "big csv", "type": "csv"},
            files={"input_file": ("x.csv", csv.encode())},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        response = test_client.post(
            "/v1.0alpha/checkpoint/upload", params={"name": "blob"}, content=b"x" * 4096,
            headers=headers,
        )  # fmt: skip
        assert response.status_code == 400 and "not a valid checkpoint" in response.text


def test_dashboard_is_served_when_present(tmp_path, monkeypatch):
    from hanami.server import app as app_module

    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<h1>dashboard</h1>")
    monkeypatch.setattr(app_module, "DASHBOARD_DIR", static)
    app = create_app(ServerSettings(data_dir=tmp_path / "data", token_key="k" * 32))
    with TestClient(app) as test_client:
        assert test_client.get("/").text == "<h1>dashboard</h1>"
        assert test_client.get("/healthz").json() == {"status": "ok"}
        assert test_client.get("/v1.0alpha/user/all").status_code == 401


def test_openapi_document_can_be_written(tmp_path, capsys):
    from hanami.server.__main__ import main

    target = tmp_path / "openapi.json"
    assert main(["--data-dir", str(tmp_path), "-g", str(target)]) == 0
    assert "/v1.0alpha/user" in json.loads(target.read_text())["paths"]


def test_configuration_errors_exit_2(tmp_path, capsys, monkeypatch):
    from hanami.server.__main__ import main

    monkeypatch.setenv("HANAMI_TOKEN_KEY", "short")
    assert main(["--data-dir", str(tmp_path), "-g", str(tmp_path / "x.json")]) == 2
    assert "at least 32" in capsys.readouterr().err

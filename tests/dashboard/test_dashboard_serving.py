"""How the service serves the dashboard, and the small API additions the dashboard uses.

In-process (TestClient), no browser: the static files and their headers, the fallback
routing (API routes win, unknown paths stay 404), ``template`` in ``GET cluster`` and
``cpu_load`` in ``GET system_info``.
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hanami.core.templates import OPENHANAMI_MNIST
from hanami.dashboard import DASHBOARD_HEADERS, STATIC_DIR
from hanami.server import ServerSettings, create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Any]]:
    for key in ("HANAMI_ADMIN_USER_ID", "HANAMI_ADMIN_PASSPHRASE", "HANAMI_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    settings = ServerSettings(
        data_dir=tmp_path,
        token_key="k" * 32,
        admin_user_id="root",
        admin_passphrase="root passphrase",
    )
    app = create_app(settings)

    @app.get("/added-later")
    def added_later() -> dict:
        return {"ok": True}

    with TestClient(app) as test_client:
        yield test_client, app


def login(test_client: TestClient) -> dict[str, str]:
    response = test_client.post(
        "/v1.0alpha/token", content=json.dumps({"id": "root", "passphrase": b64("root passphrase")})
    )
    assert response.status_code == 200, response.text
    return {"X-Auth-Token": response.json()["token"]}


def test_static_files_are_complete() -> None:
    index = (STATIC_DIR / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="([^"/][^"]*)"', index):
        assert (STATIC_DIR / ref).is_file(), ref
    assert "/docs" in index  # the landing page's link to the API docs stays
    modules = {
        p.relative_to(STATIC_DIR / "js").as_posix() for p in (STATIC_DIR / "js").rglob("*.js")
    }
    for module in sorted(modules):
        text = (STATIC_DIR / "js" / module).read_text()
        for target in re.findall(r'from "(\.[^"]+)"', text):
            resolved = (STATIC_DIR / "js" / module).parent / target
            assert resolved.resolve().is_file(), f"{module} imports missing {target}"
    main = (STATIC_DIR / "js" / "main.js").read_text()
    for page in re.findall(r'\[/\^[^,]*, "([a-z]+)"', main):
        assert f"pages/{page}.js" in modules, page
    assert (STATIC_DIR / "vendor" / "uPlot.LICENSE").is_file()


def test_dashboard_is_served_with_its_headers(client: tuple[TestClient, Any]) -> None:
    test_client, _ = client
    for path in ("/", "/js/main.js", "/app.css", "/vendor/uPlot.iife.min.js"):
        response = test_client.get(path)
        assert response.status_code == 200, path
        for key, value in DASHBOARD_HEADERS.items():
            assert response.headers[key] == value, (path, key)
    assert "javascript" in test_client.get("/js/main.js").headers["content-type"]
    etag = test_client.get("/app.css").headers["etag"]
    assert test_client.get("/app.css", headers={"If-None-Match": etag}).status_code == 304


def test_routes_win_over_the_dashboard(client: tuple[TestClient, Any]) -> None:
    test_client, _ = client
    assert test_client.get("/added-later").json() == {"ok": True}
    assert test_client.get("/healthz").json() == {"status": "ok"}
    assert test_client.get("/docs").status_code == 200
    response = test_client.get("/v1.0alpha/no/such/endpoint")
    assert response.status_code == 404
    assert response.text == "No endpoint found for path '/v1.0alpha/no/such/endpoint'"
    assert test_client.request("PATCH", "/v1.0alpha/project").status_code == 405
    assert test_client.post("/index.html").status_code == 404
    assert test_client.get("/no-such-file.js").status_code == 404
    assert test_client.get("/../pyproject.toml").status_code == 404


def test_cluster_shows_its_template(client: tuple[TestClient, Any]) -> None:
    test_client, _ = client
    headers = login(test_client)
    created = test_client.post(
        "/v1.0alpha/cluster",
        content=json.dumps({"name": "shown_cluster", "template": b64(OPENHANAMI_MNIST)}),
        headers=headers,
    )
    assert created.status_code == 200, created.text
    shown = test_client.get(
        "/v1.0alpha/cluster", params={"uuid": created.json()["uuid"]}, headers=headers
    ).json()
    assert shown["template"] == OPENHANAMI_MNIST


def test_system_info_reports_cpu_load(client: tuple[TestClient, Any]) -> None:
    test_client, _ = client
    info = test_client.get("/v1.0alpha/system_info", headers=login(test_client)).json()["info"]
    load = info["cpu_load"]
    assert isinstance(load["source"], str)
    assert all(0.0 <= value <= 100.0 for value in load["per_cpu"])
    assert 0.0 <= load["average"] <= 100.0

"""Probes, metrics, docs and the response headers."""

from __future__ import annotations


def test_healthz_and_readyz(http):
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_by_route(http, admin):
    admin.get("project/all")
    text = http.get("/metrics").text
    assert "hanami_http_requests_total{" in text
    assert 'endpoint="/v1.0alpha/project/all"' in text
    assert "hanami_http_request_duration_seconds_bucket" in text


def test_docs_and_openapi(http):
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    assert {"/v1.0alpha/token", "/v1.0alpha/user", "/v1.0alpha/project/all"} <= set(spec["paths"])
    params = spec["paths"]["/v1.0alpha/user"]["get"]["parameters"]
    assert params[0]["name"] == "id" and params[0]["in"] == "query"
    body = spec["paths"]["/v1.0alpha/user"]["post"]["requestBody"]
    assert set(body["content"]["application/json"]["schema"]["required"]) == {
        "id",
        "name",
        "passphrase",
    }


def test_server_header_and_landing_page(http):
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["server"] == "Hanami"
    assert "/docs" in response.text

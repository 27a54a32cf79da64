"""Probes, metrics, docs and the response headers."""

from __future__ import annotations

from cluster_helpers import (
    Target,
    create_cluster,
    server_database_url,
    train,
    upload_mnist,
    wait_task,
)
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import unique


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


def test_metrics_report_tasks_and_what_each_cluster_learned(http, admin, server, request):
    url = request.getfixturevalue("postgres_url") if server.backend == "postgresql" else None
    target = Target(server.data_dir, server_database_url(server.data_dir, url))
    digits = upload_mnist(admin, target, unique("metrics_digits"), 50)
    cluster = create_cluster(admin, unique("metrics_cluster"))
    task = train(admin, cluster, digits, epochs=2)
    assert wait_task(admin, cluster, task["uuid"])["state"] == "finished"
    families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
    finished = [s for s in families["hanami_tasks"].samples if s.labels == {"state": "finished"}]
    assert finished and finished[0].value >= 1
    mine = {
        name: [s.value for s in families[name].samples if s.labels.get("cluster") == cluster]
        for name in ("hanami_cluster_samples_trained", "hanami_cluster_synapses")
    }
    assert mine["hanami_cluster_samples_trained"] == [100.0]  # 50 rows, two epochs
    assert mine["hanami_cluster_synapses"][0] > 0

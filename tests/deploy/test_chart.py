"""The Helm chart ``deploy/helm/hanami``, linted and rendered by Helm's own library.

``helm-python-sdk`` binds Helm's Go SDK (no ``helm`` binary, no cluster: ``lookup`` finds
nothing, so generated secrets are new on every render). Every rendered manifest is
validated strictly against the Kubernetes schemas of the oldest and the newest version the
chart supports (``kubernetes-validate``), and the RayCluster, one document per file, against
KubeRay's schema with ``check-jsonschema`` (``raycluster_schema.py`` made it).
"""

from __future__ import annotations

import base64
import copy
import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from containers import ROOT
from raycluster_schema import SCHEMA_FILE

CHART = ROOT / "deploy" / "helm" / "hanami"
RELEASE, NAMESPACE = "demo", "prod"
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")  # Chart.yaml's kubeVersion floor, the newest known
DATABASE_URL = "postgresql://hanami:secret@db.example.com:5432/hanami"
WARNING = 2  # lint severities: 1 info, 2 warning, 3 error

HA = {
    "replicaCount": 3,
    "database": {"url": DATABASE_URL},
    "persistence": {"accessMode": "ReadWriteMany", "storageClass": "shared"},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "hanami.example.com",
        "tlsSecretName": "hanami-tls",
        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "0"},
    },
    "config": {"HANAMI_TRUSTED_PROXIES": "10.0.0.0/8", "HANAMI_TOKEN_EXPIRE_TIME": 7200},
}
BUNDLED = {
    "replicaCount": 2,
    "postgresql": {"enabled": True},
    "persistence": {"accessMode": "ReadWriteMany"},
    "ray": {"enabled": True},
}
OWN_SECRET_NO_VOLUME = {"existingSecret": "mine", "persistence": {"enabled": False}}
VALUE_SETS = {
    "default": {},
    "ha": HA,
    "bundled-postgresql-and-ray": BUNDLED,
    "own-secret-no-volume": OWN_SECRET_NO_VOLUME,
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifests of a release of the chart with ``values``."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return [
        doc
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = (doc for doc in docs if doc["kind"] == kind)
    return found


def secret_data(docs: list[dict[str, Any]]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in one(docs, "Secret")["data"].items()}


def check_raycluster(doc: dict[str, Any], path: Path) -> subprocess.CompletedProcess[str]:
    """``check-jsonschema`` on ``doc`` alone in the file ``path``."""
    path.write_text(yaml.safe_dump(doc))
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA_FILE), str(path)],
        capture_output=True,
        text=True,
    )


def api_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


# ------------------------------------------------------------------------------ lint, render


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_chart_lints_without_warnings(values: dict[str, Any]) -> None:
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates(values: dict[str, Any], version: str, tmp_path: Path) -> None:
    for i, doc in enumerate(render(values)):
        if doc["kind"] == "RayCluster":
            check = check_raycluster(doc, tmp_path / f"{i}-raycluster.yaml")
            assert check.returncode == 0, check.stdout + check.stderr
        else:
            kubernetes_validate.validate(doc, version, strict=True)


def test_default_release_is_one_pod_on_sqlite_with_probes_and_a_volume() -> None:
    docs = render({})
    assert sorted(doc["kind"] for doc in docs) == [
        "ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service",
    ]  # fmt: skip
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-hanami"
    container = api_container(docs)
    assert container["image"] == "hanami:0.1.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {env["name"] for env in container["env"]} == {
        "HANAMI_TOKEN_KEY", "HANAMI_ADMIN_PASSPHRASE",
    }  # fmt: skip
    secrets = secret_data(docs)
    assert len(secrets["token-key"]) == 48
    assert len(secrets["admin-passphrase"]) == 24
    config = one(docs, "ConfigMap")["data"]
    assert config["HANAMI_ADMIN_USER_ID"] == "admin"
    assert all(key.startswith("HANAMI_") for key in config)
    assert "HANAMI_EXECUTOR" not in config


def test_ha_release_runs_replicas_on_postgresql_behind_an_ingress() -> None:
    docs = render(HA)
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert secret_data(docs)["database-url"] == DATABASE_URL
    database_env = next(e for e in api_container(docs)["env"] if e["name"] == "HANAMI_DATABASE_URL")
    assert database_env["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert one(docs, "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
    ingress = one(docs, "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "hanami-tls"
    assert ingress["spec"]["rules"][0]["host"] == "hanami.example.com"
    config = one(docs, "ConfigMap")["data"]
    assert config["HANAMI_TOKEN_EXPIRE_TIME"] == "7200"  # every value a string
    assert not any(doc["kind"] in ("StatefulSet", "RayCluster") for doc in docs)


def test_bundled_postgresql_and_ray_cluster() -> None:
    docs = render(BUNDLED)
    database = f"{RELEASE}-hanami-postgresql"
    statefulset = one(docs, "StatefulSet")
    assert statefulset["metadata"]["name"] == database
    services = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Service"}
    assert services[database]["spec"]["clusterIP"] == "None"
    secrets = secret_data(docs)
    password = secrets["postgres-password"]
    assert secrets["database-url"] == f"postgresql://hanami:{password}@{database}:5432/hanami"
    config = one(docs, "ConfigMap")["data"]
    ray = one(docs, "RayCluster")
    assert config["HANAMI_EXECUTOR"] == "ray"
    assert (
        config["HANAMI_RAY_ADDRESS"] == f"{ray['metadata']['name']}-head-svc.{NAMESPACE}.svc:6379"
    )
    (workers,) = ray["spec"]["workerGroupSpecs"]
    volumes = workers["template"]["spec"]["volumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-hanami"
    try:  # the pods run the Ray the project installs (the ray extra), not an older one
        installed = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        return
    assert ray["spec"]["rayVersion"] == installed


def test_given_credentials_are_used_and_an_existing_secret_replaces_them() -> None:
    key, passphrase = "g" * 40, "given passphrase"
    given = secret_data(render({"tokenKey": key, "admin": {"passphrase": passphrase}}))
    assert (given["token-key"], given["admin-passphrase"]) == (key, passphrase)
    docs = render(OWN_SECRET_NO_VOLUME)
    assert not any(doc["kind"] in ("Secret", "PersistentVolumeClaim") for doc in docs)
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in api_container(docs)["env"]}
    assert refs == {"mine"}


# ------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "replicaCount > 1 needs PostgreSQL"),
        ({"replicaCount": 2, "database": {"url": DATABASE_URL}}, "ReadWriteMany"),
        (
            {
                "replicaCount": 2,
                "database": {"url": DATABASE_URL},
                "persistence": {"enabled": False},
            },
            "needs persistence.enabled",
        ),
        (
            {"database": {"url": DATABASE_URL}, "postgresql": {"enabled": True}},
            "exclude each other",
        ),
        ({"ray": {"enabled": True}}, "ray.enabled needs a data root"),
    ],
)
def test_settings_that_cannot_work_together_fail_with_a_message(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 0}, "/replicaCount"),
        ({"replicas": 3}, "additional properties 'replicas'"),
        ({"tokenKey": "too short"}, "/tokenKey"),
        ({"admin": {"passphrase": "short"}}, "/admin/passphrase"),
        ({"config": {"LOG_LEVEL": "debug"}}, "LOG_LEVEL"),
        ({"database": {"url": "mysql://db/hanami"}}, "/database/url"),
        ({"postgresql": {"enabled": True, "password": "p@ss word"}}, "/postgresql/password"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ],
)
def test_values_outside_the_schema_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=message):
        render(values)


def test_the_raycluster_schema_is_strict(tmp_path: Path) -> None:
    ray = one(render(BUNDLED), "RayCluster")
    wrong = {
        "unknown-field": lambda r: r["spec"]["headGroupSpec"].update(rayStartParam={}),
        "wrong-type": lambda r: r["spec"]["workerGroupSpecs"][0].update(replicas="two"),
        "no-group-name": lambda r: r["spec"]["workerGroupSpecs"][0].pop("groupName"),
        "wrong-kind": lambda r: r.update(kind="RayJob"),
    }
    for name, spoil in wrong.items():
        broken = copy.deepcopy(ray)
        spoil(broken)
        assert check_raycluster(broken, tmp_path / f"{name}.yaml").returncode == 1, name

"""Writes ``raycluster-v1.schema.json``, the JSON schema the chart's RayCluster is checked
against, from KubeRay's CustomResourceDefinition.

Source: github.com/ray-project/kuberay, tag v1.7.0,
``ray-operator/config/crd/bases/ray.io_rayclusters.yaml``, version ``v1`` of the CRD (the
stored one). To regenerate after a KubeRay upgrade::

    python tests/deploy/raycluster_schema.py path/to/ray.io_rayclusters.yaml

The conversion is strict the way ``kubernetes-validate --strict`` is: an object that lists
its properties accepts no others, unless the CRD marks it
``x-kubernetes-preserve-unknown-fields``. ``nullable`` becomes a ``"null"`` type; the
int-or-string fields keep the CRD's own ``anyOf``; the other ``x-kubernetes-*`` keys (list
types, CEL validations) have no JSON-schema meaning and are dropped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

SCHEMA_FILE = Path(__file__).with_name("raycluster-v1.schema.json")
KIND, API_VERSION = "RayCluster", "ray.io/v1"


def convert(node: Any) -> Any:
    """One OpenAPI v3 (structural) schema node as a JSON-schema node."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: convert(v)
        for k, v in node.items()
        if not k.startswith("x-kubernetes-") and k != "properties"
    }
    if "properties" in node:  # property names are data, not schema keywords
        out["properties"] = {k: convert(v) for k, v in node["properties"].items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schema(crd: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    """The JSON schema of ``version`` of a CRD, pinned to its apiVersion and kind."""
    (entry,) = (v for v in crd["spec"]["versions"] if v["name"] == version)
    schema = convert(entry["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": API_VERSION}
    schema["properties"]["kind"] = {"const": KIND}
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": KIND, **schema}


if __name__ == "__main__":
    source = yaml.safe_load(Path(sys.argv[1]).read_text(encoding="utf-8"))
    SCHEMA_FILE.write_text(
        json.dumps(crd_schema(source), separators=(",", ":"), sort_keys=True) + "\n"
    )

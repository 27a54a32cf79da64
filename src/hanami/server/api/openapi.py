"""The OpenAPI document as clients should read it: exact integer bounds, configured limits.

FastAPI passes the document through its own pydantic models, which turn every numeric bound
into a float (``"maximum": 1000.0``; ``2**63`` becomes ``9.223372036854776e18``). Bounds of
integer fields are turned back into ints here; they are all exact as floats (below 2**53,
or 2**63 itself), so nothing is lost. A field may also name a server setting in
``x-limit-setting``: its ``maximum`` becomes that setting's value when it is smaller, so
the document states the limit this server enforces, not only the largest one possible.

:data:`LINKS` adds OpenAPI links from each create operation to the operations that read and
delete what it created (resources are named in the query string, so generators cannot guess
these from paths): clients and stateful testers can chain create -> get -> delete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hanami.server.config import ServerSettings

__all__ = ["LIMIT_SETTING", "LINKS", "install_openapi"]

LIMIT_SETTING = "x-limit-setting"
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "default")


_UUID = {"uuid": "$response.body#/uuid"}
_ID = {"id": "$response.body#/id"}
_TASK = {"uuid": "$response.body#/uuid", "cluster_uuid": "$request.body#/cluster_uuid"}
_TASK_LINKS = {
    "GetTask": ("task-get_task", _TASK),
    "DeleteTask": ("task-delete_task", _TASK),
}
_UPLOAD_LINKS = {
    "GetProgress": ("dataset-get_progress", _UUID),
    "DeleteDataset": ("dataset-delete_dataset", _UUID),
}
LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "project-create_project": {
        "GetProject": ("project-get_project", _ID),
        "DeleteProject": ("project-delete_project", _ID),
    },
    "user-create_user": {
        "GetUser": ("user-get_user", _ID),
        "GetUserProjects": ("user-list_user_projects", {"user_id": "$response.body#/id"}),
        "DeleteUser": ("user-delete_user", _ID),
    },
    "api_token-create_api_token": {
        "GetApiToken": ("api_token-get_api_token", _ID),
        "DeleteApiToken": ("api_token-delete_api_token", _ID),
    },
    "cluster-create_cluster": {
        "GetCluster": ("cluster-get_cluster", _UUID),
        "ListTasks": ("task-list_tasks", {"cluster_uuid": "$response.body#/uuid"}),
        "DeleteCluster": ("cluster-delete_cluster", _UUID),
    },
    "task-create_train_task": _TASK_LINKS,
    "task-create_request_task": {
        **_TASK_LINKS,
        "GetResult": ("dataset-get_dataset", _UUID),
    },
    "dataset-create_mnist_upload": _UPLOAD_LINKS,
    "dataset-create_csv_upload": _UPLOAD_LINKS,
    "dataset-upload_dataset": {
        "GetDataset": ("dataset-get_dataset", _UUID),
        "DeleteDataset": ("dataset-delete_dataset", _UUID),
    },
    "checkpoint-upload_checkpoint": {
        "GetCheckpoint": ("checkpoint-get_checkpoint", _UUID),
        "DownloadCheckpoint": ("checkpoint-download_checkpoint", _UUID),
        "DeleteCheckpoint": ("checkpoint-delete_checkpoint", _UUID),
    },
}
"""``{source operationId: {link name: (target operationId, {query parameter: expression})}}``,
links of the source's 200 answer."""


def _add_links(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            links = LINKS.get(operation.get("operationId", ""))
            if links:
                operation["responses"]["200"]["links"] = {
                    name: {
                        "operationId": target,
                        "parameters": {f"query.{key}": value for key, value in parameters.items()},
                    }
                    for name, (target, parameters) in links.items()
                }


def _fix(node: Any, settings: ServerSettings) -> None:
    if isinstance(node, list):
        for item in node:
            _fix(item, settings)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        for key in _BOUNDS:
            value = node.get(key)
            if isinstance(value, float) and value.is_integer():
                node[key] = int(value)
    setting = node.pop(LIMIT_SETTING, None)
    if setting is not None:
        limit = int(getattr(settings, setting))
        node["maximum"] = min(node.get("maximum", limit), limit)
    for value in node.values():
        _fix(value, settings)


def install_openapi(app: FastAPI, settings: ServerSettings) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) serve the corrected document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI; fixing it twice changes nothing
        _fix(document, settings)
        _add_links(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]

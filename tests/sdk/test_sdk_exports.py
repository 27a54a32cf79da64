"""The public surface of ``hanami.sdk`` (a change here is an API change)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import hanami.sdk as sdk
from hanami.sdk import (
    BadRequest,
    Conflict,
    Forbidden,
    HanamiError,
    NotFound,
    ServerError,
    StatusError,
    TooManyRequests,
    Unauthorized,
)

RESOURCES = {
    "users": {"create", "get", "list", "delete", "add_project", "remove_project", "projects"},
    "projects": {"create", "get", "list", "delete"},
    "clusters": {"create", "get", "list", "delete", "save", "restore", "set_mode", "switch_host"},
    "tasks": {"train", "request", "get", "list", "delete", "cancel", "wait", "result"},
    "datasets": {
        "upload_mnist",
        "upload_csv",
        "init_mnist_upload",
        "finalize_mnist_upload",
        "init_csv_upload",
        "finalize_csv_upload",
        "progress",
        "get",
        "list",
        "delete",
        "check",
        "content",
        "download",
    },
    "checkpoints": {"get", "list", "delete", "download", "upload"},
    "hosts": {"list"},
    "logs": {"audit", "errors"},
    "system": {"power", "speed", "temperature", "info", "threading"},
    "api_tokens": {"create", "get", "list", "delete"},
}


def test_all_names_exist() -> None:
    for name in sdk.__all__:
        assert hasattr(sdk, name), name
    assert sorted(sdk.__all__) == sorted(set(sdk.__all__))


def test_exception_tree() -> None:
    for cls, status in (
        (BadRequest, 400),
        (Unauthorized, 401),
        (Forbidden, 403),
        (NotFound, 404),
        (Conflict, 409),
        (TooManyRequests, 429),
        (ServerError, 500),
    ):
        assert issubclass(cls, StatusError)
        assert issubclass(cls, HanamiError)
        assert status  # documented in the module docstring
    assert issubclass(sdk.WaitTimeout, TimeoutError)
    assert issubclass(sdk.UploadError, sdk.WebsocketError)
    for name in ("TransportError", "WebsocketError", "TaskFailed", "NotLoggedIn"):
        assert name in (sdk.__doc__ or "")


@pytest.mark.parametrize("client_class", [sdk.HanamiClient, sdk.AsyncHanamiClient])
def test_resources_and_methods(client_class: type[sdk.HanamiClient]) -> None:
    client = client_class("http://127.0.0.1:1")
    try:
        for resource, methods in RESOURCES.items():
            public = {
                n for n, _ in inspect.getmembers(getattr(client, resource)) if not n.startswith("_")
            }
            assert methods <= public, (resource, methods - public)
        for method in (
            "login",
            "switch_project",
            "renew_token",
            "wait",
            "direct",
            "request",
            "health",
            "ready",
            "metrics",
            "openapi",
        ):
            assert callable(getattr(client, method))
    finally:
        if isinstance(client, sdk.AsyncHanamiClient):
            asyncio.run(client.aclose())
        else:
            client.close()


def test_async_methods_are_coroutines_of_the_same_operations() -> None:
    async def tour() -> None:
        async with sdk.AsyncHanamiClient("http://127.0.0.1:1", timeout=2) as client:
            pending = client.clusters.list()
            assert inspect.isawaitable(pending)
            with pytest.raises(sdk.NotLoggedIn):
                await pending

    asyncio.run(tour())

"""Helpers shared by the service tests (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from server_process import STARTUP_TIMEOUT as STARTUP_TIMEOUT
from server_process import free_port as free_port

ADMIN_ID = "asdf"
ADMIN_NAME = "Test Admin"
ADMIN_PASSPHRASE = "asdfasdf"
TOKEN_KEY = "test-key-" + "k" * 40  # >= 32 bytes
MEMBER_PASSPHRASE = "member passphrase"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unique(prefix: str) -> str:
    """A fresh id valid as user id, project id and name (letters, digits, ``_``)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class Api:
    """Calls ``/v1.0alpha/<path>`` with JSON bodies sent like the SDKs (no Content-Type)."""

    def __init__(self, http: httpx.Client, token: str | None = None, *, bearer: bool = False):
        self.http = http
        self.token = token
        self.bearer = bearer

    def headers(self) -> dict[str, str]:
        if self.token is None:
            return {}
        if self.bearer:
            return {"Authorization": f"Bearer {self.token}"}
        return {"X-Auth-Token": self.token}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.http.request(
            method,
            f"/v1.0alpha/{path}",
            content=content,
            params=params,
            headers={**self.headers(), **(headers or {})},
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def delete(self, path: str, **params: Any) -> httpx.Response:
        return self.request("DELETE", path, params=params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, body, **kwargs)


def login(http: httpx.Client, user_id: str, passphrase: str) -> str:
    response = Api(http).post("token", {"id": user_id, "passphrase": b64(passphrase)})
    assert response.status_code == 200, response.text
    return response.json()["token"]


@dataclass
class Member:
    id: str
    project_id: str
    api: Api

"""Authorization matrix over the real server: every endpoint x every kind of caller.

Callers (:data:`CALLERS`):

=======================  ====================================================================
``admin``                the bootstrap admin (sees every project)
``project_admin``        ``is_project_admin`` in project A (role ``member``)
``member``               a member of project A: **owns** every project-A resource below
``member_api_token``     an API token (``hnm_...``) of ``member``
``peer``                 another member of project A (not an owner, not a project admin)
``tester``               a user of project A whose role (``tester``) the policy does not know
``other_member``         a member of project B
``other_project_admin``  the project admin of project B
``no_token``             no credentials
``expired_token``        the admin's token, re-signed with the server key and an ``exp`` in
                         the past
``forged_token``         the admin's token, re-signed with a wrong key
=======================  ====================================================================

Expected answers (docs/compatibility.md): 401 for missing, expired or forged credentials;
403 when the token is valid but the policy or an admin-only rule forbids the call; 404 for
a resource outside the caller's tenancy scope (exactly as if it did not exist); the
endpoint's success code otherwise.

The operations are read from the live ``/openapi.json``; an operation without a
:data:`MATRIX` entry fails :func:`test_matrix_covers_every_operation`. Every refused write
is checked to have changed nothing (:func:`fingerprint`), every refused answer not to leak
the resource (its name carries :data:`MARKER`), and every write that succeeds gets a fresh
resource so that later callers still find theirs.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cluster_helpers import TEMPLATE, idx_bytes, synthetic_digits, template_b64
from dataset_helpers import expect_close, ws_connect, ws_upload
from server_helpers import MEMBER_PASSPHRASE, Api, Member, b64, login, unique

MARKER = "tenantA"
"""Part of the name of every project-A resource: must never show up in a refused answer."""
CSV_TEXT = "x,y\n1,2\n3,4\n5,6\n"
ROWS = 8
WRONG_KEY = "not-the-server-key-" + "w" * 40

CALLERS = (
    "admin",
    "project_admin",
    "member",
    "member_api_token",
    "peer",
    "tester",
    "other_member",
    "other_project_admin",
    "no_token",
    "expired_token",
    "forged_token",
)
UNAUTHENTICATED = ("no_token", "expired_token", "forged_token")


def profile(
    admin: int,
    project_admin: int,
    member: int,
    peer: int,
    other_member: int,
    other_project_admin: int,
    **overrides: int,
) -> dict[str, int]:
    """Expected status per caller. The API token acts like ``member``; the ``tester`` role is
    refused by the policy everywhere (403); bad credentials get 401."""
    expected = {
        "admin": admin,
        "project_admin": project_admin,
        "member": member,
        "member_api_token": member,
        "peer": peer,
        "tester": 403,
        "other_member": other_member,
        "other_project_admin": other_project_admin,
        **dict.fromkeys(UNAUTHENTICATED, 401),
    }
    expected.update(overrides)
    return expected


PUBLIC = dict.fromkeys(CALLERS, 200)
ANY_USER = profile(200, 200, 200, 200, 200, 200)
ADMIN_ONLY = profile(200, 403, 403, 403, 403, 403)
SCOPED = profile(200, 200, 200, 404, 404, 404)
"""Admin: everything; project admin: the project; member: own rows; others: 404."""
OWNER_ONLY = profile(404, 404, 200, 404, 404, 404)
"""Upload tempfiles: only the user (and project) that created them."""
TOKEN_OWNER = profile(200, 404, 200, 404, 404, 404)
"""API tokens: their user and admins."""
SELF_OR_ADMIN = profile(200, 403, 200, 403, 403, 403)
"""Asking about the member by ``user_id``: the member itself or an admin."""
PROJECT_A_MEMBERS = profile(404, 200, 200, 200, 404, 404)
"""Acting in project A explicitly: users assigned to A (admins are not)."""


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    http: httpx.Client
    base_url: str
    admin: Api
    project_a: str
    project_b: str
    users: dict[str, Member]
    apis: dict[str, Api]
    project_of: dict[str, str]
    host: str
    shared: dict[str, Any] = field(default_factory=dict)
    cleanup: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def owner(self) -> Api:
        return self.users["member"].api

    # ---- resources of project A, owned by ``member``

    def cluster(self, mode: str = "TASK") -> str:
        response = self.owner.post(
            "cluster", {"name": unique(f"{MARKER} cluster"), "template": template_b64(TEMPLATE)}
        )
        assert response.status_code == 200, response.text
        cluster = response.json()["uuid"]
        if mode == "DIRECT":
            switched = self.owner.put("cluster/set_mode", {"uuid": cluster, "new_state": mode})
            assert switched.status_code == 200, switched.text
        self.cleanup.append(lambda: self.admin.delete("cluster", uuid=cluster))
        return cluster

    def dataset(self) -> str:
        pictures, labels = synthetic_digits(ROWS, seed=5)
        response = self.owner.http.post(
            "/v1.0alpha/dataset/upload",
            data={"name": unique(f"{MARKER} digits"), "type": "mnist"},
            files={
                "input_file": ("images.idx", idx_bytes(pictures)),
                "label_file": ("labels.idx", idx_bytes(labels)),
            },
            headers=self.owner.headers(),
        )
        assert response.status_code == 200, response.text
        dataset = response.json()["uuid"]
        self.cleanup.append(lambda: self.admin.delete("dataset", uuid=dataset))
        return dataset

    def checkpoint(self) -> str:
        response = self.owner.post(
            "cluster/save",
            {"name": unique(f"{MARKER} checkpoint"), "cluster_uuid": self.shared["cluster"]},
        )
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "finished", response.json()
        checkpoint = response.json()["uuid"]
        self.cleanup.append(lambda: self.admin.delete("checkpoint", uuid=checkpoint))
        return checkpoint

    def task(self) -> str:
        """A train task on the DIRECT-mode cluster: it stays ``queued``."""
        response = self.owner.post("task/train", train_body(self, self.shared["direct_cluster"]))
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "queued"
        return response.json()["uuid"]

    def upload(self, kind: str) -> dict[str, Any]:
        """A started upload whose files are all sent (ready to finalize)."""
        if kind == "csv":
            files = [CSV_TEXT.encode()]
            body: dict[str, Any] = {"input_data_size": len(files[0])}
        else:
            pictures, labels = synthetic_digits(ROWS, seed=6)
            files = [idx_bytes(pictures), idx_bytes(labels)]
            body = {"input_data_size": len(files[0]), "label_data_size": len(files[1])}
        response = self.owner.post(
            f"dataset/upload/{kind}", {"name": unique(f"{MARKER} upload"), **body}
        )
        assert response.status_code == 200, response.text
        created = response.json()
        keys = ["uuid_input_file", "uuid_label_file"][: len(files)]
        for key, data in zip(keys, files, strict=True):
            ws_upload(self.base_url, self.owner.token or "", created[key], data)
        self.cleanup.append(lambda: self.admin.delete("dataset", uuid=created["uuid"]))
        return created

    def api_token(self) -> str:
        response = self.owner.post("api_token", {"name": unique(f"{MARKER} token")})
        assert response.status_code == 200, response.text
        return response.json()["id"]

    # ---- users and projects (made by the admin)

    def user(self, project: str | None = None) -> str:
        user_id = unique("victim")
        body = {"id": user_id, "name": f"{MARKER} user", "passphrase": b64(MEMBER_PASSPHRASE)}
        assert self.admin.post("user", body).status_code == 200
        if project is not None:
            assignment = {"id": user_id, "project_id": project, "role": "member"}
            assert self.admin.post("user/project", assignment).status_code == 200
        self.cleanup.append(lambda: self.admin.delete("user", id=user_id))
        return user_id

    def project(self) -> str:
        project_id = unique("victimproj")
        response = self.admin.post("project", {"id": project_id, "name": f"{MARKER} project"})
        assert response.status_code == 200, response.text
        self.cleanup.append(lambda: self.admin.delete("project", id=project_id))
        return project_id


def train_body(world: World, cluster: str, dataset: str | None = None) -> dict[str, Any]:
    dataset = dataset or world.shared["dataset"]
    return {
        "name": "matrix train",
        "cluster_uuid": cluster,
        "inputs": [
            {"hexagon_name": "picture_hex", "dataset_uuid": dataset, "dataset_column": "picture"}
        ],
        "outputs": [
            {"hexagon_name": "label_hex", "dataset_uuid": dataset, "dataset_column": "label"}
        ],
    }


def request_body(world: World, cluster: str, dataset: str | None = None) -> dict[str, Any]:
    dataset = dataset or world.shared["dataset"]
    return {
        "name": "matrix request",
        "cluster_uuid": cluster,
        "inputs": [
            {"hexagon_name": "picture_hex", "dataset_uuid": dataset, "dataset_column": "picture"}
        ],
        "results": [{"hexagon_name": "label_hex", "dataset_column": "output"}],
    }


def _user(admin: Api, http: httpx.Client, project: str, role: str, project_admin: bool) -> Member:
    user_id = unique("authz")
    body = {"id": user_id, "name": "Authz User", "passphrase": b64(MEMBER_PASSPHRASE)}
    assert admin.post("user", body).status_code == 200
    assignment = {
        "id": user_id,
        "project_id": project,
        "role": role,
        "is_project_admin": project_admin,
    }
    assert admin.post("user/project", assignment).status_code == 200
    return Member(user_id, project, Api(http, login(http, user_id, MEMBER_PASSPHRASE)))


def _resign(token: str, key: str, **changes: Any) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.fixture(scope="module")
def world(server, http, admin) -> Any:
    project_a, project_b = unique("projA"), unique("projB")
    for project in (project_a, project_b):
        assert admin.post("project", {"id": project, "name": "Authz Project"}).status_code == 200
    users = {
        "project_admin": _user(admin, http, project_a, "member", True),
        "member": _user(admin, http, project_a, "member", False),
        "peer": _user(admin, http, project_a, "member", False),
        "tester": _user(admin, http, project_a, "tester", False),
        "other_member": _user(admin, http, project_b, "member", False),
        "other_project_admin": _user(admin, http, project_b, "member", True),
    }
    created = users["member"].api.post("api_token", {"name": "matrix caller"})
    assert created.status_code == 200, created.text
    now = int(time.time())
    assert admin.token is not None
    apis = {
        "admin": admin,
        **{name: member.api for name, member in users.items()},
        "member_api_token": Api(http, created.json()["token"]),
        "no_token": Api(http),
        "expired_token": Api(
            http, _resign(admin.token, server.token_key, iat=now - 7200, exp=now - 3600)
        ),
        "forged_token": Api(http, _resign(admin.token, WRONG_KEY)),
    }
    project_of = {name: member.project_id for name, member in users.items()}
    project_of |= {"admin": "admin", "member_api_token": project_a}
    project_of |= dict.fromkeys(UNAUTHENTICATED, "admin")
    hosts = admin.get("host/all").json()["body"]
    world = World(
        http, server.url, admin, project_a, project_b, users, apis, project_of, hosts[0][0]
    )
    shared = world.shared
    shared["cluster"] = world.cluster()
    shared["direct_cluster"] = world.cluster("DIRECT")
    shared["dataset"] = world.dataset()
    shared["checkpoint"] = world.checkpoint()
    download = world.owner.get("checkpoint/download", uuid=shared["checkpoint"])
    assert download.status_code == 200, download.text
    shared["checkpoint_file"] = download.content
    shared["task"] = world.task()
    shared["mnist_upload"] = world.upload("mnist")
    shared["csv_upload"] = world.upload("csv")
    shared["api_token"] = world.api_token()
    shared["user"] = world.user()
    shared["assigned_user"] = world.user(project_a)
    shared["project"] = world.project()
    yield world
    for undo in reversed(world.cleanup):
        undo()
    for user in [*users.values()]:
        admin.delete("user", id=user.id)
    for project in (project_a, project_b):
        admin.delete("project", id=project)


# --------------------------------------------------------------------------- fingerprint


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def _rows(admin: Api, path: str, **params: Any) -> list[Any]:
    response = admin.get(path, **params)
    assert response.status_code == 200, response.text
    table = response.json()
    volatile = {"last_used_at"}
    keep = [i for i, name in enumerate(table["header"]) if name not in volatile]
    return sorted(json.dumps([row[i] for i in keep]) for row in table["body"])


def _task(admin: Api, task: str, cluster: str) -> Any:
    status, body = _json_or_text(admin.get("task", uuid=task, cluster_uuid=cluster))
    if isinstance(body, dict):
        for volatile in ("samples_per_second", "eta_seconds"):
            body.pop(volatile, None)
    return status, body


def fingerprint(world: World, res: Mapping[str, Any]) -> dict[str, Any]:
    """What the admin sees of everything a refused write could have touched."""
    admin = world.admin
    clusters = {world.shared["cluster"], world.shared["direct_cluster"]}
    if "cluster" in res:
        clusters.add(res["cluster"])
    state: dict[str, Any] = {
        "clusters": _rows(admin, "cluster/all"),
        "datasets": _rows(admin, "dataset/all"),
        "checkpoints": _rows(admin, "checkpoint/all"),
        "users": _rows(admin, "user/all"),
        "projects": _rows(admin, "project/all"),
        "api_tokens": _rows(admin, "api_token/all"),
        "tasks": {c: _rows(admin, "task/all", cluster_uuid=c) for c in sorted(clusters)},
    }
    for cluster in sorted(clusters):
        state[f"cluster {cluster}"] = _json_or_text(admin.get("cluster", uuid=cluster))
    for key in ("dataset", "checkpoint", "api_token"):
        if key in res:
            state[key] = _json_or_text(admin.get(key, uuid=res[key]) if key != "api_token"
                                       else admin.get(key, id=res[key]))  # fmt: skip
    if "task" in res:
        state["task"] = _task(
            admin, res["task"], res.get("cluster", world.shared["direct_cluster"])
        )
    if "upload" in res:
        dataset = res["upload"]["uuid"]
        state["upload"] = (
            _json_or_text(admin.get("dataset", uuid=dataset)),
            _json_or_text(admin.get("dataset/progress", uuid=dataset)),
        )
    if "user" in res:
        state["user"] = _json_or_text(admin.get("user", id=res["user"]))
    if "project" in res:
        state["project"] = _json_or_text(admin.get("project", id=res["project"]))
    return state


# --------------------------------------------------------------------------- the matrix


Call = Callable[[World, str, Api, dict[str, Any]], httpx.Response]
Resources = Callable[[World, bool], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expect: Mapping[str, int]
    call: Call
    resources: Resources = lambda world, fresh: {}
    """Resources the call works on: the shared ones, or new ones when ``fresh``."""
    mutating: bool = False
    """A success changes the resource, so each succeeding caller gets a fresh one."""
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}" + (f" [{self.variant}]" if self.variant else "")


def shared_or(key: str, make: Callable[[World], Any]) -> Resources:
    def resources(world: World, fresh: bool) -> dict[str, Any]:
        return {key: make(world) if fresh else world.shared[key]}

    return resources


def shared(*keys: str) -> Resources:
    return lambda world, fresh: {key: world.shared[key] for key in keys}


def get(path: str, **params: Callable[[World, dict[str, Any]], Any]) -> Call:
    def call(world: World, caller: str, api: Api, res: dict[str, Any]) -> httpx.Response:
        return api.get(path, **{k: f(world, res) for k, f in params.items()})

    return call


def delete(path: str, **params: Callable[[World, dict[str, Any]], Any]) -> Call:
    def call(world: World, caller: str, api: Api, res: dict[str, Any]) -> httpx.Response:
        return api.delete(path, **{k: f(world, res) for k, f in params.items()})

    return call


def send(method: str, path: str, body: Callable[[World, str, dict[str, Any]], Any]) -> Call:
    def call(world: World, caller: str, api: Api, res: dict[str, Any]) -> httpx.Response:
        return api.request(method, path, body(world, caller, res))

    return call


def res(key: str) -> Callable[[World, dict[str, Any]], Any]:
    return lambda world, resources: resources[key]


def const(value: Any) -> Callable[[World, dict[str, Any]], Any]:
    return lambda world, resources: value


def member_id(world: World, resources: dict[str, Any]) -> str:
    return world.users["member"].id


def v1(path: str) -> str:
    return f"/v1.0alpha/{path}"


def login_call(world: World, caller: str, api: Api, res: dict[str, Any]) -> httpx.Response:
    """Login ignores any token sent along."""
    body = {"id": world.users["member"].id, "passphrase": b64(MEMBER_PASSPHRASE)}
    return api.post("token", body)


def raw_get(path: str) -> Call:
    def call(world: World, caller: str, api: Api, res: dict[str, Any]) -> httpx.Response:
        return api.http.get(path, headers=api.headers())

    return call


def multipart_call(world: World, caller: str, api: Api, res: dict[str, Any]) -> httpx.Response:
    return api.http.post(
        v1("dataset/upload"),
        data={"name": unique("matrix csv"), "type": "csv"},
        files={"input_file": ("data.csv", CSV_TEXT.encode())},
        headers=api.headers(),
    )


def checkpoint_upload_call(
    world: World, caller: str, api: Api, res: dict[str, Any]
) -> httpx.Response:
    return api.http.post(
        v1("checkpoint/upload"),
        params={"name": unique("matrix upload")},
        content=world.shared["checkpoint_file"],
        headers={**api.headers(), "Content-Type": "application/octet-stream"},
    )


def finalize_body(kind: str) -> Callable[[World, str, dict[str, Any]], Any]:
    def body(world: World, caller: str, resources: dict[str, Any]) -> Any:
        upload = resources["upload"]
        keys = ["uuid", "uuid_input_file"] + (["uuid_label_file"] if kind == "mnist" else [])
        return {key: upload[key] for key in keys}

    return body


def upload_resources(kind: str) -> Resources:
    def resources(world: World, fresh: bool) -> dict[str, Any]:
        return {"upload": world.upload(kind) if fresh else world.shared[f"{kind}_upload"]}

    return resources


def task_resources(world: World, fresh: bool) -> dict[str, Any]:
    return {
        "cluster": world.shared["direct_cluster"],
        "task": world.task() if fresh else world.shared["task"],
    }


MATRIX: tuple[Case, ...] = (
    # ---- public
    Case("POST", v1("token"), PUBLIC, login_call),
    Case("GET", "/healthz", PUBLIC, raw_get("/healthz")),
    Case("GET", "/readyz", PUBLIC, raw_get("/readyz")),
    # ---- token renewal / project switch
    Case(
        "PUT",
        v1("token"),
        profile(200, 200, 200, 200, 200, 200, member_api_token=403),
        send("PUT", "token", lambda w, caller, r: {"project_id": w.project_of[caller]}),
        variant="own project",
    ),
    Case(
        "PUT",
        v1("token"),
        profile(404, 200, 200, 200, 404, 404, member_api_token=403),
        send("PUT", "token", lambda w, caller, r: {"project_id": w.project_a}),
        variant="project A",
    ),
    # ---- users (admin-only)
    Case(
        "POST",
        v1("user"),
        ADMIN_ONLY,
        send(
            "POST",
            "user",
            lambda w, c, r: {
                "id": unique("new"),
                "name": "New User",
                "passphrase": b64(MEMBER_PASSPHRASE),
            },
        ),
    ),
    Case("GET", v1("user"), ADMIN_ONLY, get("user", id=member_id)),
    Case("GET", v1("user/all"), ADMIN_ONLY, get("user/all")),
    Case(
        "DELETE",
        v1("user"),
        ADMIN_ONLY,
        delete("user", id=res("user")),
        shared_or("user", lambda w: w.user()),
        mutating=True,
    ),
    Case(
        "POST",
        v1("user/project"),
        ADMIN_ONLY,
        send(
            "POST",
            "user/project",
            lambda w, c, r: {"id": r["user"], "project_id": w.project_a, "role": "member"},
        ),
        shared_or("user", lambda w: w.user()),
        mutating=True,
    ),
    Case(
        "DELETE",
        v1("user/project"),
        ADMIN_ONLY,
        delete("user/project", id=res("user"), project_id=lambda w, r: w.project_a),
        lambda w, fresh: {"user": w.user(w.project_a) if fresh else w.shared["assigned_user"]},
        mutating=True,
    ),
    Case("GET", v1("user/project"), ANY_USER, get("user/project"), variant="own projects"),
    Case(
        "GET",
        v1("user/project"),
        SELF_OR_ADMIN,
        get("user/project", user_id=member_id),
        variant="user_id=member",
    ),
    # ---- projects (admin-only)
    Case(
        "POST",
        v1("project"),
        ADMIN_ONLY,
        send("POST", "project", lambda w, c, r: {"id": unique("newproj"), "name": "New Proj"}),
    ),
    Case("GET", v1("project"), ADMIN_ONLY, get("project", id=lambda w, r: w.project_a)),
    Case("GET", v1("project/all"), ADMIN_ONLY, get("project/all")),
    Case(
        "DELETE",
        v1("project"),
        ADMIN_ONLY,
        delete("project", id=res("project")),
        shared_or("project", lambda w: w.project()),
        mutating=True,
    ),
    # ---- logs
    Case("GET", v1("audit_log"), ANY_USER, get("audit_log"), variant="own log"),
    Case(
        "GET",
        v1("audit_log"),
        SELF_OR_ADMIN,
        get("audit_log", user_id=member_id),
        variant="user_id=member",
    ),
    Case("GET", v1("error_log"), ADMIN_ONLY, get("error_log")),
    # ---- API tokens
    Case(
        "POST",
        v1("api_token"),
        profile(200, 200, 200, 200, 200, 200, member_api_token=403),
        send("POST", "api_token", lambda w, c, r: {"name": "matrix token"}),
        variant="own project",
    ),
    Case(
        "POST",
        v1("api_token"),
        profile(404, 200, 200, 200, 404, 404, member_api_token=403),
        send(
            "POST", "api_token", lambda w, c, r: {"name": "matrix token", "project_id": w.project_a}
        ),
        variant="project A",
    ),
    Case(
        "GET",
        v1("api_token"),
        TOKEN_OWNER,
        get("api_token", id=res("api_token")),
        shared("api_token"),
    ),
    Case(
        "DELETE",
        v1("api_token"),
        TOKEN_OWNER,
        delete("api_token", id=res("api_token")),
        shared_or("api_token", World.api_token),
        mutating=True,
    ),
    Case("GET", v1("api_token/all"), ANY_USER, get("api_token/all")),
    # ---- datasets
    Case(
        "POST",
        v1("dataset/upload/mnist"),
        ANY_USER,
        send(
            "POST",
            "dataset/upload/mnist",
            lambda w, c, r: {"name": "matrix mnist", "input_data_size": 100, "label_data_size": 10},
        ),
    ),
    Case(
        "POST",
        v1("dataset/upload/csv"),
        ANY_USER,
        send(
            "POST",
            "dataset/upload/csv",
            lambda w, c, r: {"name": "matrix csv", "input_data_size": 100},
        ),
    ),
    Case(
        "PUT",
        v1("dataset/upload/mnist"),
        OWNER_ONLY,
        send("PUT", "dataset/upload/mnist", finalize_body("mnist")),
        upload_resources("mnist"),
        mutating=True,
    ),
    Case(
        "PUT",
        v1("dataset/upload/csv"),
        OWNER_ONLY,
        send("PUT", "dataset/upload/csv", finalize_body("csv")),
        upload_resources("csv"),
        mutating=True,
    ),
    Case(
        "GET",
        v1("dataset/progress"),
        SCOPED,
        get("dataset/progress", uuid=lambda w, r: r["upload"]["uuid"]),
        upload_resources("mnist"),
    ),
    Case("POST", v1("dataset/upload"), ANY_USER, multipart_call),
    Case("GET", v1("dataset"), SCOPED, get("dataset", uuid=res("dataset")), shared("dataset")),
    Case(
        "DELETE",
        v1("dataset"),
        SCOPED,
        delete("dataset", uuid=res("dataset")),
        shared_or("dataset", World.dataset),
        mutating=True,
    ),
    Case("GET", v1("dataset/all"), ANY_USER, get("dataset/all")),
    Case(
        "GET",
        v1("dataset/content"),
        SCOPED,
        get(
            "dataset/content",
            uuid=res("dataset"),
            column_name=const("label"),
            row_offset=const(0),
            number_of_rows=const(2),
        ),
        shared("dataset"),
    ),
    Case(
        "GET",
        v1("dataset/check"),
        SCOPED,
        get(
            "dataset/check",
            uuid=res("dataset"),
            reference_uuid=res("dataset"),
            result_column=const("label"),
            reference_column=const("label"),
        ),
        shared("dataset"),
    ),
    # ---- clusters
    Case(
        "POST",
        v1("cluster"),
        ANY_USER,
        send(
            "POST",
            "cluster",
            lambda w, c, r: {"name": unique("matrix cluster"), "template": template_b64(TEMPLATE)},
        ),
    ),
    Case("GET", v1("cluster"), SCOPED, get("cluster", uuid=res("cluster")), shared("cluster")),
    Case(
        "DELETE",
        v1("cluster"),
        SCOPED,
        delete("cluster", uuid=res("cluster")),
        shared_or("cluster", World.cluster),
        mutating=True,
    ),
    Case("GET", v1("cluster/all"), ANY_USER, get("cluster/all")),
    Case(
        "POST",
        v1("cluster/save"),
        SCOPED,
        send(
            "POST",
            "cluster/save",
            lambda w, c, r: {"name": "matrix save", "cluster_uuid": r["cluster"]},
        ),
        shared("cluster"),
    ),
    Case(
        "POST",
        v1("cluster/load"),
        SCOPED,
        send(
            "POST",
            "cluster/load",
            lambda w, c, r: {"cluster_uuid": r["cluster"], "checkpoint_uuid": r["checkpoint"]},
        ),
        shared("cluster", "checkpoint"),
    ),
    Case(
        "PUT",
        v1("cluster/set_mode"),
        SCOPED,
        send(
            "PUT", "cluster/set_mode", lambda w, c, r: {"uuid": r["cluster"], "new_state": "DIRECT"}
        ),
        shared_or("cluster", World.cluster),
        mutating=True,
    ),
    Case(
        "PUT",
        v1("cluster/switch_host"),
        SCOPED,
        send(
            "PUT",
            "cluster/switch_host",
            lambda w, c, r: {"cluster_uuid": r["cluster"], "hexagon_id": 0, "host_uuid": w.host},
        ),
        shared("cluster"),
    ),
    # ---- tasks (on the DIRECT-mode cluster, so they stay queued)
    Case(
        "POST",
        v1("task/train"),
        SCOPED,
        send("POST", "task/train", lambda w, c, r: train_body(w, r["cluster"])),
        lambda w, fresh: {"cluster": w.shared["direct_cluster"]},
    ),
    Case(
        "POST",
        v1("task/request"),
        SCOPED,
        send("POST", "task/request", lambda w, c, r: request_body(w, r["cluster"])),
        lambda w, fresh: {"cluster": w.shared["direct_cluster"]},
    ),
    Case(
        "GET",
        v1("task"),
        SCOPED,
        get("task", uuid=res("task"), cluster_uuid=res("cluster")),
        task_resources,
    ),
    Case(
        "DELETE",
        v1("task"),
        SCOPED,
        delete("task", uuid=res("task"), cluster_uuid=res("cluster")),
        task_resources,
        mutating=True,
    ),
    Case(
        "GET",
        v1("task/all"),
        SCOPED,
        get("task/all", cluster_uuid=res("cluster")),
        lambda w, fresh: {"cluster": w.shared["direct_cluster"]},
    ),
    # ---- checkpoints
    Case(
        "GET",
        v1("checkpoint"),
        SCOPED,
        get("checkpoint", uuid=res("checkpoint")),
        shared("checkpoint"),
    ),
    Case(
        "DELETE",
        v1("checkpoint"),
        SCOPED,
        delete("checkpoint", uuid=res("checkpoint")),
        shared_or("checkpoint", World.checkpoint),
        mutating=True,
    ),
    Case("GET", v1("checkpoint/all"), ANY_USER, get("checkpoint/all")),
    Case(
        "GET",
        v1("checkpoint/download"),
        SCOPED,
        get("checkpoint/download", uuid=res("checkpoint")),
        shared("checkpoint"),
    ),
    Case("POST", v1("checkpoint/upload"), ANY_USER, checkpoint_upload_call),
    # ---- hosts and measurements (global)
    *(
        Case("GET", v1(path), ANY_USER, get(path))
        for path in (
            "host/all",
            "power_consumption",
            "speed",
            "temperature_production",
            "system_info",
            "threading",
        )
    ),
)

EXTRA_PUBLIC_PATHS = ("/openapi.json", "/docs", "/redoc", "/metrics", "/")
"""HTTP endpoints outside the OpenAPI document: open to everybody."""


# --------------------------------------------------------------------------- tests


def test_matrix_covers_every_operation(http):
    """Every (method, path) of the live OpenAPI document has a matrix entry, and vice versa."""
    document = http.get("/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "head", "options")
    }
    covered = {(case.method, case.path) for case in MATRIX}
    assert sorted(operations - covered) == [], "operations without an authorization matrix entry"
    assert sorted(covered - operations) == [], "matrix entries for operations that do not exist"
    assert len(operations) >= 56


def _body_leaks(response: httpx.Response) -> bool:
    return MARKER in response.text


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_authorization_matrix(world: World, case: Case):
    problems: list[str] = []
    write = case.method != "GET"
    # Refused callers first, on the shared resources; then each allowed caller, on a fresh
    # resource when the call changes it.
    order = sorted(CALLERS, key=lambda caller: case.expect[caller] < 300)
    baseline: dict[str, Any] | None = None
    for caller in order:
        expected = case.expect[caller]
        allowed = expected < 300
        resources = case.resources(world, case.mutating and allowed)
        check_unchanged = write and not allowed
        if check_unchanged and baseline is None:
            baseline = fingerprint(world, resources)
        response = case.call(world, caller, world.apis[caller], resources)
        if response.status_code != expected:
            problems.append(
                f"{caller}: expected {expected}, got {response.status_code} {response.text[:200]}"
            )
            continue
        if not allowed and _body_leaks(response):
            problems.append(f"{caller}: refused answer leaks the resource: {response.text[:200]}")
        if expected == 401:
            assert response.headers.get("www-authenticate") == "Bearer", caller
        if check_unchanged:
            assert baseline is not None
            after = fingerprint(world, resources)
            if after != baseline:
                changed = sorted(k for k in baseline if baseline[k] != after.get(k))
                baseline = after
                problems.append(f"{caller}: refused {case.method} changed {changed}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", EXTRA_PUBLIC_PATHS)
def test_endpoints_outside_the_schema_are_public(world: World, path: str):
    for caller in CALLERS:
        response = world.apis[caller].http.get(path, headers=world.apis[caller].headers())
        assert response.status_code == 200, (caller, response.status_code, response.text[:200])


LISTS = {
    "cluster/all": ("cluster", "direct_cluster"),
    "dataset/all": ("dataset",),
    "checkpoint/all": ("checkpoint",),
}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_lists_show_only_the_callers_scope(world: World, path: str):
    owned = {world.shared[key] for key in LISTS[path]}
    sees = {"admin", "project_admin", "member", "member_api_token"}
    for caller in ("admin", "project_admin", "member", "member_api_token", "peer",
                   "other_member", "other_project_admin"):  # fmt: skip
        table = world.apis[caller].get(path).json()
        uuids = {row[table["header"].index("uuid")] for row in table["body"]}
        if caller in sees:
            assert owned <= uuids, caller
        else:
            assert not owned & uuids, caller
            assert MARKER not in json.dumps(table), caller
        if caller in ("member", "member_api_token", "peer", "other_member"):
            owners = {row[table["header"].index("owner_id")] for row in table["body"]}
            assert owners <= {world.users["member" if caller.startswith("member") else caller].id}
        if caller != "admin":
            projects = {row[table["header"].index("project_id")] for row in table["body"]}
            assert projects <= {world.project_of[caller]}, caller


def test_api_token_list_and_audit_log_show_only_own_rows(world: World):
    for caller in ("project_admin", "member", "peer", "other_member", "other_project_admin"):
        user_id = world.users[caller].id
        tokens = world.apis[caller].get("api_token/all").json()
        assert {row[2] for row in tokens["body"]} <= {user_id}, caller
        audit = world.apis[caller].get("audit_log").json()
        assert {row[1] for row in audit["body"]} <= {user_id}, caller
        projects = world.apis[caller].get("user/project").json()["projects"]
        assert [p["project_id"] for p in projects] == [world.project_of[caller]], caller
    admin_tokens = world.admin.get("api_token/all").json()
    assert world.shared["api_token"] in {row[1] for row in admin_tokens["body"]}


def test_cross_tenant_references_inside_own_requests(world: World):
    """A user of project B (or a peer in A) using their *own* resources together with
    project A's: every reference to A's resources is a 404 and nothing changes."""
    a = world.shared
    for caller in ("other_member", "other_project_admin", "peer"):
        api = world.apis[caller]
        cluster = api.post(
            "cluster", {"name": unique("own cluster"), "template": template_b64(TEMPLATE)}
        ).json()["uuid"]
        own = api.http.post(
            v1("dataset/upload"),
            data={"name": "own csv", "type": "csv"},
            files={"input_file": ("data.csv", CSV_TEXT.encode())},
            headers=api.headers(),
        )
        assert own.status_code == 200, own.text
        own_dataset = own.json()["uuid"]
        started = api.post("dataset/upload/csv", {"name": "own upload", "input_data_size": 4})
        assert started.status_code == 200
        before = fingerprint(world, {"task": a["task"], "dataset": a["dataset"]})
        attempts = {
            "train with A's dataset": api.post("task/train", train_body(world, cluster)),
            "request with A's dataset": api.post("task/request", request_body(world, cluster)),
            "load A's checkpoint": api.post(
                "cluster/load", {"cluster_uuid": cluster, "checkpoint_uuid": a["checkpoint"]}
            ),
            "check against A's reference": api.get(
                "dataset/check", uuid=own_dataset, reference_uuid=a["dataset"]
            ),
            "check A's result": api.get(
                "dataset/check", uuid=a["dataset"], reference_uuid=own_dataset
            ),
            "show A's task via own cluster": api.get("task", uuid=a["task"], cluster_uuid=cluster),
            "delete A's task via own cluster": api.delete(
                "task", uuid=a["task"], cluster_uuid=cluster
            ),
            "finalize A's tempfile into own upload": api.put(
                "dataset/upload/csv",
                {
                    "uuid": started.json()["uuid"],
                    "uuid_input_file": a["csv_upload"]["uuid_input_file"],
                },
            ),
            "finalize own tempfile into A's upload": api.put(
                "dataset/upload/csv",
                {
                    "uuid": a["csv_upload"]["uuid"],
                    "uuid_input_file": started.json()["uuid_input_file"],
                },
            ),
        }
        for label, response in attempts.items():
            assert response.status_code == 404, (caller, label, response.text)
            assert MARKER not in response.text, (caller, label)
        assert fingerprint(world, {"task": a["task"], "dataset": a["dataset"]}) == before
        assert api.delete("dataset", uuid=own_dataset).status_code == 200
        assert api.delete("dataset", uuid=started.json()["uuid"]).status_code == 200
        assert api.delete("cluster", uuid=cluster).status_code == 200


# --------------------------------------------------------------------------- websockets

WS_SUCCESS = 0
WS_UPLOAD = profile(4404, 4404, WS_SUCCESS, 4404, 4404, 4404, tester=4404,
                    **dict.fromkeys(UNAUTHENTICATED, 4401))  # fmt: skip
"""Upload sockets: only the user (and project) that started the upload. Websockets check the
target's scope before the policy (docs/websocket.md), so the ``tester`` role, which owns
nothing, gets 4404 rather than 4403."""
WS_CLUSTER = profile(WS_SUCCESS, WS_SUCCESS, WS_SUCCESS, 4404, 4404, 4404, tester=4404,
                     **dict.fromkeys(UNAUTHENTICATED, 4401))  # fmt: skip
"""Direct I/O: like the REST scope filter."""


def _open_session(world: World, caller: str, target: str, target_uuid: str) -> int:
    """Init a websocket as ``caller``: 0 on success, else the close code."""
    init: dict[str, Any] = {"target": target, "uuid": target_uuid}
    token = world.apis[caller].token
    if token is not None:
        init["token"] = token
    with ws_connect(world.base_url) as ws:
        ws.send(json.dumps(init))
        reply = json.loads(ws.recv(timeout=30))
        if reply["success"]:
            return WS_SUCCESS
        assert MARKER not in reply["error"]
        code, reason = expect_close(ws)
        assert reason == reply["error"][: len(reason)] or reason.endswith("...")
        return code


@pytest.mark.parametrize(
    ("target", "expect"), [("file_upload", WS_UPLOAD), ("cluster", WS_CLUSTER)]
)
def test_websocket_matrix(world: World, target: str, expect: Mapping[str, int]):
    if target == "file_upload":
        # an upload whose input file has not been sent yet: a session may write to it
        started = world.owner.post(
            "dataset/upload/csv", {"name": f"{MARKER} ws", "input_data_size": len(CSV_TEXT)}
        )
        assert started.status_code == 200, started.text
        dataset = started.json()["uuid"]
        world.cleanup.append(lambda: world.admin.delete("dataset", uuid=dataset))
        target_uuid = started.json()["uuid_input_file"]
    else:
        target_uuid = world.shared["direct_cluster"]
    problems = []
    for caller in CALLERS:
        before = fingerprint(world, {})
        got = _open_session(world, caller, target, target_uuid)
        if got != expect[caller]:
            problems.append(f"{caller}: expected {expect[caller]}, got {got}")
        if expect[caller] != WS_SUCCESS:
            assert fingerprint(world, {}) == before, caller
    assert problems == [], "\n".join(problems)
    if target == "file_upload":
        progress = world.owner.get("dataset/progress", uuid=dataset).json()
        assert progress["complete"] is False  # nobody wrote a byte


def test_websocket_expired_forged_tokens_of_the_owner(world: World, server):
    """The owner's own token, expired or re-signed with a wrong key, opens nothing."""
    token = world.owner.token or ""
    now = int(time.time())
    for bad in (
        _resign(token, server.token_key, iat=now - 7200, exp=now - 3600),
        _resign(token, WRONG_KEY),
        base64.b64encode(uuid.uuid4().bytes).decode(),
    ):
        with ws_connect(world.base_url) as ws:
            ws.send(json.dumps({"token": bad, "target": "cluster",
                                "uuid": world.shared["direct_cluster"]}))  # fmt: skip
            assert json.loads(ws.recv(timeout=30))["success"] is False
            assert expect_close(ws)[0] == 4401


def test_admin_resources_are_invisible_to_everyone_else(world: World):
    """The admin's own resources live in the pseudo-project ``admin``: no project admin,
    member or API token of any project reaches them."""
    response = world.admin.post(
        "cluster", {"name": unique(f"{MARKER} admin cluster"), "template": template_b64(TEMPLATE)}
    )
    assert response.status_code == 200, response.text
    cluster = response.json()["uuid"]
    try:
        assert response.json()["project_id"] == "admin"
        for caller in CALLERS:
            if caller == "admin":
                continue
            api = world.apis[caller]
            expected = {"tester": 403, **dict.fromkeys(UNAUTHENTICATED, 401)}.get(caller, 404)
            assert api.get("cluster", uuid=cluster).status_code == expected, caller
            assert api.delete("cluster", uuid=cluster).status_code == expected, caller
            listed = api.get("cluster/all")
            if listed.status_code == 200:
                assert cluster not in json.dumps(listed.json()), caller
        assert world.admin.get("cluster", uuid=cluster).status_code == 200
    finally:
        world.admin.delete("cluster", uuid=cluster)

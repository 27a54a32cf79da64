"""The GET hot path (:mod:`hanami.server.api.fastget`) answers exactly as FastAPI does.

A fresh token is unknown to the principal cache, so its first request goes through FastAPI
(and fills the cache); the same request again is answered by the hot path. Both answers
must be the same, for successes and for every kind of refusal.
"""

from __future__ import annotations

import base64

import pytest
from cluster_helpers import TEMPLATE
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, Api, login, unique

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def _twice(api: Api, path: str, headers: dict[str, str] | None = None, **params: object) -> None:
    first, second = (api.request("GET", path, params=params, headers=headers) for _ in range(2))
    assert second.status_code == first.status_code, (path, first.text, second.text)
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers.get("www-authenticate") == first.headers.get("www-authenticate")
    if first.headers["content-type"].startswith("application/json"):
        assert second.json() == first.json()
    else:
        assert second.text == first.text


@pytest.fixture
def cluster(admin: Api) -> str:
    template = base64.b64encode(TEMPLATE.encode()).decode()
    response = admin.post("cluster", {"name": unique("fastget"), "template": template})
    assert response.status_code == 200, response.text
    return response.json()["uuid"]


def test_admin_answers_are_the_same(http, cluster):
    admin = Api(http, login(http, ADMIN_ID, ADMIN_PASSPHRASE))  # a token nobody used yet
    for path in ("cluster/all", "dataset/all", "checkpoint/all", "project/all", "user/all",
                 "host/all", "user/project", "api_token/all", "system_info"):  # fmt: skip
        _twice(admin, path)
    _twice(admin, "cluster", uuid=cluster)
    _twice(admin, "task/all", cluster_uuid=cluster)
    _twice(admin, "cluster", uuid=UNKNOWN)  # 404 raised by the endpoint
    _twice(admin, "task", uuid=UNKNOWN, cluster_uuid=cluster)
    _twice(admin, "cluster", uuid="not-a-uuid")  # 400: invalid input
    _twice(admin, "cluster/all", unknown="1")  # 400: unknown key
    _twice(admin, "cluster", {"Accept": "application/json"}, uuid=UNKNOWN)  # the error as JSON


def test_member_answers_and_refusals_are_the_same(make_member, cluster):
    member = make_member()
    for path in ("cluster/all", "dataset/all", "checkpoint/all", "user/project", "host/all"):
        _twice(member.api, path)
    _twice(member.api, "cluster", uuid=cluster)  # the admin's cluster: 404 for a member
    _twice(member.api, "user/all")  # 403 for a member
    _twice(member.api, "project/all")
    viewer = make_member(role="tester")  # a role the policy does not know
    _twice(viewer.api, "user/project")


def test_bearer_header_and_bad_tokens(http):
    token = login(http, ADMIN_ID, ADMIN_PASSPHRASE)
    _twice(Api(http, token, bearer=True), "cluster/all")
    _twice(Api(http, token + "x"), "cluster/all")  # 401
    _twice(Api(http), "cluster/all")  # no token: 401

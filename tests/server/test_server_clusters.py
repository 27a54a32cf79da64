"""Clusters over real HTTP: create/show/list/delete, template errors, tenancy, modes, hosts."""

from __future__ import annotations

import base64

import pytest
from cluster_helpers import TEMPLATE, create_cluster, template_b64
from server_helpers import unique

CLUSTER_FIELDS = {"created_at", "uuid", "name", "owner_id", "project_id", "visibility"}
UNKNOWN = "0b2f8a7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def test_cluster_crud_shapes(admin):
    name = unique("cluster")
    response = admin.post("cluster", {"name": name, "template": template_b64()})
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == CLUSTER_FIELDS
    assert created["name"] == name
    assert created["visibility"] == "private"
    assert created["owner_id"] == "asdf" and created["project_id"] == "admin"

    shown = admin.get("cluster", uuid=created["uuid"]).json()
    assert {k: shown[k] for k in CLUSTER_FIELDS} == created
    assert isinstance(shown["number_of_blocks"], int)
    assert isinstance(shown["number_of_sections"], int)
    assert shown["mode"] == "TASK"
    assert shown["inputs"] == {"picture_hex": 0} and shown["outputs"] == {"label_hex": 0}

    listing = admin.get("cluster/all").json()
    assert listing["header"] == ["created_at", "uuid", "project_id", "owner_id", "visibility",
                                 "name"]  # fmt: skip
    row = next(r for r in listing["body"] if r[1] == created["uuid"])
    assert row == [created["created_at"], created["uuid"], "admin", "asdf", "private", name]

    assert admin.delete("cluster", uuid=created["uuid"]).json() == {}
    missing = admin.get("cluster", uuid=created["uuid"])
    assert missing.status_code == 404
    assert created["uuid"] in missing.text
    assert admin.delete("cluster", uuid=created["uuid"]).status_code == 404
    # the name is free again
    create_cluster(admin, name)


def test_duplicate_name_conflicts(admin):
    name = unique("cluster")
    create_cluster(admin, name)
    response = admin.post("cluster", {"name": name, "template": template_b64()})
    assert response.status_code == 409
    assert response.text == f"Cluster with name '{name}' already exist."


def test_bad_template_answers_400_with_line_and_column(admin):
    broken = TEMPLATE.replace("    3,1,1\n", "    3,x,1\n")
    response = admin.post("cluster", {"name": unique("cluster"), "template": template_b64(broken)})
    assert response.status_code == 400
    line = broken.splitlines().index("    3,x,1") + 1
    assert response.text.startswith(
        f"Uploaded template is not a valid cluster-template: line {line}, column 7:"
    )

    response = admin.post("cluster", {"name": unique("cluster"), "template": "not base64!"})
    assert response.status_code == 400
    assert response.text == "Uploaded template is not a valid base64-String."

    binary = base64.b64encode(b"\xff\xfe").decode()
    response = admin.post("cluster", {"name": unique("cluster"), "template": binary})
    assert response.status_code == 400

    response = admin.post("cluster", {"name": unique("cluster")})
    assert response.status_code == 400
    assert "'template' is required" in response.text


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_and_malformed_uuids(admin, method):
    call = getattr(admin, method)
    assert call("cluster", uuid=UNKNOWN).status_code == 404
    malformed = call("cluster", uuid="fail_cluster")
    assert malformed.status_code == 400
    assert "'uuid' has an invalid format" in malformed.text


def test_other_projects_cluster_is_not_found(admin, make_member):
    owner = make_member()
    stranger = make_member()
    cluster = create_cluster(owner.api, unique("cluster"))
    assert owner.api.get("cluster", uuid=cluster).status_code == 200
    for call in (stranger.api.get, stranger.api.delete):
        response = call("cluster", uuid=cluster)
        assert response.status_code == 404
        assert response.text == f"Cluster with uuid '{cluster}' not found"
    assert cluster not in [r[1] for r in stranger.api.get("cluster/all").json()["body"]]
    # a member of the same project sees it only as project admin
    colleague = make_member(project_id=owner.project_id)
    assert colleague.api.get("cluster", uuid=cluster).status_code == 404
    boss = make_member(project_id=owner.project_id, is_project_admin=True)
    assert boss.api.get("cluster", uuid=cluster).status_code == 200
    # the admin sees everything; names are unique per scope only
    assert admin.get("cluster", uuid=cluster).json()["project_id"] == owner.project_id
    name = unique("cluster")
    create_cluster(owner.api, name)
    create_cluster(stranger.api, name)


def test_set_mode_transitions(admin):
    cluster = create_cluster(admin, unique("cluster"))

    def switch(state: str):
        return admin.put("cluster/set_mode", {"uuid": cluster, "new_state": state})

    assert switch("TASK").status_code == 409  # already in TASK mode
    response = switch("DIRECT")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["new_state"] == "DIRECT" and body["uuid"] == cluster
    assert admin.get("cluster", uuid=cluster).json()["mode"] == "DIRECT"
    conflict = switch("DIRECT")
    assert conflict.status_code == 409
    assert conflict.text == "Can not switch cluster to 'DIRECT'"
    assert switch("TASK").status_code == 200
    assert switch("BOTH").status_code == 400
    response = admin.put("cluster/set_mode", {"uuid": UNKNOWN, "new_state": "DIRECT"})
    assert response.status_code == 404


def test_switch_host(admin):
    cluster = create_cluster(admin, unique("cluster"))
    hosts = admin.get("host/all").json()
    assert hosts["header"] == ["uuid", "type"]
    assert len(hosts["body"]) >= 1 and all(row[1] == "cpu" for row in hosts["body"])
    host = hosts["body"][-1][0]
    response = admin.put(
        "cluster/switch_host", {"cluster_uuid": cluster, "hexagon_id": 1, "host_uuid": host}
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == CLUSTER_FIELDS
    bad_hexagon = {"cluster_uuid": cluster, "hexagon_id": 3, "host_uuid": host}
    assert admin.put("cluster/switch_host", bad_hexagon).status_code == 404
    bad_host = {"cluster_uuid": cluster, "hexagon_id": 0, "host_uuid": UNKNOWN}
    assert admin.put("cluster/switch_host", bad_host).status_code == 404

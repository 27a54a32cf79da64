"""Property-based API testing with schemathesis against the live server's ``/openapi.json``.

A server of its own (own data folder; SQLite, then PostgreSQL) is seeded with resources, then the
``schemathesis run`` CLI (in a subprocess, fixed ``--seed``) sends generated requests to all
operations in every phase (examples, coverage, fuzzing and the stateful phase, which chains
operations along the document's links), authenticated as the admin (``X-Auth-Token``), with
every check (``--checks all``): no 5xx, answers, status codes, content types and headers as
documented, invalid input refused, valid input accepted, a correct ``Allow`` on 405, no
resource usable after its deletion, and so on. On top, from the NDJSON report: at least
:data:`MIN_REQUESTS` requests, no 5xx and no FastAPI 422 (validation errors are 400 with a
message), and afterwards the ``error_log`` is empty and the server log has no traceback.

Where a check needs a word:

- ``positive_data_acceptance`` (a schema-valid request must not get 400) cannot hold for the
  operations of :data:`SEMANTIC_REJECTIONS`: a valid request there also needs what JSON
  Schema cannot say (a file format, the template grammar, rows that exist). Nor for
  ``5.0`` in an integer field (:data:`INTEGRAL_FLOAT`). Those may answer 400, but only with
  the messages listed there (:func:`semantic_rule`); the report is checked for that.
- ``negative_data_rejection`` also counts 413 as a refusal (:data:`REJECTED`).

Seeding, and why (the ``schemathesis.toml`` written by :func:`write_config`):

- Generated UUIDs never name an existing resource, so handlers would only ever answer 404.
  Dictionaries of real uuids, ids, column and hexagon names are bound to the parameters
  (each used with probability :data:`SEED_PROBABILITY`; the rest stays generated).
- Destructive operations get **their own** victims: ``DELETE cluster`` would otherwise
  delete the clusters every later operation uses, ``DELETE user`` / ``DELETE project`` the
  users and projects, and so on. The admin's id is among the user victims on purpose: a
  self-deletion must answer 409, so the admin token that drives the run stays valid.
- ``epochs`` of train tasks is pinned to small values: a generated train task of 100,000
  epochs would keep this 2-core machine busy long after the run.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_helpers import ServerProcess, idx_bytes, synthetic_digits, template_b64
from dataset_helpers import expect_close, ws_connect
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, Api, b64, login, unique

from hanami.server.config import ServerSettings

SEED = 20240317
MAX_EXAMPLES = int(os.environ.get("HANAMI_FUZZ_EXAMPLES", "10"))
"""Examples per operation: 10 inside ``make test``, 60 in ``make fuzz`` (the full run)."""
MIN_REQUESTS = 2000 + 50 * MAX_EXAMPLES
"""Requests the run must send: 2,500 at 10 examples, 5,000 at 60 (the fixed seed sent 2,578
at 10 on both databases; the coverage and stateful phases send ~2,000 whatever the number)."""
RUN_TIMEOUT = 540
SEED_PROBABILITY = 0.7
FUZZ_PASSPHRASE = "fuzz passphrase"
PHASES = "examples,coverage,fuzzing,stateful"
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
"""schemathesis' default answers to a schema-valid request (``positive_data_acceptance``)."""
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
"""Answers to schema-invalid input (``negative_data_rejection``): schemathesis' default plus
413, the answer to a declared file size over ``dataset_max_bytes`` (also in the schema)."""

_BINDING_RULES = (
    r"hexagon '[^']*' is bound twice|^No data bound to the \w+ hexagon"
    r"|^time_length \d+ is longer than the data"
)
SEMANTIC_REJECTIONS: dict[str, tuple[str, str]] = {
    "POST /v1.0alpha/cluster": (
        "the template's grammar (docs/templates.md) and its UTF-8 are not JSON Schema",
        r"^Uploaded template is not a valid (cluster-template|base64-String)",
    ),
    "POST /v1.0alpha/checkpoint/upload": (
        "the body must be a checkpoint file",
        r"^Uploaded file is not a valid checkpoint: |^The request body is empty",
    ),
    "POST /v1.0alpha/dataset/upload": (
        "the files must be IDX or CSV files",
        r"^(input|label)_file: ",
    ),
    "PUT /v1.0alpha/dataset/upload/mnist": (
        "the uuids must name an MNIST upload and two different tempfiles",
        r"^Dataset with uuid '[^']+' is not a mnist upload"
        r"|^The same tempfile was given for two different files$",
    ),
    "PUT /v1.0alpha/dataset/upload/csv": (
        "the uuid must name a CSV upload",
        r"^Dataset with uuid '[^']+' is not a csv upload",
    ),
    "GET /v1.0alpha/dataset/content": (
        "the rows must exist in that dataset",
        r"^Rows \d+\.\.\d+ requested, but dataset '[^']+' has \d+ rows",
    ),
    "GET /v1.0alpha/dataset/check": (
        "the two column groups must fit each other (shape, rows, classes)",
        r"columns but reference column|rows but the reference has only|shape"
        r"|^nothing to check|needs at least 2 columns|over 0 rows|several column groups",
    ),
    "POST /v1.0alpha/task/train": (
        "each hexagon of the cluster needs exactly one binding, and enough rows",
        _BINDING_RULES,
    ),
    "POST /v1.0alpha/task/request": (
        "each hexagon of the cluster needs exactly one binding, and enough rows",
        _BINDING_RULES + r"|^Result column '[^']*' is given twice",
    ),
}
"""Operations whose schema-valid requests may still be refused with 400, why, and the only
messages such a 400 may carry (checked in the report: any other 400 still fails the run).
What JSON Schema cannot say: file formats, the template grammar, and rules that depend on
the data of the named resources."""

INTEGRAL_FLOAT = r"has the wrong type: input should be a valid integer"
"""Integer fields of a JSON body refuse ``5.0``, as the original did (tests/e2e keeps that);
JSON Schema counts ``5.0`` as an integer and cannot say otherwise, so schemathesis sends it."""
INTEGER_BODY_OPERATIONS = (
    "POST /v1.0alpha/api_token",
    "POST /v1.0alpha/dataset/upload/mnist",
    "POST /v1.0alpha/dataset/upload/csv",
    "PUT /v1.0alpha/cluster/switch_host",
    "POST /v1.0alpha/task/train",
    "POST /v1.0alpha/task/request",
)


def semantic_rule(operation: str) -> str | None:
    """The messages a 400 to a schema-valid request of ``operation`` may carry."""
    rules = [SEMANTIC_REJECTIONS[operation][1]] if operation in SEMANTIC_REJECTIONS else []
    if operation in INTEGER_BODY_OPERATIONS:
        rules.append(INTEGRAL_FLOAT)
    return "|".join(rules) or None


BINDINGS: dict[str, dict[str, str]] = {
    "POST /v1.0alpha/token": {"body.id": "login_ids", "body.passphrase": "passphrases"},
    "PUT /v1.0alpha/token": {"body.project_id": "projects"},
    "GET /v1.0alpha/user": {"query.id": "users"},
    "DELETE /v1.0alpha/user": {"query.id": "victim_users"},
    "POST /v1.0alpha/user/project": {"body.id": "users", "body.project_id": "projects"},
    "DELETE /v1.0alpha/user/project": {"query.id": "users", "query.project_id": "projects"},
    "GET /v1.0alpha/user/project": {"query.user_id": "users"},
    "GET /v1.0alpha/project": {"query.id": "projects"},
    "DELETE /v1.0alpha/project": {"query.id": "victim_projects"},
    "GET /v1.0alpha/audit_log": {"query.user_id": "users"},
    "GET /v1.0alpha/error_log": {"query.user_id": "users"},
    "POST /v1.0alpha/api_token": {"body.project_id": "projects"},
    "GET /v1.0alpha/api_token": {"query.id": "api_tokens"},
    "DELETE /v1.0alpha/api_token": {"query.id": "victim_api_tokens"},
    "POST /v1.0alpha/cluster": {"body.template": "templates"},
    "GET /v1.0alpha/cluster": {"query.uuid": "clusters"},
    "DELETE /v1.0alpha/cluster": {"query.uuid": "victim_clusters"},
    "POST /v1.0alpha/cluster/save": {"body.cluster_uuid": "clusters"},
    "POST /v1.0alpha/cluster/load": {
        "body.cluster_uuid": "clusters",
        "body.checkpoint_uuid": "checkpoints",
    },
    "PUT /v1.0alpha/cluster/set_mode": {"body.uuid": "clusters"},
    "PUT /v1.0alpha/cluster/switch_host": {
        "body.cluster_uuid": "clusters",
        "body.host_uuid": "hosts",
        "body.hexagon_id": "hexagon_ids",
    },
    "POST /v1.0alpha/task/train": {
        "body.cluster_uuid": "clusters",
        "body.inputs[*].hexagon_name": "hexagons",
        "body.inputs[*].dataset_uuid": "datasets",
        "body.inputs[*].dataset_column": "columns",
        "body.outputs[*].hexagon_name": "hexagons",
        "body.outputs[*].dataset_uuid": "datasets",
        "body.outputs[*].dataset_column": "columns",
    },
    "POST /v1.0alpha/task/request": {
        "body.cluster_uuid": "clusters",
        "body.inputs[*].hexagon_name": "hexagons",
        "body.inputs[*].dataset_uuid": "datasets",
        "body.inputs[*].dataset_column": "columns",
        "body.results[*].hexagon_name": "hexagons",
    },
    "GET /v1.0alpha/task": {"query.uuid": "tasks", "query.cluster_uuid": "clusters"},
    "DELETE /v1.0alpha/task": {"query.uuid": "victim_tasks", "query.cluster_uuid": "clusters"},
    "GET /v1.0alpha/task/all": {"query.cluster_uuid": "clusters"},
    "PUT /v1.0alpha/dataset/upload/mnist": {
        "body.uuid": "uploads",
        "body.uuid_input_file": "tempfiles",
        "body.uuid_label_file": "tempfiles",
    },
    "PUT /v1.0alpha/dataset/upload/csv": {
        "body.uuid": "uploads",
        "body.uuid_input_file": "tempfiles",
    },
    "GET /v1.0alpha/dataset/progress": {"query.uuid": "uploads"},
    "GET /v1.0alpha/dataset": {"query.uuid": "datasets"},
    "DELETE /v1.0alpha/dataset": {"query.uuid": "victim_datasets"},
    "GET /v1.0alpha/dataset/content": {"query.uuid": "datasets", "query.column_name": "columns"},
    "GET /v1.0alpha/dataset/check": {
        "query.uuid": "datasets",
        "query.reference_uuid": "datasets",
        "query.result_column": "columns",
        "query.reference_column": "columns",
    },
    "GET /v1.0alpha/checkpoint": {"query.uuid": "checkpoints"},
    "DELETE /v1.0alpha/checkpoint": {"query.uuid": "victim_checkpoints"},
    "GET /v1.0alpha/checkpoint/download": {"query.uuid": "checkpoints"},
}
PINNED = {"POST /v1.0alpha/task/train": {"body.epochs": "epochs"}}
"""Bound with probability 1 (see the module docstring)."""


# --------------------------------------------------------------------------- seeding


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def seed(admin: Api) -> dict[str, list[Any]]:
    """Resources for the dictionaries (all owned by the admin, project ``admin``)."""
    values: dict[str, list[Any]] = collections.defaultdict(list)

    def project() -> str:
        project_id = unique("fuzzproj")
        _ok(admin.post("project", {"id": project_id, "name": "Fuzz Project"}))
        return project_id

    def user(project_id: str) -> str:
        user_id = unique("fuzzuser")
        body = {"id": user_id, "name": "Fuzz User", "passphrase": b64(FUZZ_PASSPHRASE)}
        _ok(admin.post("user", body))
        assignment = {"id": user_id, "project_id": project_id, "role": "member"}
        _ok(admin.post("user/project", assignment))
        return user_id

    def cluster() -> str:
        body = {"name": unique("fuzz cluster"), "template": template_b64()}
        return _ok(admin.post("cluster", body))["uuid"]

    pictures, labels = synthetic_digits(16, seed=1)

    def dataset() -> str:
        response = admin.http.post(
            "/v1.0alpha/dataset/upload",
            data={"name": "fuzz digits", "type": "mnist"},
            files={
                "input_file": ("images.idx", idx_bytes(pictures)),
                "label_file": ("labels.idx", idx_bytes(labels)),
            },
            headers=admin.headers(),
        )
        return _ok(response)["uuid"]

    def train(cluster_uuid: str, dataset_uuid: str) -> str:
        def binding(hexagon: str, column: str) -> dict[str, str]:
            return {"hexagon_name": hexagon, "dataset_uuid": dataset_uuid, "dataset_column": column}

        body = {
            "name": "fuzz train",
            "cluster_uuid": cluster_uuid,
            "inputs": [binding("picture_hex", "picture")],
            "outputs": [binding("label_hex", "label")],
        }
        return _ok(admin.post("task/train", body))["uuid"]

    values["projects"] = [project() for _ in range(3)] + ["admin"]
    values["victim_projects"] = [project() for _ in range(3)]
    values["users"] = [user(values["projects"][0]) for _ in range(3)] + [ADMIN_ID]
    values["victim_users"] = [user(values["projects"][1]) for _ in range(3)] + [ADMIN_ID]
    values["login_ids"] = [ADMIN_ID, values["users"][0]]
    values["passphrases"] = [b64(ADMIN_PASSPHRASE), b64(FUZZ_PASSPHRASE)]
    values["clusters"] = [cluster() for _ in range(3)]
    values["victim_clusters"] = [cluster() for _ in range(3)]
    values["datasets"] = [dataset() for _ in range(2)]
    values["victim_datasets"] = [dataset() for _ in range(2)]
    for _ in range(2):
        saved = admin.post(
            "cluster/save", {"name": "fuzz save", "cluster_uuid": values["clusters"][0]}
        )
        values["checkpoints"].append(_ok(saved)["uuid"])
        saved = admin.post(
            "cluster/save", {"name": "fuzz save", "cluster_uuid": values["clusters"][1]}
        )
        values["victim_checkpoints"].append(_ok(saved)["uuid"])
    for cluster_uuid in values["clusters"]:
        values["tasks"].append(train(cluster_uuid, values["datasets"][0]))
        values["victim_tasks"].append(train(cluster_uuid, values["datasets"][1]))
    for kind, sizes in (("mnist", {"label_data_size": 20}), ("csv", {})):
        for _ in range(2):
            body = {"name": "fuzz upload", "input_data_size": 100, **sizes}
            created = _ok(admin.post(f"dataset/upload/{kind}", body))
            values["uploads"].append(created["uuid"])
            values["tempfiles"] += [v for k, v in created.items() if k.startswith("uuid_")]
    values["api_tokens"] = [_ok(admin.post("api_token", {"name": "fuzz token"}))["id"]]
    values["victim_api_tokens"] = [
        _ok(admin.post("api_token", {"name": "fuzz token"}))["id"] for _ in range(2)
    ]
    values["hosts"] = [row[0] for row in _ok(admin.get("host/all"))["body"]]
    values["hexagon_ids"] = [0, 1, 2]
    values["hexagons"] = ["picture_hex", "label_hex"]
    values["columns"] = ["picture", "label"]
    values["templates"] = [template_b64()]
    values["epochs"] = [1, 2]
    return dict(values)


def write_config(path: Path, values: dict[str, list[Any]]) -> None:
    lines = [f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(REJECTED)}\n"]
    for name, entries in sorted(values.items()):
        lines.append(f"[dictionaries.{name}]\nvalues = {json.dumps(entries)}\n")
    parameters: dict[str, list[str]] = collections.defaultdict(list)
    for bindings, probability in ((BINDINGS, SEED_PROBABILITY), (PINNED, 1.0)):
        for operation, names in bindings.items():
            parameters[operation] += [
                f'"{key}" = {{ dictionary = "{name}", probability = {probability} }}'
                for key, name in names.items()
            ]
    statuses = json.dumps([*ACCEPTED, "400"])
    for operation in sorted({*parameters, *SEMANTIC_REJECTIONS, *INTEGER_BODY_OPERATIONS}):
        lines.append(f'[[operations]]\ninclude-name = "{operation}"')
        if operation in parameters:
            lines.append(f"parameters = {{ {', '.join(parameters[operation])} }}")
        if semantic_rule(operation):
            lines.append(
                f"checks = {{ positive_data_acceptance = {{ expected-statuses = {statuses} }} }}"
            )
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------- report


def _unexplained(case: dict[str, Any], status: int, body: str) -> bool:
    """A 5xx or 422, or a 400 to a schema-valid request that no semantic rule explains."""
    if status >= 500 or status == 422:
        return True
    if status != 400 or case["meta"]["generation"]["mode"] != "positive":
        return False
    rule = semantic_rule(f"{case['method']} {case['path']}")
    return rule is not None and re.search(rule, body) is None


def read_report(report_dir: Path) -> tuple[collections.Counter[int], dict[str, Any]]:
    """Status codes of every request in the NDJSON report, and one example per unexplained
    answer (:func:`_unexplained`)."""
    statuses: collections.Counter[int] = collections.Counter()
    examples: dict[str, Any] = {}
    (report,) = report_dir.glob("*.ndjson")
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for case_id, interaction in (recorder.get("interactions") or {}).items():
            response = interaction.get("response")
            if response is None:
                continue
            status = int(response["status_code"])
            statuses[status] += 1
            content = (response.get("content") or {}).get("$base64", "")
            body = base64.b64decode(content).decode(errors="replace")
            case = recorder["cases"][case_id]["value"]
            if _unexplained(case, status, body):
                request = interaction["request"]
                examples.setdefault(
                    f"{status} {request['method']} {re.sub(r'[?].*', '', request['uri'])}",
                    {"request": request, "body": body},
                )
    return statuses, examples


# --------------------------------------------------------------------------- the test


@pytest.fixture
def fuzz_server(own_database_url: str | None, tmp_path: Path) -> Any:
    server = ServerProcess(tmp_path / "server", own_database_url)
    server.data_dir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.terminate()


def test_schemathesis(fuzz_server: ServerProcess, tmp_path: Path):
    pytest.importorskip("schemathesis")
    with httpx.Client(base_url=fuzz_server.url, timeout=60) as http:
        admin = Api(http, login(http, ADMIN_ID, ADMIN_PASSPHRASE))
        config = tmp_path / "schemathesis.toml"
        write_config(config, seed(admin))
        report_dir = tmp_path / "report"
        command = [
            sys.executable,
            "-c",
            "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
            "--config-file",
            str(config),
            "run",
            f"{fuzz_server.url}/openapi.json",
            "--header",
            f"X-Auth-Token: {admin.token}",
            "--checks",
            "all",
            "--phases",
            PHASES,
            "--seed",
            str(SEED),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "ndjson",
            "--report-dir",
            str(report_dir),
        ]
        run = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-20000:]
        statuses, examples = read_report(report_dir)
        total = sum(statuses.values())
        print(f"schemathesis: {total} requests, statuses {dict(sorted(statuses.items()))}")
        assert total >= MIN_REQUESTS, (total, output[-3000:])
        assert examples == {}, json.dumps(examples, indent=1)[:20000]
        assert statuses[200] > total // 10  # the seeding lets requests reach the handlers

        # nothing crashed behind the scenes, and the run did not lock the admin out
        errors = admin.get("error_log")
        assert errors.status_code == 200, errors.text
        assert errors.json()["body"] == [], errors.json()["body"][:3]
        assert admin.get("user", id=ADMIN_ID).status_code == 200
    assert "Traceback" not in fuzz_server.log_file.read_text()


# --------------------------------------------------------------------------- by hand

# Inputs the generator does not reach (its integers and nesting stay small); each was a 500
# or a wrong 400 before.

HUGE_NUMBER = "9" * 5000
"""More digits than Python converts to an int (``sys.get_int_max_str_digits``: 4300)."""
DEEP_JSON = "[" * 100_000 + "]" * 100_000
"""Nested deeper than the JSON decoder's recursion limit."""


def test_huge_numbers_in_the_query_are_400(admin):
    response = admin.get("audit_log", page=HUGE_NUMBER)
    assert response.status_code == 400, response.text
    assert "'page' has the wrong type" in response.text
    assert admin.get("project", id=HUGE_NUMBER).status_code == 400


def test_deeply_nested_json_is_400(admin, server):
    response = admin.post("project", raw=DEEP_JSON)
    assert response.status_code == 400, response.text
    assert response.text.startswith("Request body is not valid JSON")
    with ws_connect(server.url) as ws:
        ws.send('{"token": ' + DEEP_JSON + "}")
        assert json.loads(ws.recv(timeout=30))["success"] is False
        code, reason = expect_close(ws)
    assert code == 4400 and reason.startswith("json-parser error")


def test_websocket_without_token_is_4401(server):
    for init in ({"target": "cluster", "uuid": str(uuid.uuid4())}, {"token": "", "target": "x"}):
        with ws_connect(server.url) as ws:
            ws.send(json.dumps(init))
            reply = json.loads(ws.recv(timeout=30))
            assert reply == {
                "success": False,
                "error": "Missing token: send it as 'token' in the init message",
            }
            assert expect_close(ws)[0] == 4401


def test_numeric_column_names_in_the_query(admin):
    """``?column_name=2020`` is inferred as an int; string fields take the text (a CSV
    column may be called ``2020``)."""
    response = admin.http.post(
        "/v1.0alpha/dataset/upload",
        data={"name": "numeric columns", "type": "csv"},
        files={"input_file": ("data.csv", b"2020,2021\n1,2\n3,4\n")},
        headers=admin.headers(),
    )
    assert response.status_code == 200, response.text
    dataset = response.json()["uuid"]
    try:
        content = admin.get("dataset/content", uuid=dataset, column_name=2021, number_of_rows=2)
        assert content.status_code == 200, content.text
        assert content.json() == {"data": [[2.0], [4.0]]}
        check = admin.get(
            "dataset/check",
            uuid=dataset,
            reference_uuid=dataset,
            result_column=2020,
            reference_column="2020",
            mode="regression",
        )
        assert check.status_code == 200, check.text
        assert check.json()["mse"] == 0.0
        # ints stay ints: a string where an int belongs is still refused
        wrong = admin.get("dataset/content", uuid=dataset, column_name=2021, row_offset="x")
        assert wrong.status_code == 400 and "'row_offset' has the wrong type" in wrong.text
    finally:
        assert admin.delete("dataset", uuid=dataset).status_code == 200


def test_openapi_bounds_are_the_enforced_ones(http):
    """Integer bounds stay exact ints (FastAPI makes them floats), and the declared file
    sizes are capped by this server's ``dataset_max_bytes``."""
    paths = http.get("/openapi.json").json()["paths"]

    def body(path: str) -> dict[str, Any]:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]

    seed = body("/v1.0alpha/task/train")["properties"]["seed"]["anyOf"][0]
    assert seed["exclusiveMaximum"] == 2**63 and isinstance(seed["exclusiveMaximum"], int)
    size = body("/v1.0alpha/dataset/upload/csv")["properties"]["input_data_size"]
    assert size["maximum"] == ServerSettings.model_fields["dataset_max_bytes"].default
    assert "x-limit-setting" not in json.dumps(paths)


def test_openapi_links_chain_create_get_delete(http):
    """Every link names an operation of the document and a query parameter it takes."""
    operations = {
        operation["operationId"]: operation
        for methods in http.get("/openapi.json").json()["paths"].values()
        for operation in methods.values()
    }
    links = [
        link
        for operation in operations.values()
        for link in operation["responses"]["200"].get("links", {}).values()
    ]
    assert len(links) >= 20
    for link in links:
        target = operations[link["operationId"]]
        names = {f"query.{parameter['name']}" for parameter in target["parameters"]}
        assert set(link["parameters"]) <= names, link
    create = operations["cluster-create_cluster"]["responses"]["200"]["links"]
    assert {"GetCluster", "DeleteCluster"} <= create.keys()


def test_hand_written_schemas_match_the_validation(http):
    """The OpenAPI of the two non-JSON uploads states the limits the server applies."""
    paths = http.get("/openapi.json").json()["paths"]
    (name,) = paths["/v1.0alpha/checkpoint/upload"]["post"]["parameters"]
    assert (name["schema"]["minLength"], name["schema"]["maxLength"]) == (4, 254)
    form = paths["/v1.0alpha/dataset/upload"]["post"]["requestBody"]["content"]
    mnist, csv = form["multipart/form-data"]["schema"]["oneOf"]
    for schema in (mnist, csv):
        assert schema["additionalProperties"] is False
        name = schema["properties"]["name"]
        assert (name["minLength"], name["maxLength"]) == (4, 254)
    assert "label_file" in mnist["required"] and "label_file" not in csv["properties"]

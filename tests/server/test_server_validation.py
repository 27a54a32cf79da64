"""Input assembly and validation: 400 with a text message, never 422."""

from __future__ import annotations

import base64
import re

import pytest
from server_helpers import b64, unique

from hanami.protocol.patterns import MIN_PASSPHRASE_LENGTH, NEW_PASSPHRASE_RE


def test_malformed_json_is_400(admin):
    response = admin.post("project", raw=b'{"id": "abcd", ')
    assert response.status_code == 400
    assert response.text.startswith("Request body is not valid JSON")
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_body_must_be_a_json_object(admin, raw):
    response = admin.post("project", raw=raw)
    assert response.status_code == 400
    assert response.text == "Request body must be a JSON object"


def test_nan_is_not_json(admin):
    assert admin.post("project", raw=b'{"id": NaN}').status_code == 400


def test_unknown_key_is_400(admin):
    response = admin.post("project", {"id": unique("p"), "name": "Some Name", "colour": "red"})
    assert response.status_code == 400
    assert response.text == (
        "Validation failed, because item 'colour' is not in the list of allowed keys"
    )


def test_unknown_query_key_is_400(admin):
    response = admin.get("project/all", colour="red")
    assert response.status_code == 400
    assert "'colour'" in response.text


def test_missing_field_is_400(admin):
    response = admin.post("project", {"id": unique("p")})
    assert response.status_code == 400
    assert response.text == "Validation failed, because variable 'name' is required, but is not set"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "ab", "name": "Some Name"}, "id"),  # too short
        ({"id": "1abc", "name": "Some Name"}, "id"),  # must start with a letter
        ({"id": "a-bc", "name": "Some Name"}, "id"),  # '-' not allowed in ids
        ({"id": "abcd" * 64, "name": "Some Name"}, "id"),  # too long
        ({"id": "abcdef", "name": "Bad!Name"}, "name"),  # '!' not allowed in names
        ({"id": 1234, "name": "Some Name"}, "id"),  # wrong type
    ],
)
def test_bad_fields_are_400(admin, body, field):
    response = admin.post("project", body)
    assert response.status_code == 400
    assert f"variable '{field}'" in response.text


def test_types_are_strict(admin):
    body = {"id": unique("u"), "name": "Some Name", "passphrase": b64("asdfasdf")}
    assert admin.post("user", {**body, "is_admin": "true"}).status_code == 400
    assert admin.post("user", {**body, "is_admin": 1}).status_code == 400
    assert admin.get("audit_log", page="1.0").status_code == 400
    assert admin.get("audit_log", page="first").status_code == 400
    assert admin.get("audit_log", page="-1").status_code == 400


def test_numeric_query_values_become_ints(admin):
    # a page far past the end: the shared server's log grows with every test
    response = admin.get("audit_log", page="100000")
    assert response.status_code == 200
    assert response.json()["body"] == []
    assert admin.get("audit_log", page="x1").status_code == 400


def test_query_keys_are_merged_over_the_body(admin):
    from_query = unique("from_query")
    response = admin.post(
        "project", {"id": unique("from_body"), "name": "Some Name"}, params={"id": from_query}
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == from_query


def test_query_values_are_url_decoded(admin):
    project_id = unique("decoded")
    response = admin.post("project", params={"id": project_id, "name": "With Spaces"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "With Spaces"


def test_token_key_in_the_input_is_ignored(admin):
    response = admin.post("project", {"id": unique("p"), "name": "Some Name", "token": "x"})
    assert response.status_code == 200


def test_get_and_delete_bodies_are_ignored(admin):
    assert admin.request("GET", "project/all", raw=b"{garbage").status_code == 200
    response = admin.request("DELETE", "project", raw=b"{garbage", params={"id": unique("p")})
    assert response.status_code == 404


def test_unknown_route_and_method(admin):
    response = admin.get("no/such/endpoint")
    assert response.status_code == 404
    assert response.text == "No endpoint found for path '/v1.0alpha/no/such/endpoint'"
    response = admin.request("PATCH", "project")
    assert response.status_code == 405
    # one route per method serves the path; the answer lists them all (RFC 9110)
    assert response.headers["Allow"] == "DELETE, GET, POST"
    assert admin.request("DELETE", "dataset/upload/csv").headers["Allow"] == "POST, PUT"


def test_json_error_body_on_request(admin):
    response = admin.request(
        "GET", "project", params={"id": "fail_project"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 404
    assert response.json() == {"error": "Project with id 'fail_project' not found", "status": 404}


MAX_ERROR_BODY = 4096


def test_a_body_over_the_limit_is_refused_before_it_is_read(admin):
    body = b'{"id": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = admin.post("project", raw=body)
    assert response.status_code == 413
    assert response.text == "Request body is larger than 5242880 bytes"

    def chunks():  # no Content-Length: counted while it streams in
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    response = admin.http.post(
        "/v1.0alpha/project", content=chunks(), headers={**admin.headers(), "Accept": "*/*"}
    )
    assert response.status_code == 413
    assert admin.get("project/all").status_code == 200  # the server is fine


def test_many_unknown_keys_get_a_short_answer(admin):
    body = {"id": unique("p"), "name": "Some Name", **{f"key{i}": i for i in range(990)}}
    response = admin.post("project", body)
    assert response.status_code == 400
    lines = response.text.splitlines()
    assert len(lines) == 11 and lines[-1] == "... and 980 more problems"
    assert admin.post("project", {f"k{i}": i for i in range(1001)}).text == (
        "Request body has more than 1000 keys"
    )
    nested = {"k": [{f"k{i}": i for i in range(600)}, {f"k{i}": i for i in range(600)}]}
    assert admin.post("project", nested).status_code == 400


@pytest.mark.parametrize("accept", ["*/*", "application/json"])
def test_error_bodies_stay_short(admin, accept):
    headers = {"Accept": accept}
    huge_names = {("\x01" * 3000) + str(i): 1 for i in range(20)}
    response = admin.post("project", huge_names, headers=headers)
    assert response.status_code == 400 and len(response.content) <= MAX_ERROR_BODY
    response = admin.request("GET", "x" * 12000, headers=headers)
    assert response.status_code == 404 and len(response.content) <= MAX_ERROR_BODY


def test_the_documented_passphrase_pattern_is_the_length_rule():
    """OpenAPI's pattern for a new passphrase matches base64 of >= 8 bytes, nothing shorter."""
    pattern = re.compile(NEW_PASSPHRASE_RE)
    for size in range(20):
        for data in (bytes(size), bytes(range(200, 200 + size))):
            encoded = base64.b64encode(data).decode()
            assert bool(pattern.fullmatch(encoded)) == (size >= MIN_PASSPHRASE_LENGTH), encoded
    assert not pattern.fullmatch("AAAAAAAAAAA")  # not base64: 11 characters

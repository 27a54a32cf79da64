"""The websocket endpoint over the real server: init handshake, token and tenancy checks,
the file-upload protocol (spec 3.3) and its error replies, close codes and reasons."""

from __future__ import annotations

import json
import time
import uuid as uuid_module

import jwt
import pytest
from dataset_helpers import (
    CHUNK,
    expect_close,
    finalize,
    new_member,
    send_chunk,
    start_upload,
    ws_connect,
    ws_init,
)

from hanami.protocol.proto import FileUploadResponse_Message

RANDOM_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def member(admin, http):
    return new_member(admin, http)


@pytest.fixture
def upload(member):
    """A CSV upload of 10 bytes: its creation answer."""
    return start_upload(member.api, "csv", "ws_upload", 10)


def resign(server, token: str, **changes) -> str:
    """The same claims, changed and signed with the server's key (expiry tests)."""
    claims = jwt.decode(
        token, server.token_key, algorithms=["HS256"], options={"verify_exp": False}
    )
    claims.update(changes)
    return jwt.encode(claims, server.token_key, algorithm="HS256")


def refused(server, message: str | bytes, path: str = "/") -> tuple[dict, int, str]:
    with ws_connect(server.url, path) as ws:
        ws.send(message)
        reply = json.loads(ws.recv(timeout=30))
        code, reason = expect_close(ws)
    assert reply["success"] is False
    return reply, code, reason


def init_message(token: str, uuid: str, target: str = "file_upload") -> str:
    return json.dumps({"token": token, "target": target, "uuid": uuid})


def test_upload_protocol_replies_and_bounds(server, member, upload):
    with ws_connect(server.url) as ws:
        reply = ws_init(ws, member.api.token, "file_upload", upload["uuid_input_file"])
        assert reply["success"] is True
        uuid_module.UUID(reply["uuid"])  # a session uuid
        assert set(reply) == {"success", "uuid"}

        answer = send_chunk(ws, 8, b"xyz")  # bytes 8..10: one too many
        assert not answer.success
        assert answer.errorMessage == (
            "Chunk at position 8 with 3 bytes ends at byte 11, beyond the declared size of 10 bytes"
        )
        huge = send_chunk(ws, 2**63, b"x")
        assert not huge.success and "beyond the declared size" in huge.errorMessage

        ws.send("not protobuf")  # a text frame
        invalid = FileUploadResponse_Message()
        invalid.ParseFromString(ws.recv(timeout=30))
        assert (invalid.success, invalid.errorMessage) == (False, "Got invalid FileUpload-Message")
        ws.send(b"\xff\xff\xff")
        invalid.ParseFromString(ws.recv(timeout=30))
        assert invalid.errorMessage == "Got invalid FileUpload-Message"

        assert send_chunk(ws, 5, b",2\n\n\n").success  # out of order is fine
        assert member.api.get("dataset/progress", uuid=upload["uuid"]).json()["complete"] is False
        assert send_chunk(ws, 0, b"a,b\n1").success
        assert send_chunk(ws, 0, b"a").success  # re-sent chunks are fine too
    assert member.api.get("dataset/progress", uuid=upload["uuid"]).json()["complete"] is True
    assert finalize(member.api, "csv", upload).status_code == 200
    content = member.api.get(
        "dataset/content", uuid=upload["uuid"], column_name="b", row_offset=0, number_of_rows=1
    )
    assert content.json() == {"data": [[2.0]]}


def test_v1_path_and_api_token(server, member, upload):
    created = member.api.post("api_token", {"name": "uploader"})
    assert created.status_code == 200, created.text
    with ws_connect(server.url, "/v1.0alpha/ws") as ws:
        reply = ws_init(ws, created.json()["token"], "file_upload", upload["uuid_input_file"])
        assert reply["success"] is True
        assert send_chunk(ws, 0, b"a,b\n1,2\n3,").success


def test_one_socket_per_tempfile(server, member, upload):
    with ws_connect(server.url) as first:
        assert ws_init(first, member.api.token, "file_upload", upload["uuid_input_file"])["success"]
        message = init_message(member.api.token, upload["uuid_input_file"])
        reply, code, reason = refused(server, message)
        assert code == 4409
        assert reason == reply["error"]
        assert "is already attached to another websocket" in reason
    # Detached when the first socket closes.
    with ws_connect(server.url) as again:
        assert ws_init(again, member.api.token, "file_upload", upload["uuid_input_file"])["success"]


def test_forged_and_expired_tokens_close_4401(server, member, upload):
    tempfile = upload["uuid_input_file"]
    forged = jwt.encode(
        jwt.decode(member.api.token, options={"verify_signature": False}),
        "another-key-" + "x" * 40,
        algorithm="HS256",
    )
    reply, code, reason = refused(server, init_message(forged, tempfile))
    assert code == 4401
    assert (
        reason
        == reply["error"]
        == ("Failed to validate JWT-Token: token is invalid (Signature verification failed)")
    )

    expired = resign(server, member.api.token, exp=int(time.time()) - 5)
    reply, code, reason = refused(server, init_message(expired, tempfile))
    assert (code, reason) == (4401, "Failed to validate JWT-Token: token has expired")

    reply, code, _ = refused(server, init_message("hnm_not_a_real_token", tempfile))
    assert (code, reply["error"]) == (4401, "Invalid API token")


def test_token_expiry_is_enforced_on_open_sessions(server, member, upload):
    short = resign(server, member.api.token, exp=int(time.time()) + 2)
    with ws_connect(server.url) as ws:
        assert ws_init(ws, short, "file_upload", upload["uuid_input_file"])["success"] is True
        assert send_chunk(ws, 0, b"a").success
        started = time.monotonic()
        code, reason = expect_close(ws)  # no message needed: the server closes by itself
    assert (code, reason) == (4401, "Token has expired")
    assert time.monotonic() - started < 10


def test_init_errors_close_with_code_and_reason(server, member, upload, admin, http):
    token = member.api.token
    reply, code, reason = refused(server, "{not json")
    assert code == 4400 and reply["error"].startswith("json-parser error:")

    reply, code, _ = refused(server, "[1, 2]")
    assert code == 4400 and "must be a JSON object" in reply["error"]

    message = json.dumps({"token": token, "target": "brain", "uuid": RANDOM_UUID})
    reply, code, reason = refused(server, message)
    assert code == 4400 and "target" in reason

    reply, code, reason = refused(server, init_message(token, "not-a-uuid"))
    assert code == 4400 and "uuid" in reason

    reply, code, reason = refused(server, json.dumps({"token": token, "target": "file_upload"}))
    assert code == 4400 and "'uuid' is required" in reason

    reply, code, reason = refused(server, init_message(token, RANDOM_UUID))
    assert (code, reason) == (4404, f"Tempfile with UUID '{RANDOM_UUID}' not found")

    # Another user's tempfile, even in the same project, and the dataset uuid itself.
    colleague = new_member(admin, http, member.project_id)
    _, code, _ = refused(server, init_message(colleague.api.token, upload["uuid_input_file"]))
    assert code == 4404
    _, code, _ = refused(server, init_message(token, upload["uuid"]))
    assert code == 4404

    reply, code, reason = refused(server, init_message(token, RANDOM_UUID, "cluster"))
    assert code in (4404, 4503)  # no such cluster, or no executor on this server

    # Binary init frames work like text ones (the server does not care about the type).
    with ws_connect(server.url) as ws:
        ws.send(init_message(token, upload["uuid_input_file"]).encode())
        assert json.loads(ws.recv(timeout=30))["success"] is True


def test_unknown_websocket_path_is_closed(server):
    with ws_connect(server.url, "/somewhere/else") as ws:
        code, reason = expect_close(ws)
    assert code == 4404 and "/somewhere/else" in reason


def test_upload_after_dataset_delete(server, member, upload):
    with ws_connect(server.url) as ws:
        assert ws_init(ws, member.api.token, "file_upload", upload["uuid_input_file"])["success"]
        assert send_chunk(ws, 0, b"a,b").success
        assert member.api.delete("dataset", uuid=upload["uuid"]).status_code == 200
        answer = send_chunk(ws, 3, b"\n1")
        assert not answer.success and "no longer exists" in answer.errorMessage
        code, reason = expect_close(ws)
    assert code == 4404 and upload["uuid_input_file"] in reason


def test_many_chunks_stay_in_step(server, member):
    size = 2 * CHUNK + 17
    created = start_upload(member.api, "csv", "chunked_csv", size)
    body = ("x\n" + "1\n" * size)[:size]
    body = body[:-1] + "\n"
    with ws_connect(server.url) as ws:
        assert ws_init(ws, member.api.token, "file_upload", created["uuid_input_file"])["success"]
        for position in range(0, size, CHUNK):
            assert send_chunk(ws, position, body[position : position + CHUNK].encode()).success
    assert finalize(member.api, "csv", created).status_code == 200
    info = member.api.get("dataset", uuid=created["uuid"]).json()
    assert info["number_of_rows"] == (size - 2) // 2

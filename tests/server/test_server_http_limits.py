"""Limits on the request head (16 KiB, 100 headers by default): 431, then the server goes on."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest


def _exchange(url: str, *requests: bytes) -> list[bytes]:
    """Send ``requests`` on one connection, one after the other; the status line of each
    answer (stops at the first answer that closes the connection)."""
    parts = urlsplit(url)
    lines = []
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            status = reader.readline().strip()
            headers = {}
            while (line := reader.readline().strip()) != b"":
                name, _, value = line.partition(b":")
                headers[name.lower()] = value.strip()
            reader.read(int(headers[b"content-length"]))
            lines.append(status)
            if headers.get(b"connection") == b"close":
                break
    return lines


def _get(path: str, *headers: bytes) -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"".join(headers) + b"\r\n"


def test_a_large_header_is_431(server):
    ok = _get("/healthz", b"X-Auth-Token: " + b"a" * 15_000 + b"\r\n")
    too_large = _get("/healthz", b"X-Auth-Token: " + b"a" * 17_000 + b"\r\n")
    statuses = _exchange(server.url, ok, ok, ok, too_large, ok)
    assert statuses == [b"HTTP/1.1 200 OK"] * 3 + [b"HTTP/1.1 431 Request Header Fields Too Large"]
    assert _exchange(server.url, _get("/" + "a" * 20_000))[0].startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize(("count", "status"), [(98, b"200"), (101, b"431")])
def test_too_many_headers_are_431(server, count, status):
    headers = [b"X-Header-%d: v\r\n" % i for i in range(count)]
    assert _exchange(server.url, _get("/healthz", *headers))[0].split()[1] == status


def test_a_body_is_not_part_of_the_head(server, admin):
    body = json.dumps({"id": "abcd", "name": "Some Name", "x": "y" * 50_000}).encode()
    request = (
        b"POST /v1.0alpha/project HTTP/1.1\r\nHost: x\r\nX-Auth-Token: "
        + admin.token.encode()
        + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    assert _exchange(server.url, request, request) == [b"HTTP/1.1 400 Bad Request"] * 2

"""Many concurrent clients on GET endpoints: every request answers, none waits for a pool.

Regression test: a sync endpoint used to keep its pooled database connection while FastAPI
waited for a worker thread to validate its result, so with more concurrent requests than
pooled connections every worker thread ended up waiting for a connection held by a request
that waited for a worker thread; requests hung until the pool gave up after 30 s (500).
"""

from __future__ import annotations

import asyncio
import time

CLIENTS = 100
REQUESTS_PER_CLIENT = 4
PATHS = ("cluster/all", "project/all", "user/all", "dataset/all", "checkpoint/all", "host/all")


async def _hammer(url: str, token: str) -> tuple[list[int], float]:
    host, port = url.removeprefix("http://").split(":")
    statuses: list[int] = []
    slowest = 0.0

    async def client(n: int) -> None:
        nonlocal slowest
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in range(REQUESTS_PER_CLIENT):
                path = PATHS[(n + i) % len(PATHS)]
                started = time.monotonic()
                writer.write(
                    f"GET /v1.0alpha/{path} HTTP/1.1\r\nHost: {host}\r\n"
                    f"X-Auth-Token: {token}\r\n\r\n".encode()
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                statuses.append(int(head.split(b" ", 2)[1]))
                slowest = max(slowest, time.monotonic() - started)
        finally:
            writer.close()

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return statuses, slowest


def test_concurrent_gets_never_wait_for_the_connection_pool(server, admin):
    statuses, slowest = asyncio.run(_hammer(server.url, admin.token or ""))
    assert statuses == [200] * (CLIENTS * REQUESTS_PER_CLIENT)
    assert slowest < 20, f"a request took {slowest:.1f} s (pool wait?)"

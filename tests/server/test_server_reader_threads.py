"""GETs on FastAPI's path with fewer pooled connections than requests and few threads.

FastAPI enters a dependency in one worker thread and runs a sync endpoint in another. A
reader that checked its connection out in the dependency held it while the request waited
for a thread, so with every thread waiting for the pool and the pool's connections held by
requests waiting for a thread, nothing moved until the pool's 30 s timeout (PostgreSQL's
read pool of 5 + 10 against anyio's 40 threads, ``test_server_load.py``). Here the same
shape in one process: 1 + 10 pooled connections, 2 threads, 24 requests at once, each with
a token of its own so that none is answered from the principal cache.
"""

from __future__ import annotations

import json
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import pytest
from server_helpers import b64

from hanami.server import ServerSettings, create_app
from hanami.server.db import session as db_session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REQUESTS = 24
THREADS = 2


def _limit_threads() -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS


def test_readers_hold_no_connection_while_their_request_waits_for_a_thread(tmp_path, monkeypatch):
    for key in ("HANAMI_ADMIN_USER_ID", "HANAMI_ADMIN_PASSPHRASE", "HANAMI_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(db_session, "SQLITE_POOL_SIZE", 1)  # and SQLAlchemy's 10 overflow
    settings = ServerSettings(data_dir=tmp_path, token_key="k" * 32, admin_user_id="root",
                              admin_passphrase="root passphrase")  # fmt: skip
    login = json.dumps({"id": "root", "passphrase": b64("root passphrase")})
    with TestClient(create_app(settings)) as client:
        tokens = [client.post("/v1.0alpha/token", content=login).json()["token"]
                  for _ in range(REQUESTS)]  # fmt: skip
        client.portal.call(_limit_threads)  # type: ignore[union-attr]
        paths = ("cluster/all", "dataset/all", "user/all", "checkpoint/all")

        def get(n: int) -> int:
            path = f"/v1.0alpha/{paths[n % len(paths)]}"
            return client.get(path, headers={"X-Auth-Token": tokens[n]}).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(REQUESTS) as pool:
            statuses = list(pool.map(get, range(REQUESTS)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * REQUESTS
    assert elapsed < 20, f"{elapsed:.1f} s: requests waited for the pool's 30 s timeout"

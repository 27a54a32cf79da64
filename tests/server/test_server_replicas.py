"""Two API replicas (real server processes) on one PostgreSQL database and one data folder:
tasks run exactly once on the replica holding their cluster, a killed replica's clusters and
task are taken over within the lease, the login limit and the metrics hold per replica."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_helpers import (
    ServerProcess,
    create_cluster,
    get_task,
    train,
    upload_mnist,
    wait_task,
)
from postgres import new_database
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, Api, b64, login

from hanami.server.db import Database
from hanami.server.db.models import Cluster, Replica, Task

LEASE_S = 3.0
ROWS = 200
TAKEOVER_SLACK_S = 10.0
"""Beyond the lease: the adopter's tick, loading the cluster, and a busy test machine."""


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    database_url = new_database(postgres_url)
    env = {
        "HANAMI_TASK_LEASE_S": str(LEASE_S),
        "HANAMI_CLUSTER_AUTOSAVE_INTERVAL": "1",
        "HANAMI_LOGIN_MAX_FAILURES": "3",
    }
    pair = tuple(
        ServerProcess(tmp_path, database_url, env_extra={**env, "HANAMI_REPLICA_ID": name})
        for name in ("a", "b")
    )
    try:
        for process in pair:
            process.start()
        yield pair  # type: ignore[misc]
    finally:
        for process in pair:
            if process.proc is not None:
                process.terminate()


def _api(process: ServerProcess, token: str | None = None) -> Api:
    http = httpx.Client(base_url=process.url, timeout=60)
    return Api(http, token or login(http, ADMIN_ID, ADMIN_PASSPHRASE))


def _row(process: ServerProcess, model: type, key: str) -> object:
    database = Database(process.target.database_url)
    try:
        with database.session() as session:
            return session.get(model, key)
    finally:
        database.dispose()


def test_a_task_runs_once_on_the_holder_and_both_replicas_serve(replicas):
    a, b = replicas
    api_a = _api(a)
    api_b = _api(b, api_a.token)  # the same token key: a token works on both
    digits = upload_mnist(api_a, a.target, "replica_digits", ROWS)
    cluster = create_cluster(api_a, "replica_cluster")
    assert _row(a, Cluster, cluster).holder == "a"

    # B shows the cluster as of its last autosave and queues a task that A runs
    shown = api_b.get("cluster", uuid=cluster)
    assert shown.status_code == 200 and list(shown.json()["inputs"]) == ["picture_hex"], shown.text
    task = train(api_b, cluster, digits, epochs=3)["uuid"]
    done = wait_task(api_b, cluster, task)
    assert done["state"] == "finished", done
    assert done["current_cycle"] == 3 * ROWS
    assert _row(a, Task, task).claimed_by == "a"
    log = a.log_file.read_text()
    assert log.count(f"task {task} (train) on cluster {cluster}: finished") == 1

    # a checkpoint save through B is answered once A has written it
    saved = api_b.post("cluster/save", {"name": "replica_ckpt", "cluster_uuid": cluster})
    assert saved.status_code == 200 and saved.json()["state"] == "finished", saved.text
    assert (a.data_dir / "checkpoints" / f"{saved.json()['uuid']}.ckpt").is_file()

    # direct I/O needs the holder: B names it
    refused = api_b.put("cluster/set_mode", {"uuid": cluster, "new_state": "DIRECT"})
    assert refused.status_code == 409 and "replica 'a'" in refused.text, refused.text

    # metrics are per replica: the cluster's figures come from its holder only
    series = f'hanami_cluster_samples_trained_total{{cluster="{cluster}"}}'
    assert series in httpx.get(f"{a.url}/metrics").text
    assert series not in httpx.get(f"{b.url}/metrics").text

    # the login limit counts the failures made on both replicas
    wrong = {"id": ADMIN_ID, "passphrase": b64("wrong")}
    assert [api.post("token", wrong).status_code for api in (api_a, api_b, api_a)] == [401] * 3
    right = {"id": ADMIN_ID, "passphrase": b64(ADMIN_PASSPHRASE)}
    assert api_b.post("token", right).status_code == 429


def test_the_other_replica_takes_over_a_killed_replicas_task(replicas):
    a, b = replicas
    api_a = _api(a)
    api_b = _api(b, api_a.token)
    digits = upload_mnist(api_a, a.target, "takeover_digits", ROWS)
    cluster = create_cluster(api_a, "takeover_cluster")
    epochs = 400
    task = train(api_a, cluster, digits, epochs=epochs)["uuid"]
    wait_task(api_b, cluster, task, {"active"}, min_cycle=2 * ROWS)
    a.kill()
    killed = time.monotonic()
    last_beat = _row(b, Replica, "a").heartbeat_at  # A renews every third of the lease

    deadline = killed + LEASE_S + TAKEOVER_SLACK_S
    while _row(b, Task, task).claimed_by != "b":
        assert time.monotonic() < deadline, get_task(api_b, cluster, task)
        assert api_b.get("cluster", uuid=cluster).status_code == 200  # B keeps answering
        time.sleep(0.1)
    took_over = time.monotonic() - killed
    print(f"takeover {took_over:.1f} s after kill -9 (lease {LEASE_S} s)")
    assert time.time() - last_beat >= LEASE_S  # not before A's last heartbeat ran out
    assert _row(b, Cluster, cluster).holder == "b"

    done = wait_task(api_b, cluster, task)
    assert done["state"] == "finished", done
    assert done["current_cycle"] == epochs * ROWS

    # A comes back (same id): it answers, and B keeps the cluster it adopted
    a.start()
    assert _api(a, api_a.token).get("cluster", uuid=cluster).status_code == 200
    time.sleep(LEASE_S)
    assert _row(b, Cluster, cluster).holder == "b"
    again = train(_api(a, api_a.token), cluster, digits, "after_restart")["uuid"]
    assert wait_task(api_b, cluster, again)["state"] == "finished"
    assert _row(b, Task, again).claimed_by == "b"

"""Clusters and queues survive restarts: SIGTERM (graceful) and SIGKILL (crash).

Each backend gets a server process of its own (a fresh data folder and, for PostgreSQL, a
fresh database in the session's PostgreSQL cluster) that is stopped and started again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from cluster_helpers import (
    ServerProcess,
    create_cluster,
    get_task,
    request,
    train,
    upload_mnist,
    wait_task,
)
from server_helpers import ADMIN_ID, ADMIN_PASSPHRASE, Api, login

from hanami.datasets import open_dataset

ROWS = 200


@pytest.fixture
def process(own_database_url, tmp_path) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path, own_database_url, env_extra={"HANAMI_CLUSTER_AUTOSAVE_INTERVAL": "1"}
    )
    try:
        yield server
    finally:
        server.kill()


class Session:
    def __init__(self, server: ServerProcess) -> None:
        server.start()
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.api = Api(self.http, login(self.http, ADMIN_ID, ADMIN_PASSPHRASE))

    def close(self) -> None:
        self.http.close()


def _outputs(api: Api, server: ServerProcess, cluster: str, dataset: str) -> np.ndarray:
    task = request(api, cluster, dataset, f"req_{uuid.uuid4().hex[:6]}")
    assert wait_task(api, cluster, task["uuid"])["state"] == "finished"
    return np.asarray(open_dataset(server.data_dir / "datasets" / task["uuid"]).column("output"))


def test_clusters_and_queues_survive_restarts(process):
    # ---- first life: a trained cluster, then a graceful stop while idle
    s = Session(process)
    api = s.api
    dataset = upload_mnist(api, process.target, "restart_digits", ROWS)
    cluster = create_cluster(api, "restart_cluster")
    assert wait_task(api, cluster, train(api, cluster, dataset)["uuid"])["state"] == "finished"
    before = _outputs(api, process, cluster, dataset)
    s.close()
    process.terminate()

    # ---- second life: the cluster is back, exactly; then SIGTERM during a long task
    s = Session(process)
    api = s.api
    shown = api.get("cluster", uuid=cluster)
    assert shown.status_code == 200, shown.text
    assert shown.json()["outputs"] == {"label_hex": 10}
    assert shown.json()["inputs"] == {"picture_hex": 64}
    np.testing.assert_allclose(_outputs(api, process, cluster, dataset), before, rtol=1e-5)

    long = train(api, cluster, dataset, "long_train", epochs=100_000, shuffle=True)
    waiting = request(api, cluster, dataset, "waiting_request")
    progressed = wait_task(api, cluster, long["uuid"], {"active"}, min_cycle=ROWS)
    s.close()
    started = time.monotonic()
    process.terminate()
    assert time.monotonic() - started < 30  # suspended between chunks, not run to the end

    # ---- third life: the long task resumes where it stopped, the queued one waits for it
    s = Session(process)
    api = s.api
    resumed = wait_task(api, cluster, long["uuid"], {"active"}, min_cycle=1)
    assert resumed["current_cycle"] >= progressed["current_cycle"]
    assert resumed["error"] is None
    assert get_task(api, cluster, waiting["uuid"])["state"] == "queued"
    time.sleep(1.5)  # long enough for an autosave while the task runs
    progressed = wait_task(api, cluster, long["uuid"], {"active"})
    s.close()
    process.kill()  # crash

    # ---- fourth life: the interrupted task is queued again at its autosave's cycle and resumes
    s = Session(process)
    api = s.api
    resumed = wait_task(api, cluster, long["uuid"], {"active"}, min_cycle=1)
    assert resumed["error"] is None, resumed
    assert get_task(api, cluster, waiting["uuid"])["state"] == "queued"
    assert api.delete("task", uuid=long["uuid"], cluster_uuid=cluster).status_code == 200
    stopped = wait_task(api, cluster, long["uuid"])
    assert stopped["state"] == "aborted", stopped
    done = wait_task(api, cluster, waiting["uuid"])
    assert done["state"] == "finished", done
    assert api.get("dataset", uuid=waiting["uuid"]).status_code == 200
    shown = api.get("cluster", uuid=cluster).json()
    assert shown["outputs"] == {"label_hex": 10}
    # every cycle learned exactly once over a graceful stop and a crash: the first train task
    # (ROWS rows), then the long one up to where it was cancelled
    assert shown["metrics"]["samples_trained"] == ROWS + stopped["current_cycle"]
    tasks = api.get("task/all", cluster_uuid=cluster).json()["body"]
    assert [row[1] for row in tasks] == ["finished"] * 3 + ["aborted", "finished"]

    # ---- fifth life: DIRECT mode is kept over a crash, and tasks wait until TASK again
    switched = api.put("cluster/set_mode", {"uuid": cluster, "new_state": "DIRECT"})
    assert switched.status_code == 200, switched.text
    s.close()
    process.kill()
    s = Session(process)
    api = s.api
    assert api.get("cluster", uuid=cluster).json()["mode"] == "DIRECT"
    held = request(api, cluster, dataset, "held_request")
    time.sleep(1.0)
    assert get_task(api, cluster, held["uuid"])["state"] == "queued"
    switched = api.put("cluster/set_mode", {"uuid": cluster, "new_state": "TASK"})
    assert switched.status_code == 200, switched.text
    assert wait_task(api, cluster, held["uuid"])["state"] == "finished"
    s.close()

"""``HANAMI_CLUSTER_MAX_BYTES``: a cluster served stops growing at the limit and keeps
learning; its details and the Prometheus gauges say so."""

from __future__ import annotations

import httpx
from cluster_helpers import create_cluster, train, wait_task
from dataset_helpers import make_mnist
from server_helpers import ADMIN_ID, ADMIN_NAME, ADMIN_PASSPHRASE, TOKEN_KEY, Api, login
from server_process import server_env, serving

LIMIT = 9_000_000
"""Above what the first row's 784 inputs take (8.1 MB), below what 200 random images grow
to without a limit (14.5 MB: tests/core/test_capacity.py has the engine's side)."""


def test_a_cluster_stops_growing_at_the_servers_limit(tmp_path):
    limit = {"HANAMI_CLUSTER_MAX_BYTES": str(LIMIT)}
    env = server_env(admin_id=ADMIN_ID, admin_name=ADMIN_NAME, admin_passphrase=ADMIN_PASSPHRASE,
                     token_key=TOKEN_KEY, extra=limit)  # fmt: skip
    mnist = make_mnist(200)
    with serving(tmp_path, env) as url, httpx.Client(base_url=url, timeout=60) as http:
        api = Api(http, login(http, ADMIN_ID, ADMIN_PASSPHRASE))
        uploaded = http.post(
            "/v1.0alpha/dataset/upload",
            data={"name": "random digits", "type": "mnist"},
            files={"input_file": ("i.idx", mnist.image_file),
                   "label_file": ("l.idx", mnist.label_file)},
            headers=api.headers(),
        )  # fmt: skip
        assert uploaded.status_code == 200, uploaded.text
        cluster = create_cluster(api, "limited")
        task = train(api, cluster, uploaded.json()["uuid"])
        assert wait_task(api, cluster, task["uuid"])["state"] == "finished"

        metrics = api.get("cluster", uuid=cluster).json()["metrics"]
        assert metrics["samples_trained"] == 200
        assert metrics["max_bytes"] == LIMIT and metrics["at_memory_limit"] == 1
        assert metrics["bytes"] <= LIMIT
        assert metrics["synapses"] > 0
        gauges = http.get("/metrics", headers=api.headers()).text
        assert f'hanami_cluster_at_memory_limit{{cluster="{cluster}"' in gauges

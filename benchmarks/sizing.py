"""The measured figures behind the sizing model of docs/deploy.md (issue 11).

(a) ``cluster``: the OpenHanami MNIST template (default profile) trained one epoch on the
    60,000 MNIST training rows with the core :class:`~hanami.core.Cluster`, in this process:
    synapses, bytes of its state, bytes per synapse, bytes of its checkpoint, samples per
    second on one core (compilation done before); and the resident memory of a fresh Python
    process that imports the engine and compiles its kernels (what a Ray actor holds besides
    its cluster and Ray's own worker code). From these: clusters per node of ``--node-gib``
    GiB, by cluster state alone and with one such process per cluster (one actor each).
(b) ``tenant``: what one tenant's workflow leaves behind, on a fresh server with a private
    PostgreSQL (``tests/server/postgres.py``): upload the MNIST training set, create a
    cluster, one train task, save a checkpoint. Rows and bytes per table (``pg_column_size``
    of the rows: no index or page overhead) and bytes per folder of the data root, and both
    times 10,000 tenants.

Not part of ``make bench``; as a script it prints JSON::

    cd benchmarks && PYTHONPATH=$PWD/../src python sizing.py ../../shared/data/mnist
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, inspect, text

from hanami.cli.bench import DEFAULT_DATA, load_mnist
from hanami.core import Cluster
from hanami.core.templates import mnist_template
from server import _api, _binding, _cluster, _upload, running_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "server"))
from postgres import private_postgres

TENANTS = 10_000


ENGINE_PROCESS = """
import numpy as np
from pathlib import Path
from hanami.core import Cluster
from hanami.core.templates import mnist_template
x = np.random.default_rng(0).random((200, 784), dtype=np.float32)
Cluster(mnist_template()).train({"picture_hex": x}, {"label_hex": np.eye(10)[np.arange(200) % 10]})
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:")))
"""


def _engine_process_rss() -> int:
    """Resident bytes of a fresh process with the engine imported and compiled."""
    run = subprocess.run([sys.executable, "-c", ENGINE_PROCESS], check=True,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    return int(run.stdout.split()[-1])


def cluster_figures(data: dict[str, np.ndarray], node_gib: float) -> dict[str, Any]:
    """(a): one epoch with the core engine."""
    x = data["train_x"].astype(np.float32)
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    warm = Cluster(mnist_template(), seed=1)  # compiles the kernels
    warm.train({"picture_hex": x[:200]}, {"label_hex": y[:200]})
    cluster = Cluster(mnist_template(), seed=0)
    started = time.perf_counter()
    cluster.train({"picture_hex": x}, {"label_hex": y})
    seconds = time.perf_counter() - started
    metrics = cluster.metrics()
    del warm
    process = _engine_process_rss()
    node = node_gib * 2**30
    return {
        "rows": len(x),
        "synapses": metrics["synapses"],
        "synapse_slots": metrics["synapse_slots"],
        "state_bytes": metrics["bytes"],
        "bytes_per_synapse": round(metrics["bytes"] / metrics["synapses"], 1),
        "bytes_per_synapse_slot": round(metrics["bytes"] / metrics["synapse_slots"], 1),
        "checkpoint_bytes": len(cluster.to_bytes()),
        "epoch_s": round(seconds, 2),
        "samples_per_s_one_core": round(len(x) / seconds),
        "engine_process_rss_bytes": process,
        f"clusters_per_{node_gib:g}_gib_node_by_state": int(node // metrics["bytes"]),
        f"clusters_per_{node_gib:g}_gib_node_one_process_each": int(
            node // (metrics["bytes"] + process)
        ),
    }


def _wait(http: httpx.Client, cluster: str, task: str) -> None:
    while True:
        state = _api(http, "GET", "task", uuid=task, cluster_uuid=cluster)["state"]
        if state == "finished":
            return
        if state in ("failed", "aborted"):
            raise RuntimeError(f"task {task}: {state}")
        time.sleep(0.1)


def tenant_figures(mnist: Path) -> dict[str, Any]:
    """(b): one tenant's workflow on a fresh server and database."""
    with private_postgres() as url, tempfile.TemporaryDirectory(prefix="hanami-sizing-") as root:
        folder = Path(root)
        engine = create_engine(url)
        with running_server(folder, database_url=url) as server:
            before = _tables(engine)
            files_before = _folders(folder)
            with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as http:
                dataset = _upload(http, mnist, "tenant_train", "train")
                cluster = _cluster(http, "tenant_cluster")
                body = {"name": "tenant_epoch", "cluster_uuid": cluster,
                        "inputs": [_binding("picture_hex", dataset, "picture")],
                        "outputs": [_binding("label_hex", dataset, "label")]}  # fmt: skip
                _wait(http, cluster, _api(http, "POST", "task/train", body)["uuid"])
                saved = _api(http, "POST", "cluster/save",
                             {"cluster_uuid": cluster, "name": "tenant_checkpoint"})  # fmt: skip
                _wait(http, cluster, saved["uuid"])
                time.sleep(1.0)  # the checkpoint's row and file are written with the task
            after = _tables(engine)
            files_after = _folders(folder)
        engine.dispose()
    tables = {
        name: {"rows": rows - before.get(name, (0, 0))[0],
               "bytes": size - before.get(name, (0, 0))[1]}
        for name, (rows, size) in after.items()
        if (rows, size) != before.get(name, (0, 0))
    }  # fmt: skip
    files = {
        name: size - files_before.get(name, 0)
        for name, size in files_after.items()
        if size != files_before.get(name, 0)
    }
    database_bytes = sum(table["bytes"] for table in tables.values())
    storage_bytes = sum(files.values())
    return {
        "workflow": "upload MNIST train (60,000 rows), create cluster, 1 train task, 1 checkpoint",
        "database_rows": tables,
        "database_row_bytes": database_bytes,
        "data_root_bytes": files,
        "storage_bytes": storage_bytes,
        f"database_row_bytes_x{TENANTS}": database_bytes * TENANTS,
        f"storage_bytes_x{TENANTS}": storage_bytes * TENANTS,
    }


def _tables(engine: Any) -> dict[str, tuple[int, int]]:
    """Rows and row bytes of every table."""
    result = {}
    with engine.connect() as db:
        for name in inspect(engine).get_table_names():
            rows, size = db.execute(
                text(f'SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM "{name}" t')
            ).one()
            result[name] = (int(rows), int(size))
    return result


def _folders(root: Path) -> dict[str, int]:
    """Bytes of the files under each top-level folder of the data root (the server's log
    and the SQLite file excluded)."""
    sizes: dict[str, int] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.parent != root:
            top = path.relative_to(root).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def main(mnist: Path, node_gib: float) -> dict[str, Any]:
    data = load_mnist(mnist)
    return {"cluster": cluster_figures(data, node_gib), "tenant": tenant_figures(mnist)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--node-gib", type=float, default=64.0, help="memory of one node")
    args = parser.parse_args()
    print(json.dumps(main(args.mnist, args.node_gib), indent=2))

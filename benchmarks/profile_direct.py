"""A flame graph of the server answering the ping-pong direct I/O of ``benchmarks/server.py``.

Starts the server (SQLite), makes a cluster in DIRECT mode, warms it up with
``--warm-up`` steps, then sends pre-encoded OpenHanami train steps (one MNIST sample each,
INPUT then EXPECTED with ``isLast``) from one client while py-spy records the server::

    python benchmarks/profile_direct.py OUTPUT.svg|OUTPUT.txt [MNIST folder] [--seconds 20]

Prints the steps per second and the server CPU per step of the recorded run (py-spy's
sampling costs the server CPU of its own: compare flame graphs with flame graphs).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from pathlib import Path

import httpx
import numpy as np

from get_load import process_cpu
from hanami.cli.bench import load_mnist
from profile_get import arguments, record
from server import _api, _cluster, _compatible_raw, running_server


def profile(
    output: Path, data_dir: Path, seconds: float, rate: int, warm_up: int
) -> dict[str, float]:
    data = load_mnist(data_dir)
    x = np.ascontiguousarray(data["train_x"])
    y = np.eye(10, dtype=np.float32)[data["train_y"]]
    with (
        tempfile.TemporaryDirectory(prefix="hanami-profile-") as folder,
        running_server(Path(folder)) as server,
        httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as http,
    ):
        cluster = _cluster(http, "profile_direct")
        _api(http, "PUT", "cluster/set_mode", {"uuid": cluster, "new_state": "DIRECT"})
        asyncio.run(_compatible_raw(server, cluster, x, y, warm_up))
        result: dict[str, float] = {}

        def load() -> None:
            cpu = process_cpu(server.proc.pid)
            steps_per_s = asyncio.run(
                _compatible_raw(server, cluster, x, y, 0, seconds=seconds + 2)
            )
            steps = steps_per_s * (seconds + 2) + 50  # its warm-up included
            result["steps_per_s"] = round(steps_per_s)
            result["server_cpu_us_per_step"] = round(
                (process_cpu(server.proc.pid) - cpu) / steps * 1e6, 1
            )

        loader = threading.Thread(target=load)
        loader.start()
        record(server.proc.pid, output, seconds, rate)
        loader.join()
    return result


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--warm-up", type=int, default=5000, help="steps before recording")
    args = parser.parse_args()
    print(json.dumps(profile(args.output, args.data, args.seconds, args.rate, args.warm_up)))

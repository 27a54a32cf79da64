"""The GET mix on two source trees side by side, in alternating rounds.

On a shared machine one run of ``server.py --get`` after another compares two loads as much
as two trees. This starts one server per tree (``PYTHONPATH`` = its ``src``) on the fixtures
of ``server.py --get``, then alternates closed-loop rounds of the GET mix (20 clients,
``get_load``'s client) between them, each tree first in every other round (with the same
tree on both sides, the second server of a round measured a few per cent cheaper). Per tree:
the median over the rounds of the server's CPU per GET (``/proc/<pid>/stat``), and the
median of its ratios to the first tree's in the same round::

    python benchmarks/get_ab.py BEFORE_SRC AFTER_SRC [MNIST folder] [--rounds 8] [--seconds 3]
        [--postgres]

``--postgres``: each server on a database of its own in the test suite's private PostgreSQL
server (``tests/server/postgres.py``) instead of SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from get_load import CLOSED_CLIENTS, Target, load
from hanami.cli.bench import DEFAULT_DATA
from loadgen import new_database, private_postgres
from server import bench_paths, running_server, seed_get_fixtures


def compare(
    trees: dict[str, Path], data_dir: Path, rounds: int, seconds: float,
    database: Callable[[], str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``database()``: the URL of a fresh database for the next server (default: SQLite)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with contextlib.ExitStack() as stack:
        targets: dict[str, tuple[Target, list[str]]] = {}
        for name, src in trees.items():
            server = stack.enter_context(running_server(
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hanami-ab-"))),
                extra_env={"PYTHONPATH": str(src.resolve())}, database_url=database and database(),
            ))  # fmt: skip
            seed_get_fixtures(server, data_dir)
            port = int(server.url.rsplit(":", 1)[1])
            targets[name] = (Target(port, server.proc.pid, server.token), bench_paths(server))
        for target, paths in targets.values():  # fill the caches before the first round
            load(target, paths, CLOSED_CLIENTS, seconds)
        for n in range(rounds):  # each tree goes first in every other round
            for name in list(targets)[:: 1 if n % 2 == 0 else -1]:
                target, paths = targets[name]
                runs[name].append(load(target, paths, CLOSED_CLIENTS, seconds))
    first = [r["server_cpu_ms_per_request"] for r in runs[next(iter(trees))]]
    summary: dict[str, Any] = {}
    for name, results in runs.items():
        cpu = [r["server_cpu_ms_per_request"] for r in results]
        summary[name] = {
            "server_cpu_ms_per_request": round(statistics.median(cpu), 3),
            # the rounds of the two trees one after the other saw about the same machine
            "median_ratio_to_first_in_the_same_round": round(
                statistics.median(c / f for c, f in zip(cpu, first, strict=True)), 3
            ),
            "requests_per_s": round(statistics.median(r["requests_per_s"] for r in results)),
            "errors": sum(r["errors"] for r in results),
            "rounds_cpu_ms_per_request": cpu,
        }
    return summary


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs=2, type=Path, metavar="SRC", help="before, after")
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MNIST folder")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds a round")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    return parser.parse_args()


if __name__ == "__main__":
    args = _arguments()
    trees = dict(zip(("before", "after"), args.trees, strict=True))
    with contextlib.ExitStack() as outer:
        database = None
        if args.postgres:
            database = partial(new_database, outer.enter_context(private_postgres()))
        print(json.dumps(compare(trees, args.data, args.rounds, args.seconds, database), indent=2))

"""A flame graph of the server answering the GET mix of ``benchmarks/server.py``.

Starts the server on the fixtures of ``server.py --get`` (SQLite, or with ``--postgres`` the
test suite's private PostgreSQL server), puts 20 closed-loop clients on it, and records the
server with py-spy (``--rate`` samples a second, busy threads only) into an SVG flame graph,
or into collapsed stacks where OUTPUT ends in ``.txt`` (one line per stack and its sample
count, for reading the shares as numbers)::

    python benchmarks/profile_get.py OUTPUT.svg|OUTPUT.txt [MNIST folder] [--seconds 20]
        [--postgres]

Prints the server CPU per GET of the recorded run (py-spy's sampling costs the server a
little CPU of its own: compare flame graphs with flame graphs, not with the benchmark).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from get_load import CLOSED_CLIENTS, Target, load
from hanami.cli.bench import DEFAULT_DATA
from loadgen import private_postgres
from server import bench_paths, running_server, seed_get_fixtures


def record(pid: int, output: Path, seconds: float, rate: int) -> None:
    """py-spy on process ``pid`` for ``seconds``: a flame graph, or collapsed stacks where
    ``output`` ends in ``.txt``."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--duration",
         str(int(seconds)), "--format", "raw" if output.suffix == ".txt" else "flamegraph",
         "--output", str(output), "--nonblocking"],
        check=True, capture_output=True,
    )  # fmt: skip


def profile(
    output: Path, data_dir: Path, seconds: float, rate: int, database_url: str | None = None
) -> dict[str, float]:
    """``database_url``: the server's database (default: SQLite in its folder)."""
    with (
        tempfile.TemporaryDirectory(prefix="hanami-profile-") as folder,
        running_server(Path(folder), database_url=database_url) as server,
    ):
        seed_get_fixtures(server, data_dir)
        target = Target(int(server.url.rsplit(":", 1)[1]), server.proc.pid, server.token)
        paths = bench_paths(server)
        load(target, paths, CLOSED_CLIENTS, 2.0)  # warm up
        result: dict[str, float] = {}
        loader = threading.Thread(
            target=lambda: result.update(load(target, paths, CLOSED_CLIENTS, seconds + 2))
        )
        loader.start()
        record(server.proc.pid, output, seconds, rate)
        loader.join()
    return {
        "requests_per_s": result["requests_per_s"],
        "errors": result["errors"],
        "server_cpu_ms_per_request": result["server_cpu_ms_per_request"],
    }


def arguments(doc: str) -> argparse.ArgumentParser:
    """The command line shared by the profile scripts (``doc``: the script's docstring)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="SVG (or .txt, collapsed stacks) to write")
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MNIST folder")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=200)
    return parser


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(private_postgres()) if args.postgres else None
        print(json.dumps(profile(args.output, args.data, args.seconds, args.rate, url)))

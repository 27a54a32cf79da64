"""Two source trees on the MNIST step of the default profile, in alternating rounds.

    python benchmarks/mnist_ab.py BEFORE_SRC AFTER_SRC [--data DIR] [--rounds 3]
                                  [--warm 10000] [--rows 4000] [--copies 3]

On a shared host one run after another compares two loads as much as two trees, so each
round runs one child process per tree (``PYTHONPATH`` = that tree's ``src``, the trees
alternating). A child trains the MNIST template's cluster (seed 1, file order) on rows
``0..warm``, lets ``copies`` copies of it learn the next ``rows`` rows, and asks one of
them for the 10,000 test images ``copies`` times; it reports the fastest copy's process
CPU per row, the fastest request in seconds, and a hash over the trained network's buffers
and the test outputs (a request's own scratch buffers are not part of it). A change that
claims identical results must give both trees one hash (docs/engine.md, Time per sample,
Fourth round). Make a BEFORE tree with ``git archive main src | tar -x -C DIR`` and pass
``DIR/src``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def child(data: Path, warm: int, rows: int, copies: int) -> dict[str, float | str]:
    """The measurement of one tree (runs in the child process, with its tree on the path)."""
    import numpy as np

    from hanami.cli.bench import load_mnist
    from hanami.core import Cluster
    from hanami.core import state as st
    from hanami.core.templates import mnist_template

    d = load_mnist(data)
    X = d["train_x"][: warm + rows].astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[d["train_y"][: warm + rows]]
    test_x = d["test_x"].astype(np.float32)
    base = Cluster(mnist_template("default"), seed=1)
    base.train(X[:warm], Y[:warm])
    blob = base.to_bytes()
    warm_up = Cluster.from_bytes(blob)  # compile or load the kernels untimed
    warm_up.train(X[warm : warm + 2], Y[warm : warm + 2])
    warm_up.request(test_x[:2])
    train = []
    for _ in range(copies):
        c = Cluster.from_bytes(blob)
        t = time.process_time()
        c.train(X[warm:], Y[warm:])
        train.append(time.process_time() - t)
    digest = hashlib.sha256()
    for name, array in st.trimmed(c._state).items():
        if name != "stats":  # the scores of the last train call, not part of the network
            digest.update(name.encode() + array.tobytes())
    request = []
    for _ in range(copies):
        t = time.process_time()
        out = c.request(test_x, stateless=True)
        request.append(time.process_time() - t)
    digest.update(np.ascontiguousarray(out).tobytes())
    return {"train_us_per_row": 1e6 * min(train) / max(rows, 1), "request_s": min(request),
            "hash": digest.hexdigest()[:16]}  # fmt: skip


def run_tree(src: str, args: argparse.Namespace) -> dict[str, float | str]:
    """One child process with ``src`` first on the path; its measurement."""
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    sizes = ["--warm", str(args.warm), "--rows", str(args.rows), "--copies", str(args.copies)]
    command = [sys.executable, __file__, "--child", src, src, "--data", str(args.data), *sizes]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, float | str]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=10000)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.data, args.warm, args.rows, args.copies)))
        return {}
    results: dict[str, list[dict[str, float | str]]] = {"before": [], "after": []}
    for r in range(args.rounds):
        for name in ("before", "after"):
            m = run_tree(getattr(args, name), args)
            results[name].append(m)
            print(f"round {r + 1} {name:6} train {m['train_us_per_row']:.2f} us/row, "
                  f"request {m['request_s']:.4f} s, hash {m['hash']}", flush=True)  # fmt: skip
    for name, runs in results.items():
        train = statistics.median(float(m["train_us_per_row"]) for m in runs)
        request = statistics.median(float(m["request_s"]) for m in runs)
        print(f"median {name:6} train {train:.2f} us/row, request {request:.4f} s")
    hashes = {m["hash"] for runs in results.values() for m in runs}
    print("results identical" if len(hashes) == 1 else "results DIFFER")
    return results


if __name__ == "__main__":
    main()

"""Two kernel trees on one stream's training step, alternating in one process.

    python benchmarks/kernel_ab.py BEFORE_SRC AFTER_SRC [--stream bananas] [--warm 2000]
                                   [--rows 2000] [--copies 3] [--rounds 5]

``mnist_ab.py`` alternates trees in child processes, so each round also compares two
moments of a shared host's load, whose spread is larger than the 2-4 % that a change
keeping results bit for bit often makes. Here both trees' kernels run in one process:
each tree's ``hanami/core/kernels`` modules are compiled under names of their own
(uncached, so each compiles on its first use); the estimator of the ``hanami`` on
``sys.path`` learns rows ``0..warm`` of the stream (seed 0), and in every round each tree
trains ``copies`` copies of that network on the next ``rows`` rows, the trees alternating. It
prints the fastest copy's process CPU µs per row per round and tree, and a hash over every
copy's outputs and final buffers: a change that claims identical results must give one
hash (docs/engine.md, Time per sample, thirteenth round).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import stream_data
from hanami.core import Cluster
from hanami.core import state as st
from hanami.estimators import HanamiClassifier, prequential

# each module after the ones it imports (one a tree lacks is left out: an older tree)
MODULES = (
    "borrow",
    "random",
    "structure",
    "growth",
    "walks",
    "forward",
    "backward",
    "reduction",
    "lanes",
    "rows",
)
# hanami.core._jit.njit without its cache: bare (``@njit``) or with options (``@njit(...)``)
UNCACHED = (
    "import numba as _nb\nfrom hanami.core._jit import JIT as _JIT\n"
    "def njit(func=None, **options):\n"
    "    jit = _nb.njit(**{**_JIT, 'cache': False}, **options)\n"
    "    return jit if func is None else jit(func)\n"
)


@functools.cache
def load(src: str) -> Callable[..., int]:
    """``train_rows_default`` of the kernels under ``src`` (a tree's ``src`` folder), its
    modules registered under a prefix of their own (a tree named twice compiles once)."""
    tag = "kab" + hashlib.sha256(str(Path(src).resolve()).encode()).hexdigest()[:12]
    for name in MODULES:
        path = Path(src) / "hanami" / "core" / "kernels" / f"{name}.py"
        if not path.exists():
            continue
        text = path.read_text().replace("from hanami.core._jit import njit", UNCACHED)
        module = types.ModuleType(f"{tag}_{name}")
        sys.modules[module.__name__] = module
        exec(compile(text.replace("hanami.core.kernels.", f"{tag}_"), str(path), "exec"),
             module.__dict__)  # fmt: skip
    return sys.modules[f"{tag}_rows"].train_rows_default


def train(
    kernel: Callable[..., int], blob: bytes, X: np.ndarray, Y: np.ndarray
) -> tuple[float, str]:
    """Process CPU µs per row of a copy of the network learning ``X``/``Y`` in one kernel
    call (more where it asks to grow, as ``Cluster._train_rows``), and the hash."""
    cluster, rows = Cluster.from_bytes(blob), np.arange(X.shape[0])
    seen = np.zeros(Y.shape, dtype=np.float32)
    i, start = 0, time.process_time_ns()
    while i < rows.shape[0]:
        stop = kernel(cluster._ref(), cluster._params, X, Y, rows, i, rows.shape[0], seen)
        if stop == i:
            cluster._grow()
        i = stop
    us = (time.process_time_ns() - start) / 1e3 / rows.shape[0]
    sha = hashlib.sha256(seen.tobytes())
    for name, array in st.trimmed(cluster._state).items():
        sha.update(name.encode() + array.tobytes())
    return us, sha.hexdigest()[:16]


def main(argv: list[str] | None = None) -> tuple[dict[str, list[float]], set[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs=2, metavar="SRC", help="two source trees' src folders")
    parser.add_argument("--stream", default="bananas", help="a classification stream")
    parser.add_argument("--warm", type=int, default=2000, help="rows the estimator learns")
    parser.add_argument("--rows", type=int, default=2000, help="rows each copy learns")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", default=str(stream_data.MNIST_DIR), help="MNIST folder")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the estimators' no-signal warnings on first rows
    stream = stream_data.streams(args.data)[args.stream](0)
    end = args.warm + args.rows
    classes = int(stream.y.max()) + 1
    model = HanamiClassifier(random_state=0)
    prequential(model, stream.X[: args.warm], stream.y[: args.warm], classes=np.arange(classes))
    X = model.cluster_._prepare_inputs(model._coder.encode(stream.X[args.warm : end], learn=True))
    Y = np.eye(classes, dtype=np.float32)[stream.y[args.warm : end]]
    blob = model.cluster_.to_bytes()
    kernels = dict(zip(("before", "after"), map(load, args.trees), strict=True))
    hashes, times = set(), {label: [] for label in kernels}
    for kernel in kernels.values():
        hashes.add(train(kernel, blob, X, Y)[1])  # compiles
    for r in range(args.rounds):
        for label, kernel in kernels.items():
            runs = [train(kernel, blob, X, Y) for _ in range(args.copies)]
            times[label].append(min(us for us, _ in runs))
            hashes.update(h for _, h in runs)
            print(f"round {r + 1} {label:6} {times[label][-1]:.2f} us/row", flush=True)
    for label, values in times.items():
        print(f"median {label:6} {statistics.median(values):.2f} us/row")
    print("results identical" if len(hashes) == 1 else f"results differ: {sorted(hashes)}")
    return times, hashes


if __name__ == "__main__":
    main()

"""Two clusters training on two threads vs one: the kernels release the GIL."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

from hanami.cli.bench import DEFAULT_DATA, load_mnist, warm_up
from hanami.core import Cluster
from hanami.core.templates import mnist_template


def samples_per_second(n_threads: int, X: np.ndarray, Y: np.ndarray) -> float:
    clusters = [Cluster(mnist_template(), seed=s + 1) for s in range(n_threads)]
    threads = [threading.Thread(target=c.train, args=(X, Y)) for c in clusters]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n_threads * len(X) / (time.perf_counter() - start)


def main(directory: Path, rows: int = 20000) -> dict:
    data = load_mnist(directory)
    X = np.ascontiguousarray(data["train_x"][:rows])
    Y = np.eye(10, dtype=np.float32)[data["train_y"][:rows]]
    warm_up(mnist_template().to_text())
    one = samples_per_second(1, X, Y)
    two = samples_per_second(2, X, Y)
    return {"rows_per_cluster": rows, "one_thread_samples_per_s": round(one),
            "two_threads_samples_per_s": round(two), "speedup": round(two / one, 2)}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA)))

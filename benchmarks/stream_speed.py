"""CPU time per sample of Hanami and River's linear peer on the streams of ``streams.py``.

    python benchmarks/stream_speed.py [--streams wine,phishing,...] [--repeats 3]

``streams.py`` reports wall-clock µs per sample, which on a shared machine mostly measures
the other tenants. This runs Hanami (``prequential`` with default settings) and River's
``StandardScaler | LogisticRegression`` (classification) or ``LinearRegression``
(regression) one after the other in one process, takes the process CPU time of each
prequential pass (predict + learn, setup included) and reports the fastest of
``--repeats`` passes, seed 0, on the same rows as ``streams.py``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

import stream_data
import streams
from stream_peers import PEERS


def cpu_us_per_sample(run, repeats: int, rows: int) -> float:
    """The fastest of ``repeats`` calls of ``run``, in CPU µs per row."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return 1e6 * best / rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", help="comma-separated stream names (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=str(stream_data.MNIST_DIR), help="MNIST folder")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the estimators' no-signal warnings on first rows
    loaders = stream_data.streams(args.data)
    names = args.streams.split(",") if args.streams else list(loaders)
    streams.warm_up()
    print("| stream | rows | Hanami | River linear | Hanami / River |")
    print("|---|---|---|---|---|")
    for name in names:
        stream = loaders[name](0)
        rows = min(len(stream.y), streams.PREFIX.get(name, len(stream.y)))
        X, y = stream.X[:rows], stream.y[:rows]
        n_classes = int(stream.y.max()) + 1 if stream.kind == "classification" else 0
        peer = PEERS["river_lr" if n_classes else "river_linreg"]
        peer.run(X[:20], y[:20], n_classes, 0)  # imports and first calls are not timed
        ours = cpu_us_per_sample(partial(streams.hanami, X, y, n_classes, 0), args.repeats, rows)
        theirs = cpu_us_per_sample(partial(peer.run, X, y, n_classes, 0), args.repeats, rows)
        print(f"| {name} | {rows:,} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

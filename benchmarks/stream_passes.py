"""Stability over many passes: does the prequential accuracy ever fall back?

One ``HanamiClassifier(random_state=seed)`` (default settings) keeps learning the same
classification stream pass after pass; every pass is test-then-train
(``hanami.estimators.prequential``), so pass ``p``'s accuracy is what the network predicted
for each row just before learning it for the ``p``-th time. For each seed the table gives the
accuracy (%) per pass, the best so far, and the largest fall below the best so far (points);
``falls_over_1_point`` says whether that fall ever exceeds one point, and
``first_pass_over_1_point`` where it first does.

    python benchmarks/stream_passes.py [--streams blobs_10,...] [--passes 20] [--seeds 0,1,2]
        [--max-rows N]

The streams are those of ``stream_data.py`` (classification only); prints JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import stream_data


def passes(X: np.ndarray, y: np.ndarray, n_passes: int, seed: int) -> list[float]:
    """Prequential accuracy (%) of each pass of one network over ``(X, y)``."""
    from hanami.estimators import HanamiClassifier, prequential

    model = HanamiClassifier(random_state=seed)
    classes = np.arange(int(y.max()) + 1)
    return [100.0 * float(np.mean(prequential(model, X, y, classes=classes) == y))
            for _ in range(n_passes)]  # fmt: skip


def falls(accuracies: list[float]) -> list[float]:
    """Per pass: how far (points) the accuracy is below the best of the passes so far."""
    best = np.maximum.accumulate(accuracies)
    return [float(b - a) for a, b in zip(accuracies, best, strict=True)]


def run(names: list[str], n_passes: int, seeds: list[int], max_rows: int | None) -> dict:
    loaders = stream_data.streams()
    results = {}
    for name in names:
        per_seed = {}
        for seed in seeds:
            stream = loader_stream(loaders, name, seed)
            rows = len(stream.y) if max_rows is None else min(len(stream.y), max_rows)
            acc = passes(stream.X[:rows], stream.y[:rows], n_passes, seed)
            fall = falls(acc)
            per_seed[str(seed)] = {
                "rows": rows,
                "accuracy": [round(a, 3) for a in acc],
                "best_so_far": [round(float(b), 3) for b in np.maximum.accumulate(acc)],
                "largest_fall": round(max(fall), 3),
                "largest_fall_pass": int(np.argmax(fall)) + 1,
                "falls_over_1_point": max(fall) > 1.0,
                "first_pass_over_1_point": next((p for p, f in enumerate(fall, 1) if f > 1), None),
            }
            if stream.bayes_hits is not None:
                per_seed[str(seed)]["bayes"] = round(100.0 * stream.bayes_hits[:rows].mean(), 3)
        results[name] = per_seed
    return results


def loader_stream(loaders: dict, name: str, seed: int) -> stream_data.Stream:
    if name not in loaders:
        raise SystemExit(f"unknown stream {name!r}; known: {', '.join(loaders)}")
    stream = loaders[name](seed)
    if stream.kind != "classification":
        raise SystemExit(f"{name} is a {stream.kind} stream; only classification is scored")
    return stream


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="blobs_10", help="comma-separated stream names")
    parser.add_argument("--passes", type=int, default=20, help="passes over each stream")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--max-rows", type=int, help="use at most N rows of every stream")
    args = parser.parse_args(argv)
    if args.passes < 1:
        parser.error("--passes must be at least 1")
    results = run(args.streams.split(","), args.passes,
                  [int(s) for s in args.seeds.split(",")], args.max_rows)  # fmt: skip
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()

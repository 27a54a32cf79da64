"""A fingerprint of what the engine computes on the streams of ``streams.py``.

    python benchmarks/engine_digest.py [--streams wine,...] [--seeds 0,1,2] [--max-rows N]
                                       [--reduction]

For a change that should only make the engine faster (results bit for bit unchanged), run
this before and after it and compare the lines: each is one stream and seed, the
prequential score of ``streams.hanami`` and a SHA-256 over its predictions and over every
buffer of the final network (``state.trimmed``: weights, borders, targets, counters,
random state), so any difference in any bit shows.
"""

from __future__ import annotations

import argparse
import hashlib
import warnings

import numpy as np

import stream_data
import streams
from hanami.core import state as st
from hanami.estimators import HanamiClassifier, HanamiRegressor, prequential
from hanami.estimators._common import generated_template_text


def digest(
    X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, reduction: bool = False
) -> tuple[np.ndarray, str]:
    """The prequential predictions, and a hash of them and of the final network; with
    ``reduction`` the estimator's template turns the reduction on."""
    kind = HanamiClassifier if n_classes else HanamiRegressor
    template = None
    if reduction:
        text = generated_template_text(kind._default_profile, 1)
        template = text.replace("settings:\n", "settings:\n    enable_reduction: true\n")
    model = kind(random_state=seed, template=template)
    params = {"classes": np.arange(n_classes)} if n_classes else {}
    predicted = prequential(model, X, y, **params)
    sha = hashlib.sha256(np.ascontiguousarray(predicted).tobytes())
    for name, array in st.trimmed(model.cluster_._state).items():
        sha.update(name.encode() + array.tobytes())
    return predicted, sha.hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", help="comma-separated stream names (default: all)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-rows", type=int, default=0, help="0: the rows of streams.py")
    parser.add_argument("--reduction", action="store_true", help="with the reduction on")
    parser.add_argument("--data", default=str(stream_data.MNIST_DIR), help="MNIST folder")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the estimators' no-signal warnings on first rows
    loaders = stream_data.streams(args.data)
    for name in args.streams.split(",") if args.streams else list(loaders):
        for seed in (int(s) for s in args.seeds.split(",")):
            stream = loaders[name](seed)
            rows = min(len(stream.y), streams.PREFIX.get(name, len(stream.y)))
            rows = min(rows, args.max_rows) if args.max_rows else rows
            X, y = stream.X[:rows], stream.y[:rows]
            n_classes = int(stream.y.max()) + 1 if stream.kind == "classification" else 0
            predicted, sha = digest(X, y, n_classes, seed, args.reduction)
            score = streams.score(stream.kind, predicted, y)
            print(f"{name} seed {seed} rows {rows} score {score:.4f} {sha}", flush=True)


if __name__ == "__main__":
    main()

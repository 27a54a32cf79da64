"""How much of a stream's seed spread is the network draw, and how likely a 3-seed run meets
the spread target.

``streams.py`` runs seed ``s`` as data order ``s`` with network ``s``, so its max-min over
seeds 0-2 is one draw of three networks. Here every order ``o`` in ``--orders`` runs with
networks ``0..nets-1`` (``HanamiClassifier(random_state=n)``, one prequential pass); the
order's own effect and the network's are then told apart, and over every triple of networks
(one per order) the share whose max-min is at most ``--target`` points says how often a
3-seed run would meet the target by chance.

    python benchmarks/seed_spread.py [--streams wine,...] [--nets 20] [--orders 0,1,2]
        [--max-rows N] [--target 2] [--set FIELD=VALUE,...] [--estimator KEY=VALUE,...]

``--set`` replaces fields of the ``stream`` profile (lower case; upper case names are
constants of ``hanami.core.profiles``, e.g. ``INPUT_FANOUT=512``); ``--estimator`` passes
keyword arguments to ``HanamiClassifier`` (e.g. ``hidden_hexagons=0``). Values are Python
literals.

Prints one line per stream: mean accuracy (%), spread of the per-order means, mean standard
deviation over networks within an order, P(max-min <= target) and the mean max-min over
the triples, and the max-min of the pairs (0, 0), (1, 1), (2, 2) that ``streams.py`` reports.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import itertools

import numpy as np

import stream_data


def pairs(text: str) -> dict[str, object]:
    """``"a=1,b=0.5"`` -> ``{"a": 1, "b": 0.5}``."""
    items = (item.split("=", 1) for item in text.split(",") if item)
    return {key: ast.literal_eval(value) for key, value in items}


def set_profile(changes: dict[str, object]) -> None:
    """Replace fields of the ``stream`` profile and constants of ``hanami.core.profiles``."""
    from hanami.core import profiles

    for key, value in changes.items():
        if key.isupper():
            setattr(profiles, key, value)
    fields = {k: v for k, v in changes.items() if not k.isupper()}
    profiles.PROFILES["stream"] = dataclasses.replace(profiles.PROFILES["stream"], **fields)


def accuracies(
    name: str, orders: list[int], nets: int, max_rows: int | None, estimator: dict[str, object]
) -> np.ndarray:
    """``[orders, nets]`` prequential accuracy (%) of one pass over stream ``name``."""
    from hanami.estimators import HanamiClassifier, prequential

    table = np.zeros((len(orders), nets))
    for i, order in enumerate(orders):
        stream = stream_data.streams()[name](order)
        X, y = stream.X[:max_rows], stream.y[:max_rows]
        classes = np.arange(int(stream.y.max()) + 1)
        for n in range(nets):
            model = HanamiClassifier(random_state=n, **estimator)
            predicted = prequential(model, X, y, classes=classes)
            table[i, n] = 100.0 * float(np.mean(predicted == y))
    return table


def summary(table: np.ndarray, target: float) -> dict[str, float]:
    """The figures of one stream's table (see the module docstring)."""
    ranges = np.array([np.ptp(triple) for triple in itertools.product(*table)])
    same = [table[i, i] for i in range(min(table.shape))]
    return {
        "mean": float(table.mean()),
        "order_spread": float(np.ptp(table.mean(axis=1))),
        "net_std": float(table.std(axis=1, ddof=1).mean()),
        "p_within_target": float(np.mean(ranges <= target + 1e-9)),
        "mean_range": float(ranges.mean()),
        "same_seed_range": float(np.ptp(same)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="wine")
    parser.add_argument("--nets", type=int, default=20)
    parser.add_argument("--orders", default="0,1,2")
    parser.add_argument("--max-rows", type=int)
    parser.add_argument("--target", type=float, default=2.0)
    parser.add_argument("--set", default="", help="stream profile changes, FIELD=VALUE,...")
    parser.add_argument("--estimator", default="", help="HanamiClassifier keywords")
    args = parser.parse_args(argv)
    set_profile(pairs(args.set))
    estimator = pairs(args.estimator)
    orders = [int(o) for o in args.orders.split(",")]
    for name in args.streams.split(","):
        figures = summary(
            accuracies(name, orders, args.nets, args.max_rows, estimator), args.target
        )
        print(name, " ".join(f"{k} {v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

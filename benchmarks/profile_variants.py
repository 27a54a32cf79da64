"""Variants of a profile on MNIST, for choosing its constants.

    python benchmarks/profile_variants.py SEED EPOCHS [FIELD=VALUE ...] [--profile NAME]
                                          [--data MNIST_FOLDER]

trains the MNIST template (raw pixels, file order, one thread) with the profile's fields
overridden (``Profile`` in ``hanami.core.profiles``; booleans as 0/1) and prints one line:
test accuracy after each epoch, epoch-1 training and test CPU seconds, size.
docs/engine.md lists the runs behind the chosen defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from hanami.cli.bench import DEFAULT_DATA, load_mnist
from hanami.core import Cluster
from hanami.core.profiles import PROFILES, Profile
from hanami.core.templates import mnist_template


def overrides(pairs: list[str]) -> dict[str, object]:
    """``FIELD=VALUE`` strings as typed ``Profile`` fields."""
    types = {f.name: f.type for f in dataclasses.fields(Profile)}
    convert = {"bool": lambda v: v == "1", "int": int, "float": float}
    out: dict[str, object] = {}
    for pair in pairs:
        name, value = pair.split("=", 1)
        kind = types[name]  # a KeyError names the unknown field
        out[name] = convert.get(kind, str)(value)
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", type=int)
    parser.add_argument("epochs", type=int)
    parser.add_argument("fields", nargs="*", help="FIELD=VALUE")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the MNIST folder")
    args = parser.parse_args(argv)
    changed = overrides(args.fields)
    PROFILES[args.profile] = dataclasses.replace(PROFILES[args.profile], **changed)
    data = load_mnist(args.data)
    expected = np.eye(10, dtype=np.float32)[data["train_y"]]
    train_x, test_x = data["train_x"].astype(np.float32), data["test_x"].astype(np.float32)
    template = mnist_template(args.profile)
    warm = Cluster(template, seed=args.seed)  # compile (or load) the kernels untimed
    warm.train(train_x[:2], expected[:2])
    warm.request(test_x[:2])
    c = Cluster(template, seed=args.seed)
    accuracy, cpu, test_cpu = [], [], []
    for _ in range(args.epochs):
        t = time.process_time()
        c.train(train_x, expected)
        cpu.append(time.process_time() - t)
        t = time.process_time()
        predicted = c.request(test_x).argmax(1)
        test_cpu.append(time.process_time() - t)
        accuracy.append(round(100 * float((predicted == data["test_y"]).mean()), 2))
    m = c.metrics()
    return (f"profile={args.profile} {changed} seed={args.seed} accuracy={accuracy} "
            f"epoch1_cpu_s={cpu[0]:.2f} test_cpu_s={test_cpu[0]:.2f} "
            f"sections={m['sections']} synapses={m['synapses']}")  # fmt: skip


if __name__ == "__main__":
    print(main())

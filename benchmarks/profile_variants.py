"""Variants of the default profile on MNIST, for choosing its constants.

    python benchmarks/profile_variants.py SECTIONS_PER_BLOCK SYNAPSES LR EPOCHS SEED \
        [LOSS=mse|xent] [LR_DECAY] [LR_MIN] [INITIAL_WEIGHT]

prints one line: accuracy after each epoch, epoch-1 training CPU seconds, size.
docs/engine.md lists the runs behind the chosen defaults.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from hanami.cli.bench import DEFAULT_DATA, load_mnist
from hanami.core import Cluster
from hanami.core.profiles import PROFILES, Profile
from hanami.core.templates import mnist_template


def main(argv: list[str]) -> str:
    spb, syn, lr, epochs, seed = int(argv[0]), int(argv[1]), float(argv[2]), int(argv[3]), int(
        argv[4])  # fmt: skip
    xent = len(argv) > 5 and argv[5] == "xent"
    decay = float(argv[6]) if len(argv) > 6 else 0.0
    lr_min = float(argv[7]) if len(argv) > 7 else 0.0
    init = float(argv[8]) if len(argv) > 8 else 0.0125
    PROFILES["default"] = Profile("default", 128, spb, syn, lr, lr, 0.01, 8, xent, decay, lr_min,
                                  init)  # fmt: skip
    data = load_mnist(DEFAULT_DATA)
    expected = np.eye(10, dtype=np.float32)[data["train_y"]]
    c = Cluster(mnist_template(), seed=seed)
    accuracy, cpu = [], []
    for _ in range(epochs):
        t = time.process_time()
        c.train(data["train_x"], expected)
        cpu.append(time.process_time() - t)
        accuracy.append(round(100 * float((c.request(data["test_x"]).argmax(1) ==
                                           data["test_y"]).mean()), 2))  # fmt: skip
    m = c.metrics()
    return (
        f"sections/block={spb} synapses/section={syn} lr={lr} decay={decay} lr_min={lr_min} "
        f"initial_weight={init} "
        f"loss={'xent' if xent else 'mse'} seed={seed} accuracy={accuracy} "
        f"epoch1_cpu_s={cpu[0]:.2f} sections={m['sections']} synapses={m['synapses']}"
    )


if __name__ == "__main__":
    print(main(sys.argv[1:]))

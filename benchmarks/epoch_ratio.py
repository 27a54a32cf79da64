"""MNIST epoch 1 of the default profile against the per-sample MLP, in alternating rounds.

    python benchmarks/epoch_ratio.py [--rounds 6] [--data MNIST_FOLDER] [--json]

Issue 8 asks for the default profile's epoch-1 training CPU at most the per-sample MLP's
(``peers.mlp``) and a test of the 10,000 images in at most 0.15 s. One run of each, minutes
apart, compares two states of a shared machine as much as two learners, so every round here
trains a fresh cluster (seed 1, file order, one thread, ``hanami bench mnist``'s own loop)
and a fresh MLP (seed 1) back to back, the one that goes first alternating, and reports the
ratio of the two training CPU times per round; the median ratio is the figure to quote.
Kernels are compiled (or loaded from the cache) before the first round.
"""

from __future__ import annotations

import argparse
import json
import statistics

import peers
from hanami.cli.bench import DEFAULT_DATA, load_mnist, run_mnist, warm_up
from hanami.core import parse_template
from hanami.core.templates import OPENHANAMI_MNIST


def one_round(data: dict, template: str, hanami_first: bool) -> dict[str, float]:
    """Both learners' epoch 1 (and Hanami's test), in the order given."""
    if hanami_first:
        hanami, peer = run_mnist(data, template), peers.mlp(data)
    else:
        peer, hanami = peers.mlp(data), run_mnist(data, template)
    return {
        "hanami_train_cpu_s": hanami.train_cpu_s[0],
        "mlp_train_cpu_s": peer["train_cpu_s"],
        "ratio": round(hanami.train_cpu_s[0] / peer["train_cpu_s"], 3),
        "hanami_test_cpu_s": hanami.test_cpu_s[0],
        "hanami_accuracy": round(hanami.accuracy[0], 3),
    }


def run(data: dict, rounds: int = 6) -> dict:
    """``rounds`` alternating rounds and their medians."""
    template = parse_template(OPENHANAMI_MNIST).with_settings(profile="default").to_text()
    warm_up(template)  # run_mnist and peers.mlp time nothing of their compilation either
    done = [one_round(data, template, hanami_first=r % 2 == 0) for r in range(rounds)]
    ratios = [r["ratio"] for r in done]
    tests = [r["hanami_test_cpu_s"] for r in done]
    return {
        "rounds": done,
        "median_ratio": round(statistics.median(ratios), 3),
        "ratio_range": [min(ratios), max(ratios)],
        "median_test_cpu_s": round(statistics.median(tests), 3),
        "test_range": [min(tests), max(tests)],
    }


def markdown(result: dict) -> list[str]:
    """The rounds as a Markdown table and a line with the medians."""
    lines = ["| round | Hanami train CPU s | MLP train CPU s | Hanami / MLP | Hanami test CPU s |",
             "|---|---|---|---|---|"]  # fmt: skip
    for k, r in enumerate(result["rounds"], 1):
        lines.append(f"| {k} | {r['hanami_train_cpu_s']:.2f} | {r['mlp_train_cpu_s']:.2f} "
                     f"| {r['ratio']:.2f} | {r['hanami_test_cpu_s']:.3f} |")  # fmt: skip
    low, high = result["ratio_range"]
    lines += ["", f"Median ratio {result['median_ratio']:.2f} ({low:.2f}-{high:.2f}), "
              f"median test {result['median_test_cpu_s']:.3f} s."]  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(load_mnist(args.data), args.rounds)
    print(json.dumps(result, indent=1) if args.json else "\n".join(markdown(result)))


if __name__ == "__main__":
    main()

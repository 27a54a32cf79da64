"""Stream benchmark: Hanami and its peers, test-then-train, one pass over each stream.

Every sample is predicted before it is learned (prequential evaluation). Classification
streams score the prequential accuracy (%), regression streams the prequential mean absolute
error. Every system runs on every stream of its kind with seeds 0, 1, 2 in the same run.

    python benchmarks/streams.py [--streams digits,wine,...] [--systems hanami,river_lr,...]
        [--seeds 0,1,2] [--max-rows N] [--robustness/--no-robustness] [--json out.json]
        [--peers-cache peers.json] [--data MNIST_DIR]

``--peers-cache`` keeps the peers' results in a file (read where present, added to where
not), so that after a change to the engine only Hanami runs; its entries are keyed by
stream, system, seed and rows, so delete the file after changing a peer or a stream.
``--streams none`` runs the robustness part alone. The streams are in ``stream_data.py``, the
peers in ``stream_peers.py``, the robustness part in ``stream_robustness.py``.

Hanami runs through the library with default settings: ``HanamiClassifier`` /
``HanamiRegressor(random_state=seed)`` and ``hanami.estimators.prequential``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import stream_data
import stream_peers
import stream_robustness
from stream_peers import PEERS, Run

SEEDS = (0, 1, 2)
CLASSIFIERS = ("hanami", "river_lr", "river_ht", "river_arf", "sk_sgd", "sk_mlp", "numba_mlp")
REGRESSORS = ("hanami", "river_linreg", "river_htr", "sk_mlp_reg")
SYSTEMS = tuple(dict.fromkeys(CLASSIFIERS + REGRESSORS))
LABELS = {"hanami": "Hanami", **{name: peer.label for name, peer in PEERS.items()}}
SHORT = {"hanami": "Hanami", "river_lr": "River LR", "river_ht": "River HT",
         "river_arf": "River ARF", "sk_sgd": "sk SGD", "sk_mlp": "sk MLP",
         "numba_mlp": "Numba MLP", "river_linreg": "River LinReg", "river_htr": "River HTR",
         "sk_mlp_reg": "sk MLP"}  # fmt: skip

#: Rows every system sees on the long streams, where the slow peers (River's trees and
#: forest on 784 features, scikit-learn's per-row ``partial_fit`` with 50 classes) would take
#: far too long on the whole stream. Hanami also runs the whole stream (``hanami_full``).
PREFIX = {"mnist_binary": 5_000, "blobs_10": 10_000, "blobs_50": 5_000}

CACHED = "cache"
RUN_ONCE = "same data, no random state: run once"


# ---------------------------------------------------------------- running


def hanami_trained(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int):
    """Hanami's prequential pass: predictions, seconds, and the trained estimator (for a
    held-out test after the pass)."""
    from hanami.estimators import HanamiClassifier, HanamiRegressor, prequential

    if n_classes:
        model, params = HanamiClassifier(random_state=seed), {"classes": np.arange(n_classes)}
    else:
        model, params = HanamiRegressor(random_state=seed), {}
    start = time.perf_counter()
    predicted = prequential(model, X, y, **params)
    return np.asarray(predicted), time.perf_counter() - start, model


def hanami(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int) -> Run:
    predicted, seconds, _ = hanami_trained(X, y, n_classes, seed)
    return predicted, seconds


def warm_up() -> None:
    """Compile (or load from the cache) the kernels before anything is timed."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), np.arange(20) % 2
    hanami(X, y, 2, 0)
    hanami(X, X[:, 0], 0, 0)
    stream_peers.warm_up_numba()


def score(kind: str, predicted: np.ndarray, y: np.ndarray) -> float:
    """Prequential accuracy (%) or mean absolute error."""
    if kind == "classification":
        return 100.0 * float(np.mean(predicted == y))
    return float(np.mean(np.abs(np.asarray(predicted, dtype=np.float64) - y)))


def run_one(
    system: str,
    X: np.ndarray,
    y: np.ndarray,
    kind: str,
    seed: int,
    test: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """One prequential pass; Hanami with a ``test`` set also scores it after the pass."""
    n_classes = int(y.max()) + 1 if kind == "classification" else 0
    if system == "hanami":
        predicted, seconds, model = hanami_trained(X, y, n_classes, seed)
    else:
        predicted, seconds = PEERS[system].run(X, y, n_classes, seed)
    result = {"score": score(kind, predicted, y), "us_per_sample": 1e6 * seconds / len(y)}
    if test is not None and system == "hanami":
        result["test"] = score(kind, model.predict(test[0]), test[1])
    return result


def fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    return hashlib.sha1(X.tobytes() + np.asarray(y).tobytes()).hexdigest()


def run_stream(name, loader, systems, seeds, max_rows, cache: dict, log) -> dict:
    """Every system of the stream's kind over ``seeds``; peers come from ``cache`` if there."""
    runs: dict[str, list[dict]] = {}
    full: list[dict] = []
    bayes, bayes_full, done = [], [], {}
    info: dict = {}
    for seed in seeds:
        stream = loader(seed)
        total = len(stream.y) if max_rows is None else min(len(stream.y), max_rows)
        rows = min(total, PREFIX.get(name, total))
        X, y = stream.X[:rows], stream.y[:rows]
        n_classes = int(stream.y.max()) + 1 if stream.kind == "classification" else 0
        info = {"kind": stream.kind, "rows": rows, "rows_total": total,
                "features": int(X.shape[1]), "classes": n_classes}  # fmt: skip
        if stream.bayes_hits is not None:
            bayes.append(100.0 * float(stream.bayes_hits[:rows].mean()))
            bayes_full.append(100.0 * float(stream.bayes_hits[:total].mean()))
        data_id = fingerprint(X, y)
        kind_systems = CLASSIFIERS if stream.kind == "classification" else REGRESSORS
        for system in (s for s in kind_systems if s in systems):
            key = f"{name}/{system}/seed{seed}/rows{rows}"
            same = (system, data_id)  # a peer without a random state, on the same data
            if system != "hanami" and key in cache:
                result = {**cache[key], "notes": [*cache[key].get("notes", []), CACHED]}
            elif system != "hanami" and not PEERS[system].seeded and same in done:
                result = {**done[same], "notes": [RUN_ONCE]}
            else:
                result = run_one(system, X, y, stream.kind, seed)
                done[same] = result
                log(f"{name} seed {seed} {system}: {result['score']:.3f} "
                    f"({result['us_per_sample']:.0f} us/sample, {rows} rows)")  # fmt: skip
            if system != "hanami":
                notes = [n for n in result.get("notes", []) if n != CACHED]
                cache[key] = {"score": result["score"], "us_per_sample": result["us_per_sample"],
                              **({"notes": notes} if notes else {})}  # fmt: skip
            runs.setdefault(system, []).append(result)
        if rows < total and "hanami" in systems:
            full.append(run_one("hanami", stream.X[:total], stream.y[:total], stream.kind, seed,
                                stream.test))  # fmt: skip
            held_out = f", held-out test {full[-1]['test']:.3f}" if "test" in full[-1] else ""
            log(f"{name} seed {seed} hanami, all {total} rows: {full[-1]['score']:.3f}{held_out}")
    out = {**info, "seeds": list(seeds), "systems": {}}
    for system, results in runs.items():
        out["systems"][system] = {
            "scores": [r["score"] for r in results],
            "us_per_sample": [r["us_per_sample"] for r in results],
            "notes": sorted({n for r in results for n in r.get("notes", [])}),
        }
    if bayes:
        out["bayes"], out["bayes_full"] = bayes, bayes_full
    if full:
        out["hanami_full"] = {"rows": info["rows_total"], "scores": [r["score"] for r in full],
                              "us_per_sample": [r["us_per_sample"] for r in full]}  # fmt: skip
        if all("test" in r for r in full):
            out["hanami_full"]["test_scores"] = [r["test"] for r in full]
    return out


def run(
    streams: list[str] | None = None,
    systems: list[str] | None = None,
    seeds: tuple[int, ...] = SEEDS,
    max_rows: int | None = None,
    mnist_dir: Path = stream_data.MNIST_DIR,
    peers_cache: Path | None = None,
    robustness: bool = True,
    log=lambda line: print(line, file=sys.stderr, flush=True),
) -> dict:
    """The whole benchmark as one JSON-ready dict."""
    loaders = stream_data.streams(mnist_dir)
    known = [*loaders, "mnist_binary"] if "mnist_binary" not in loaders else list(loaders)
    streams = list(loaders) if streams is None else streams
    systems = list(SYSTEMS) if systems is None else systems
    for name in streams:
        if name not in known:
            raise SystemExit(f"unknown stream {name!r}; streams: {', '.join(known)}")
    for name in systems:
        if name not in SYSTEMS:
            raise SystemExit(f"unknown system {name!r}; systems: {', '.join(SYSTEMS)}")
    cache = json.loads(peers_cache.read_text()) if peers_cache and peers_cache.exists() else {}
    results: dict = {"seeds": list(seeds), "max_rows": max_rows, "prefix": PREFIX,
                     "systems": {s: LABELS[s] for s in systems}, "streams": {},
                     "skipped": {}, "seconds": {}}  # fmt: skip
    start = time.perf_counter()
    warm_up()
    for name in streams:
        if name not in loaders:
            results["skipped"][name] = f"no MNIST files in {mnist_dir}"
            log(f"{name}: skipped, no MNIST files in {mnist_dir}")
            continue
        results["streams"][name] = run_stream(name, loaders[name], systems, seeds, max_rows,
                                              cache, log)  # fmt: skip
        if peers_cache:  # after every stream, so that an interrupted run keeps what it did
            peers_cache.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    results["seconds"]["streams"] = round(time.perf_counter() - start, 1)
    if robustness:
        start = time.perf_counter()
        if stream_data.mnist_available(mnist_dir):
            results["robustness"] = stream_robustness.run(mnist_dir, seeds, max_rows, log, systems)
        else:
            results["skipped"]["robustness"] = f"no MNIST files in {mnist_dir}"
        results["seconds"]["robustness"] = round(time.perf_counter() - start, 1)
    return results


# ---------------------------------------------------------------- report


def number(value: float, digits: int = 2) -> str:
    """Fixed point, or 3 significant digits for huge values (a diverged regressor)."""
    return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"


def spread(values: list[float], digits: int = 2) -> str:
    """``mean (min-max)``; one value alone, or where every seed gave the same."""
    mean = statistics.fmean(values)
    if len(set(values)) == 1:
        return number(mean, digits)
    return f"{number(mean, digits)} ({number(min(values), digits)}-{number(max(values), digits)})"


def stream_title(name: str, s: dict) -> str:
    if s["rows"] < s["rows_total"]:
        return f"{name} (first {s['rows']:,} of {s['rows_total']:,})"
    return f"{name} ({s['rows']:,})"


def markdown(results: dict) -> list[str]:
    """The report: one table per task kind, seed spreads, µs/sample, robustness."""
    seeds = ", ".join(map(str, results["seeds"]))
    streams = results["streams"]
    lines = [] if not streams else [
        f"Prequential (test-then-train) over one pass, seeds {seeds}; "
        "cells are the mean over the seeds (min-max). Classification: accuracy %, higher is "
        "better; regression: mean absolute error, lower is better. Peers without a random "
        "state (River's linear models and trees) run once on streams whose order does not "
        "depend on the seed. scikit-learn's `partial_fit` peers sit behind a running standard "
        "scaler written for this benchmark (they would see raw features otherwise); River's "
        "pipelines use `preprocessing.StandardScaler`; the Numba MLP has its own running "
        "standard scaler. Otherwise every system has its default settings: scikit-learn's "
        "MLPRegressor learns the raw targets, River's HoeffdingTreeRegressor fits linear "
        "models on the raw features in its leaves. On the long streams every system sees the "
        "same first rows (the slow peers would take far too long on all of them); Hanami's "
        "score on the whole stream follows the table.",
        "",
    ]  # fmt: skip
    for kind, title in (("classification", "Classification"), ("regression", "Regression")):
        names = [n for n, s in streams.items() if s["kind"] == kind]
        if names:
            lines += kind_tables(results, kind, title, names)
    if results["skipped"]:
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in results["skipped"].items()),
                  ""]  # fmt: skip
    if "robustness" in results:
        lines += stream_robustness.markdown(results["robustness"])
    lines.append("Seconds: " + ", ".join(f"{k} {v:.0f} s" for k, v in
                                         results["seconds"].items()) + ".")  # fmt: skip
    lines.append("")
    return lines


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows), ""]  # fmt: skip


def mean_score(stream: dict, system: str) -> float:
    return statistics.fmean(stream["systems"][system]["scores"])


def kind_tables(results: dict, kind: str, title: str, names: list[str]) -> list[str]:
    """Scores with the best peer and the gap to it, seed spreads, µs per sample."""
    streams = results["streams"]
    classification = kind == "classification"
    order = CLASSIFIERS if classification else REGRESSORS
    systems = [k for k in order if any(k in streams[n]["systems"] for n in names)]
    digits = 2 if classification else 3
    columns = ["stream", *(SHORT[k] for k in systems)]
    header = [*columns, "best peer", "Hanami - best"]
    rows = []
    for name in names:
        s = streams[name]
        ran = [k for k in systems if k in s["systems"]]
        peers = [k for k in ran if k != "hanami"]
        best = (max if classification else min)(peers, key=lambda k: mean_score(s, k), default=None)
        rows.append([
            stream_title(name, s),
            *(spread(s["systems"][k]["scores"], digits) if k in ran else "-" for k in systems),
            f"{SHORT[best]} {number(mean_score(s, best), digits)}" if best else "-",
            f"{mean_score(s, 'hanami') - mean_score(s, best):+.{digits}f}"
            if best and "hanami" in ran else "-",
        ] + ([spread(s["bayes"]) if "bayes" in s else "-"] if classification else []))  # fmt: skip
    if classification:
        header.append("Bayes")
        complete = [n for n in names if all(k in streams[n]["systems"] for k in systems)]
        means = [f"{statistics.fmean(mean_score(streams[n], k) for n in complete):.2f}"
                 if complete else "-" for k in systems]  # fmt: skip
        rows.append([f"**mean over the {len(complete)} streams**", *means, "", "", ""])
    metric = "accuracy %" if classification else "MAE"
    lines = [f"### {title} ({metric})", "", *table(header, rows)]
    full = [n for n in names if "hanami_full" in streams[n]]
    if full:
        parts = []
        for n in full:
            s = streams[n]
            whole = s["hanami_full"]
            bayes = f", Bayes {spread(s['bayes_full'])}" if "bayes_full" in s else ""
            test = (f", then its held-out test set {spread(whole['test_scores'], digits)}"
                    if "test_scores" in whole else "")  # fmt: skip
            parts.append(f"{n}, all {whole['rows']:,} rows: "
                         f"{spread(whole['scores'], digits)}{bayes}{test}")  # fmt: skip
        lines += ["Hanami on the whole stream (the table compares the first rows only): "
                  + "; ".join(parts) + ".", ""]  # fmt: skip
    lines += [f"Seed spread, {title.lower()} (max - min over the seeds; * = same data and no "
              "random state, run once):", "",
              *table(columns, [[n, *(seed_spread(streams[n], k, digits) for k in systems)]
                               for n in names])]  # fmt: skip
    speeds = [[n, *(speed(streams, [n], k) for k in systems)] for n in names]
    speeds.append(["**all rows**", *(speed(streams, names, k) for k in systems)])
    lines += [f"µs per sample (predict + learn, wall clock, mean over the seeds), "
              f"{title.lower()}:", "", *table(columns, speeds)]  # fmt: skip
    return lines


def seed_spread(stream: dict, system: str, digits: int) -> str:
    v = stream["systems"].get(system)
    if v is None:
        return "-"
    once = "*" if RUN_ONCE in v["notes"] else ""
    return f"{max(v['scores']) - min(v['scores']):.{digits}f}{once}"


def speed(streams: dict, names: list[str], system: str) -> str:
    """µs per sample over the rows of ``names`` (every seed counted)."""
    seconds = rows = 0.0
    for n in names:
        v = streams[n]["systems"].get(system)
        if v:
            rows += streams[n]["rows"] * len(v["us_per_sample"])
            seconds += streams[n]["rows"] * sum(v["us_per_sample"])
    return f"{seconds / rows:,.0f}" if rows else "-"


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", help="comma-separated stream names, or 'none'")
    parser.add_argument("--systems", help=f"comma-separated, from {', '.join(SYSTEMS)}")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--max-rows", type=int, help="use at most N rows of every stream")
    parser.add_argument("--robustness", action=argparse.BooleanOptionalAction, default=True,
                        help="run the MNIST robustness part (minutes)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--peers-cache", type=Path, help="peer results read/written here")
    parser.add_argument("--data", type=Path, default=stream_data.MNIST_DIR,
                        help="MNIST folder (default: ../shared/data/mnist)")  # fmt: skip
    args = parser.parse_args(argv)
    streams = None
    if args.streams is not None:
        streams = [] if args.streams == "none" else args.streams.split(",")
    results = run(
        streams=streams,
        systems=args.systems.split(",") if args.systems else None,
        seeds=tuple(int(s) for s in args.seeds.split(",")),
        max_rows=args.max_rows,
        mnist_dir=args.data,
        peers_cache=args.peers_cache,
        robustness=args.robustness,
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(markdown(results)))
    return results


if __name__ == "__main__":
    main()

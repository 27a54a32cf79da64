"""Robustness on MNIST: outliers and a change of scale in the middle of one pass.

Raw 0-255 pixels, the 60,000 training images once in file order, then a test on the 10,000
test images. Conditions:

* ``outlier_1``: the sample at position 30,000 multiplied by 1e6; ``outlier_10``: the ten
  samples at 30,000-30,009. Measured: test accuracy vs the clean run, and for Hanami the
  synapse count 5,000 samples after the last outlier vs the clean run at the same point.
* ``shift_x10``, ``shift_x0.1``: every pixel multiplied by 10 (or 0.1) from sample 30,000
  on. Measured: prequential accuracy in windows of 500 samples, and the samples after the
  shift until the accuracy of the last 500 samples is back within 2 points of the
  prequential accuracy of the 2,000 samples before the shift.

Systems: Hanami's core ``Cluster`` with the MNIST template of ``hanami bench mnist``
(default profile, ``enable_reduction`` false and true); the per-sample Numba MLP of
``peers.py`` behind a running max-abs scaler; River's
``MaxAbsScaler() | OneVsRestClassifier(LogisticRegression())``, fed the non-zero pixels only
(the same model: a zero neither changes a max-abs scaler nor a linear model without L2),
run once since it has no random state and the order is fixed.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import peers
import stream_data

CONDITIONS = ("clean", "outlier_1", "outlier_10", "shift_x10", "shift_x0.1")
FACTOR = 1e6
TOLERANCE = 2.0  # points of accuracy


@dataclass(frozen=True)
class Layout:
    """Positions in the stream; :meth:`scaled` shrinks them for a short run."""

    rows: int = 60_000
    at: int = 30_000  # first outlier, first shifted sample
    after: int = 5_000  # synapses counted this many samples after the last outlier
    window: int = 500
    before: int = 2_000
    test_rows: int = 10_000

    @classmethod
    def scaled(cls, rows: int) -> Layout:
        if rows >= cls.rows:
            return cls()
        f = rows / cls.rows
        return cls(rows, int(cls.at * f), max(int(cls.after * f), 1), max(int(cls.window * f), 1),
                   max(int(cls.before * f), 1), min(cls.test_rows, rows))  # fmt: skip

    def marks(self) -> dict[str, int]:
        """Rows trained when the synapses are counted, per outlier condition."""
        return {"outlier_1": self.at + 1 + self.after, "outlier_10": self.at + 10 + self.after}


def corrupt(X: np.ndarray, condition: str, layout: Layout) -> np.ndarray:
    X = X.astype(np.float32)
    if condition.startswith("outlier_"):
        n = int(condition.split("_")[1])
        X[layout.at : layout.at + n] *= np.float32(FACTOR)
    elif condition.startswith("shift_x"):
        X[layout.at :] *= np.float32(float(condition.removeprefix("shift_x")))
    return X


# ---------------------------------------------------------------- systems


def hanami_run(X, y, test_x, reduction: bool, seed: int, marks: list[int]) -> dict:
    from hanami.core import Cluster
    from hanami.core.templates import mnist_template

    cluster = Cluster(mnist_template(enable_reduction=reduction), seed=seed)
    Y = np.eye(10, dtype=np.float32)[y]
    predicted, synapses, start = [], {}, 0
    for stop in [*sorted(m for m in marks if m < len(y)), len(y)]:
        outputs = cluster.train(X[start:stop], Y[start:stop], return_outputs=True).outputs
        predicted.append(outputs.argmax(axis=1))
        synapses[stop] = cluster.metrics()["synapses"]
        start = stop
    test = cluster.request(test_x).argmax(axis=1)
    return {"predicted": np.concatenate(predicted), "test": test, "synapses": synapses}


def mlp_run(X, y, test_x, seed: int) -> dict:
    model = peers.OnlineMLP(X.shape[1], 10, max_abs=True, seed=seed)
    return {"predicted": model.prequential(X, y), "test": model.predict(test_x)}


def river_run(X, y, test_x) -> dict:
    from river import linear_model, multiclass, preprocessing

    model = preprocessing.MaxAbsScaler() | multiclass.OneVsRestClassifier(
        linear_model.LogisticRegression()
    )
    keys = [f"x{k}" for k in range(X.shape[1])]

    def rows(A):
        for row in A:
            nz = np.flatnonzero(row)
            yield dict(zip([keys[k] for k in nz], row[nz].tolist(), strict=True))

    predicted = np.full(len(y), -1, dtype=np.int64)
    for i, (x, label) in enumerate(zip(rows(X), y.tolist(), strict=True)):
        p = model.predict_one(x)
        predicted[i] = -1 if p is None else p
        model.learn_one(x, label)
    test = np.array([-1 if (p := model.predict_one(x)) is None else p for x in rows(test_x)])
    return {"predicted": predicted, "test": test}


# ---------------------------------------------------------------- measures


def windows(hits: np.ndarray, size: int) -> list[float]:
    """Accuracy (%) of consecutive windows of ``size`` samples."""
    n = len(hits) // size
    return (100.0 * hits[: n * size].reshape(n, size).mean(axis=1)).tolist()


def recovery(hits: np.ndarray, layout: Layout) -> dict:
    """Accuracy before the shift, after it, and the samples until it is back within
    ``TOLERANCE`` points (trailing window of ``layout.window`` samples; None: never)."""
    at, w = layout.at, layout.window
    before = 100.0 * float(hits[at - layout.before : at].mean())
    after = hits[at:]
    trailing = 100.0 * np.convolve(after, np.ones(w), "valid") / w  # [k]: samples k..k+w-1
    back = np.flatnonzero(trailing >= before - TOLERANCE)
    return {"before": before, "first_window": float(trailing[0]),
            "lowest_window": float(trailing.min()),
            "recovered_after": int(back[0] + w) if back.size else None}  # fmt: skip


@dataclass
class Outcome:
    test_accuracy: float
    prequential: float
    synapses: dict | None = None
    windows: list[float] | None = None
    recovery: dict | None = None


def measure(result: dict, condition: str, y, test_y, layout: Layout) -> Outcome:
    hits = (result["predicted"] == y).astype(np.float64)
    out = Outcome(100.0 * float(np.mean(result["test"] == test_y)), 100.0 * float(hits.mean()))
    if "synapses" in result:
        out.synapses = {str(k): v for k, v in result["synapses"].items()}
    if condition.startswith("shift"):
        out.windows = windows(hits, layout.window)
        out.recovery = recovery(hits, layout)
    return out


def run(mnist_dir: Path, seeds, max_rows: int | None, log, systems=None) -> dict:
    """Every condition for every system and seed; Hanami with reduction off and on."""
    data = stream_data.mnist_arrays(Path(mnist_dir))
    layout = Layout.scaled(min(len(data["train_y"]), max_rows or len(data["train_y"])))
    y = data["train_y"][: layout.rows]
    test_x = data["test_x"][: layout.test_rows].astype(np.float32)
    test_y = data["test_y"][: layout.test_rows]
    marks = sorted(layout.marks().values())
    names = [n for n in ("hanami", "hanami_reduction", "numba_mlp", "river_lr")
             if systems is None or n.removesuffix("_reduction") in systems]  # fmt: skip
    results: dict = {"layout": asdict(layout), "systems": {n: {} for n in names},
                     "seconds": {}}  # fmt: skip
    for condition in CONDITIONS:
        X = corrupt(data["train_x"][: layout.rows], condition, layout)
        for name in names:
            start = time.perf_counter()
            outcomes = []
            for seed in seeds[:1] if name == "river_lr" else seeds:
                if name.startswith("hanami"):
                    r = hanami_run(X, y, test_x, name.endswith("reduction"), seed, marks)
                elif name == "numba_mlp":
                    r = mlp_run(X, y, test_x, seed)
                else:
                    r = river_run(X, y, test_x)
                outcomes.append(asdict(measure(r, condition, y, test_y, layout)))
            results["systems"][name][condition] = outcomes
            seconds = time.perf_counter() - start
            results["seconds"][f"{name}/{condition}"] = round(seconds, 1)
            accuracy = statistics.fmean(o["test_accuracy"] for o in outcomes)
            log(f"robustness {name} {condition}: test {accuracy:.2f} % ({seconds:.0f} s)")
    return results


# ---------------------------------------------------------------- report

NAMES = {"hanami": "Hanami (reduction off)", "hanami_reduction": "Hanami (reduction on)",
         "numba_mlp": "Numba MLP, running max-abs scaler",
         "river_lr": "River MaxAbsScaler, LogisticRegression (OvR), one run"}  # fmt: skip


def _mean(outcomes: list[dict], key: str) -> float:
    return statistics.fmean(o[key] for o in outcomes)


def _cell(outcomes: list[dict], key: str, digits: int = 2) -> str:
    values = [o[key] for o in outcomes]
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def markdown(r: dict) -> list[str]:
    lay = Layout(**r["layout"])
    systems = r["systems"]
    lines = [
        "### Robustness (MNIST, raw 0-255 pixels, one pass in file order)",
        "",
        "Hanami: the core `Cluster` with the MNIST template of `hanami bench mnist` (default "
        "profile), `enable_reduction` off and on. Peers: the per-sample Numba MLP behind a "
        "running max-abs scaler, and River's `MaxAbsScaler() | "
        "OneVsRestClassifier(LogisticRegression())` fed the non-zero pixels only (the same "
        "model: a zero changes neither), run once as it has no random state.",
        "",
        f"Outliers: the sample at {lay.at:,} multiplied by {FACTOR:,.0f} (1 outlier), or the "
        f"ten at {lay.at:,}-{lay.at + 9:,}. Test accuracy % on the {lay.test_rows:,} test "
        "images after the pass, mean over the seeds (min-max); the change is against the "
        "clean run.",
        "",
        "| system | clean | 1 outlier | change | 10 outliers | change |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in systems.items():
        clean = _mean(runs["clean"], "test_accuracy")
        lines.append(
            f"| {NAMES[name]} | {_cell(runs['clean'], 'test_accuracy')} "
            f"| {_cell(runs['outlier_1'], 'test_accuracy')} "
            f"| {_mean(runs['outlier_1'], 'test_accuracy') - clean:+.2f} "
            f"| {_cell(runs['outlier_10'], 'test_accuracy')} "
            f"| {_mean(runs['outlier_10'], 'test_accuracy') - clean:+.2f} |"
        )
    marks = lay.marks()
    hanami = [n for n in ("hanami", "hanami_reduction") if n in systems]
    if hanami:
        lines += ["", f"Hanami's synapses {lay.after:,} samples after the last outlier (after "
                  f"{marks['outlier_1']:,} and {marks['outlier_10']:,} samples), vs the clean "
                  "run at the same point (mean over the seeds):", "",
                  "| reduction | clean | 1 outlier | ratio | clean | 10 outliers | ratio |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for name in hanami:
            runs, cells = systems[name], []
            for condition in ("outlier_1", "outlier_10"):
                mark = str(marks[condition])
                clean = statistics.fmean(o["synapses"][mark] for o in runs["clean"])
                hit = statistics.fmean(o["synapses"][mark] for o in runs[condition])
                cells += [f"{clean:,.0f}", f"{hit:,.0f}", f"{hit / clean:.3f}"]
            on = "on" if name.endswith("reduction") else "off"
            lines.append(f"| {on} | " + " | ".join(cells) + " |")
    lines += ["", f"Change of scale from sample {lay.at:,} on: prequential accuracy % of the "
              f"{lay.before:,} samples before, of the first {lay.window} after, the lowest "
              f"{lay.window}-sample window after, and the samples until the last {lay.window} "
              f"are back within {TOLERANCE:.0f} points of the accuracy before (mean over the "
              "seeds; 'never': not within the pass):", "",
              "| system | shift | before | first window | lowest window | recovered after |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for name, runs in systems.items():
        for condition in ("shift_x10", "shift_x0.1"):
            rec = [o["recovery"] for o in runs[condition]]
            after = [x["recovered_after"] for x in rec]
            recovered = ("never" if None in after and len(set(after)) == 1 else
                         ", ".join("never" if a is None else f"{a:,}" for a in after))  # fmt: skip
            lines.append(
                f"| {NAMES[name]} | x{condition.removeprefix('shift_x')} "
                f"| {statistics.fmean(x['before'] for x in rec):.2f} "
                f"| {statistics.fmean(x['first_window'] for x in rec):.2f} "
                f"| {statistics.fmean(x['lowest_window'] for x in rec):.2f} | {recovered} |"
            )
    lines += ["", f"Windows of {lay.window} samples: `robustness.systems.*.shift_*[].windows` "
              "in the JSON.", ""]  # fmt: skip
    return lines

"""Where the time of a training step goes, on the streams of ``streams.py``.

    python benchmarks/step_cost.py [--streams wine,bananas,...] [--rows N]

For each stream (seed 0) a fresh estimator learns the first row through ``prequential``;
the next rows are then trained one phase at a time (forward pass with growth, the
structure changes queued during it, backward pass, and the reduction where the template
turns it on: the estimators' templates do not, so it reads 0), each phase a kernel call
of its own timed in thread CPU time, less the cost of calling a kernel (measured on one
that does nothing). The loop is the step of ``kernels.rows`` (tests/benchmarks checks
that it ends in the same network as ``Cluster.train``). Also reported: the synapses the
forward and backward passes walked per sample, the CPU nanoseconds per synapse walked
(forward and backward together), and the fixed CPU cost of a pass of one row on a new
estimator (construction, validation, the first allocations): what a short stream pays
besides its steps.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import stream_data
import streams
from hanami.core import Cluster
from hanami.core import state as st
from hanami.core.kernels.rows import has_reserve
from hanami.estimators import HanamiClassifier, HanamiRegressor, prequential
from hanami.estimators._common import scale_targets

PHASES = ("forward", "growth", "backward", "reduction")


def fresh_estimator(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int):
    """An estimator that has learned row 0 (so it has a network), as ``streams.hanami``."""
    if n_classes:
        model = HanamiClassifier(random_state=seed)
        prequential(model, X[:1], y[:1], classes=np.arange(n_classes))
    else:
        model = HanamiRegressor(random_state=seed)
        prequential(model, X[:1], y[:1])
    return model


def engine_rows(model, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' input and expected rows for ``X``, ``y``, the rows after the first,
    coded as the estimator's pass codes them (a regressor's targets are scaled in the
    range of the whole stream instead of the range so far: only the timing matters)."""
    inputs = model.cluster_._prepare_inputs(model._coder.encode(X, learn=True))
    if isinstance(model, HanamiClassifier):
        Y = np.eye(len(model.classes_), dtype=np.float32)[np.searchsorted(model.classes_, y)]
    else:
        Y = scale_targets(y[:, None], y.min(), y.max())
    return inputs, Y


def walked(s: st.State) -> int:
    """Synapses the last forward pass walked (the backward pass walks the same)."""
    cb = int(s.meta[st.M_CB])
    n = s.cb_nlist[:cb]
    listed = np.arange(s.c_list.shape[1])[None, :] < n[:, None]
    stops = np.take_along_axis(s.c_stop[:cb], s.c_list[:cb], axis=1)
    return int(stops[listed].astype(np.int64).sum())


def phase_steps(cluster: Cluster, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, int]:
    """Train ``cluster`` on the rows one phase call at a time; returns the thread CPU ns
    per phase (summed over rows, call cost included), the synapses walked and the
    reduction cycles run (the estimators' templates leave the reduction off)."""
    kernels, params = cluster._kernels, cluster._params
    ns, synapses, cycles = np.zeros(len(PHASES)), 0, 0
    for i in range(X.shape[0]):
        cluster._grow()
        S, s = cluster._ref(), cluster._state
        s.o_exp[:] = Y[i]
        t0 = time.thread_time_ns()
        kernels.forward(S, params, X[i], True)
        t1 = time.thread_time_ns()
        kernels.grow(S, params)
        t2 = time.thread_time_ns()
        kernels.backward(S, params)
        t3 = time.thread_time_ns()
        ns += (t1 - t0, t2 - t1, t3 - t2, 0)
        s.meta[st.M_SAMPLES] += 1
        if params.reduction and s.meta[st.M_SAMPLES] % params.reduction_interval == 0:
            t0 = time.thread_time_ns()
            kernels.reduce(S, params)
            ns[3] += time.thread_time_ns() - t0
            cycles += 1
        synapses += walked(s)
    return ns, synapses, cycles


def call_ns(cluster: Cluster, calls: int = 2000) -> float:
    """Thread CPU ns of calling a kernel with the state and parameters, doing nothing,
    timed as a phase is (reading the clock costs about as much as the call)."""
    S, params = cluster._ref(), cluster._params
    has_reserve(S, params)
    total = 0
    for _ in range(calls):
        t0 = time.thread_time_ns()
        has_reserve(S, params)
        total += time.thread_time_ns() - t0
    return total / calls


def fixed_ms(X: np.ndarray, y: np.ndarray, n_classes: int, repeats: int = 20) -> float:
    """Fastest thread CPU ms of a one-row pass on a new estimator."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        fresh_estimator(X, y, n_classes, 0)
        best = min(best, time.thread_time_ns() - t0)
    return best / 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", help="comma-separated stream names (default: all)")
    parser.add_argument("--rows", type=int, default=2000, help="rows per stream, at most")
    parser.add_argument("--data", default=str(stream_data.MNIST_DIR), help="MNIST folder")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the estimators' no-signal warnings on first rows
    loaders = stream_data.streams(args.data)
    streams.warm_up()
    print("| stream | rows | " + " | ".join(f"{p} µs" for p in PHASES)
          + " | call µs | synapses walked | ns / synapse | new estimator ms |")  # fmt: skip
    print("|---" * (len(PHASES) + 7) + "|")
    for name in args.streams.split(",") if args.streams else list(loaders):
        stream = loaders[name](0)
        rows = min(len(stream.y), streams.PREFIX.get(name, len(stream.y)), args.rows)
        X, y = stream.X[:rows], stream.y[:rows]
        n_classes = int(stream.y.max()) + 1 if stream.kind == "classification" else 0
        warm = fresh_estimator(X, y, n_classes, 0)  # first calls load the kernels
        phase_steps(warm.cluster_, *engine_rows(warm, X[1:10], y[1:10]))
        model = fresh_estimator(X, y, n_classes, 0)
        inputs, Y = engine_rows(model, X[1:], y[1:])
        ns, synapses, cycles = phase_steps(model.cluster_, inputs, Y)
        call = call_ns(model.cluster_)
        n = len(inputs)
        net = ns - call * np.array([n, n, n, cycles])
        cells = " | ".join(f"{v / n / 1e3:.1f}" for v in net)
        per_synapse = (net[0] + net[2]) / max(synapses, 1)
        print(f"| {name} | {n:,} | {cells} | {call / 1e3:.1f} | {synapses / n:,.0f} | "
              f"{per_synapse:.1f} | {fixed_ms(X, y, n_classes):.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

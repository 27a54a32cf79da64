"""`hanami bench mnist`: train and test the engine on MNIST, one sample at a time.

Raw 0-255 pixels, no normalisation, epoch 1 in file order (later epochs too unless
``--shuffle``), a test of the 10,000 test images after every epoch, repeated over seeds.
CPU time is ``time.process_time`` around the compiled loops; JIT compilation (or loading
the cached kernels) is measured on its own, before the timed runs.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from hanami.core import Cluster, TemplateError, parse_template
from hanami.core.template import PROFILES
from hanami.core.templates import OPENHANAMI_MNIST
from hanami.datasets import DatasetError, read_idx

app = typer.Typer(help="Benchmarks of the engine.", no_args_is_help=True)

MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
DEFAULT_DATA = Path("../shared/data/mnist")
DATA_HELP = "Folder with the MNIST IDX files (default: mnist in ../shared/data)."
TEMPLATE_HELP = "Template file (default: the OpenHanami MNIST test template)."


@dataclass
class MnistResult:
    """What one ``hanami bench mnist`` run measured (the ``--json`` document)."""

    profile: str
    seeds: int
    epochs: int
    shuffle: bool
    train_cpu_s: list[float] = field(default_factory=list)  # median over seeds, per epoch
    train_wall_s: list[float] = field(default_factory=list)
    test_cpu_s: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)  # mean over seeds, per epoch
    accuracy_min: list[float] = field(default_factory=list)
    accuracy_max: list[float] = field(default_factory=list)
    sections: int = 0  # after the last epoch, median over seeds
    synapses: int = 0
    bytes: int = 0
    synapses_removed: int = 0
    compile_s: float = 0.0
    peak_rss_mb: float = 0.0


def load_mnist(directory: str | Path) -> dict[str, np.ndarray]:
    """The four MNIST IDX files (``.gz`` or plain): uint8 pixels ``[n, 784]``, int labels."""
    directory, data = Path(directory), {}
    for key, stem in MNIST_FILES.items():
        candidates = [directory / f"{stem}.gz", directory / stem]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(f"{stem}(.gz) not found in {directory}")
        array = read_idx(path)
        data[key] = array.reshape(len(array), -1) if key.endswith("x") else array.astype(np.int64)
    return data


def warm_up(template: str) -> float:
    """Seconds to compile (or load from the cache) every kernel the benchmark runs."""
    start = time.perf_counter()
    c = Cluster(template, seed=0)
    x = np.full((2, 4), 100.0, dtype=np.float32)
    c.train(x, np.eye(2, dtype=np.float32))
    c.request(x)
    return time.perf_counter() - start


def train_in_chunks(
    cluster: Cluster, X: np.ndarray, Y: np.ndarray, order: np.ndarray | None, chunk: int = 1000
) -> None:
    """One epoch over ``X`` (raw uint8 pixels) in ``order``, converted to float32 a chunk at a
    time into one reused buffer: the float copy of the training set never exists, and no
    chunk maps fresh pages for the kernel to zero (a new 10,000-row copy per chunk spent up
    to a tenth of the epoch's CPU there; docs/engine.md, Time per sample, twentieth round).
    """
    rows = np.arange(len(X)) if order is None else order
    picked = np.empty((min(chunk, len(rows)), *X.shape[1:]), dtype=X.dtype)
    floats = np.empty(picked.shape, dtype=np.float32)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        n = len(part)
        np.take(X, part, axis=0, out=picked[:n])
        np.copyto(floats[:n], picked[:n])
        cluster.train(floats[:n], Y[part])


def run_mnist(
    data: dict[str, np.ndarray],
    template: str,
    *,
    epochs: int = 1,
    seeds: int = 1,
    shuffle: bool = False,
    progress: bool = False,
) -> MnistResult:
    """Train and test ``seeds`` clusters for ``epochs`` epochs each."""
    settings = parse_template(template).settings
    result = MnistResult(profile=settings.profile, seeds=seeds, epochs=epochs, shuffle=shuffle)
    result.compile_s = round(warm_up(template), 3)
    expected = np.eye(10, dtype=np.float32)[data["train_y"]]
    cpu = [[0.0] * seeds for _ in range(epochs)]
    wall = [[0.0] * seeds for _ in range(epochs)]
    test = [[0.0] * seeds for _ in range(epochs)]
    acc = [[0.0] * seeds for _ in range(epochs)]
    metrics = []
    test_x = data["test_x"].astype(np.float32)
    console = Console(stderr=True)
    for s in range(seeds):
        cluster = Cluster(template, seed=s + 1)
        rng = np.random.default_rng(s + 1)
        for e in range(epochs):
            order = rng.permutation(len(expected)) if shuffle and e > 0 else None
            c0, w0 = time.process_time(), time.perf_counter()
            train_in_chunks(cluster, data["train_x"], expected, order)
            cpu[e][s] = time.process_time() - c0
            wall[e][s] = time.perf_counter() - w0
            c0 = time.process_time()
            predicted = cluster.request(test_x).argmax(axis=1)
            test[e][s] = time.process_time() - c0
            acc[e][s] = 100.0 * float((predicted == data["test_y"]).mean())
            if progress:
                console.print(f"seed {s + 1} epoch {e + 1}: {acc[e][s]:.2f} % "
                              f"in {cpu[e][s]:.2f} s CPU")  # fmt: skip
        metrics.append(cluster.metrics())
    result.train_cpu_s = [round(statistics.median(v), 3) for v in cpu]
    result.train_wall_s = [round(statistics.median(v), 3) for v in wall]
    result.test_cpu_s = [round(statistics.median(v), 3) for v in test]
    result.accuracy = [round(statistics.fmean(v), 3) for v in acc]
    result.accuracy_min = [round(min(v), 3) for v in acc]
    result.accuracy_max = [round(max(v), 3) for v in acc]
    for key in ("sections", "synapses", "bytes", "synapses_removed"):
        setattr(result, key, int(statistics.median(m[key] for m in metrics)))
    result.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _table(r: MnistResult) -> Table:
    table = Table(title=f"MNIST, profile {r.profile}, {r.seeds} seed(s), raw 0-255 pixels")
    for column in ("epoch", "train CPU s", "train wall s", "test CPU s", "accuracy %",
                   "min %", "max %"):  # fmt: skip
        table.add_column(column, justify="right")
    for e in range(r.epochs):
        table.add_row(str(e + 1), f"{r.train_cpu_s[e]:.3f}", f"{r.train_wall_s[e]:.3f}",
                      f"{r.test_cpu_s[e]:.3f}", f"{r.accuracy[e]:.2f}",
                      f"{r.accuracy_min[e]:.2f}", f"{r.accuracy_max[e]:.2f}")  # fmt: skip
    table.caption = (f"sections {r.sections}, synapses {r.synapses}, bytes {r.bytes:,}, "
                     f"compile {r.compile_s:.2f} s, peak RSS {r.peak_rss_mb:.0f} MB")  # fmt: skip
    return table


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def mnist(
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs per seed.")] = 1,
    seeds: Annotated[int, typer.Option(min=1, help="Independent runs (seeds 1..K).")] = 1,
    shuffle: Annotated[bool, typer.Option(help="Shuffle epochs after the first.")] = False,
    profile: Annotated[str, typer.Option(help="Engine profile (see docs/engine.md).")] = "default",
    template: Annotated[Path | None, typer.Option(help=TEMPLATE_HELP)] = None,
    reduction: Annotated[bool | None, typer.Option(help="Override enable_reduction.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train on the 60,000 MNIST images one sample at a time and test after every epoch."""
    directory = data or DEFAULT_DATA
    if profile not in PROFILES:
        _fail(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    try:
        text = template.read_text() if template else OPENHANAMI_MNIST
        parsed = parse_template(text).with_settings(profile=profile)
        if reduction is not None:
            parsed = parsed.with_settings(enable_reduction=reduction)
        arrays = load_mnist(directory)
    except TemplateError as exc:
        _fail(f"{template}: {exc}")
    except (OSError, DatasetError) as exc:
        _fail(str(exc))
    result = run_mnist(arrays, parsed.to_text(), epochs=epochs, seeds=seeds, shuffle=shuffle,
                       progress=not as_json)  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(asdict(result)) + "\n")
    else:
        Console().print(_table(result))

"""`make bench`: run every benchmark in one go and write BENCHMARKS.md.

The engine, its peers, the thread scaling, the service and the stream suite (`streams.py`)
are measured in the same run on the same machine, so their ratios mean something even where
absolute times are noisy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

import epoch_ratio
import peers
import server as server_bench
import streams
import threads
from hanami.cli.bench import DEFAULT_DATA, load_mnist


def hanami_bench(*args: str) -> dict:
    """``hanami bench mnist --json`` in its own process (peak RSS is per process)."""
    cmd = [str(Path(sys.executable).with_name("hanami")), "bench", "mnist", "--json", *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {"command": "hanami bench mnist --json " + " ".join(args), **json.loads(out)}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())  # fmt: skip
    import os

    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--stream-robustness", action=argparse.BooleanOptionalAction,
                        default=True, help="the MNIST robustness part of streams.py")  # fmt: skip
    args = parser.parse_args()
    data_args = ["--data", str(args.data)]
    runs = [
        hanami_bench("--profile", "classic", "--seeds", str(args.seeds), *data_args),
        hanami_bench("--profile", "default", "--seeds", str(args.seeds), *data_args),
        hanami_bench("--profile", "default", "--epochs", "10", *data_args),
        hanami_bench("--profile", "default", "--epochs", "10", "--reduction", *data_args),
    ]
    data = load_mnist(args.data)
    peer_results = [peers.mlp(data), peers.sgd(data)]
    alternating = epoch_ratio.run(data)
    scaling = threads.main(args.data)
    service = server_bench.main(args.data)
    stream_results = streams.run(mnist_dir=args.data, robustness=args.stream_robustness)
    write_report(args.output, runs, peer_results, alternating, scaling, service, stream_results)


def write_report(
    path: Path,
    runs: list[dict],
    peer_results: list[dict],
    alternating: dict,
    scaling: dict,
    service: dict,
    stream_results: dict,
) -> None:
    today = datetime.date.today().isoformat()
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python benchmarks/run_all.py`) on {today}, "
        f"machine: {machine()}. One thread, raw 0-255 MNIST pixels for Hanami, epoch 1 in "
        "file order; CPU seconds from `time.process_time` around the compiled loops. "
        "The peers ran in the same `make bench` run.",
        "",
        "## Hanami engine",
        "",
        "| command | profile | epochs | seeds | train CPU s (per epoch, median) | test CPU s "
        "| accuracy % (mean; min-max) | sections | synapses | bytes | compile s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        acc = ", ".join(f"{a:.2f}" for a in r["accuracy"])
        lines.append(
            f"| `{r['command']}` | {r['profile']} | {r['epochs']} | {r['seeds']} "
            f"| {', '.join(f'{t:.2f}' for t in r['train_cpu_s'])} | {r['test_cpu_s'][-1]:.3f} "
            f"| {acc} ({r['accuracy_min'][-1]:.2f}-{r['accuracy_max'][-1]:.2f}) "
            f"| {r['sections']} | {r['synapses']} | {r['bytes']:,} | {r['compile_s']:.2f} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    lines += ["", "## Peers (same run)", "", "| peer | train CPU s | test CPU s | accuracy % |",
              "|---|---|---|---|"]  # fmt: skip
    for p in peer_results:
        lines.append(f"| {p['name']} | {p['train_cpu_s']:.2f} | {p['test_cpu_s']:.3f} "
                     f"| {p['accuracy']:.2f} |")  # fmt: skip
    default = next(r for r in runs if r["profile"] == "default")
    mlp = peer_results[0]
    lines += [
        "",
        f"Ratio, default profile epoch 1 vs the per-sample MLP: "
        f"{default['train_cpu_s'][0] / mlp['train_cpu_s']:.2f}x its training CPU time, "
        f"{default['accuracy'][0] - mlp['accuracy']:+.2f} points of accuracy.",
        "",
        "The same in alternating rounds (`python benchmarks/epoch_ratio.py`: seed 1, the two "
        "learners back to back in each round, the first one alternating):",
        "",
        *epoch_ratio.markdown(alternating),
        "",
        "## Two clusters on two threads",
        "",
        f"`python benchmarks/threads.py`: {scaling['one_thread_samples_per_s']:,} samples/s "
        f"with one cluster on one thread, {scaling['two_threads_samples_per_s']:,} samples/s "
        f"with two clusters on two threads: **{scaling['speedup']}x** "
        f"({scaling['rows_per_cluster']:,} MNIST rows per cluster).",
        "",
        *service_section(service),
        "## Streams (`python benchmarks/streams.py`, same run)",
        "",
        *streams.markdown(stream_results),
        "Raw results: `BENCHMARKS.json`.",
        "",
    ]
    path.write_text("\n".join(lines))
    path.with_suffix(".json").write_text(json.dumps(
        {"runs": runs, "peers": peer_results, "epoch_ratio": alternating, "threads": scaling,
         "service": service, "streams": stream_results},
        indent=1) + "\n")  # fmt: skip


def service_section(s: dict) -> list[str]:
    """The service benchmarks of ``benchmarks/server.py`` as Markdown lines."""
    t, c, b = s["train_task"], s["direct_compatible"], s["direct_batched"]
    g = s["get_load"]["paced"]
    return [
        "## The service (`python benchmarks/server.py`, same run)",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| 60,000-row MNIST train task vs the engine's own epoch (best of "
        f"{len(t['server_task_s_all'])}) | {t['server_task_s']:.2f} s vs "
        f"{t['engine_epoch_s']:.2f} s: **{t['ratio']:.2f}x** | <= 1.10x |",
        f"| direct I/O, original ping-pong protocol (best of {len(c['runs_steps_per_s'])}: "
        f"{', '.join(f'{r:,}' for r in c['runs_steps_per_s'])}) | **{c['steps_per_s']:,} steps/s** "
        f"(SDK {c['sdk_steps_per_s']:,}) | >= 2,000 |",
        f"| direct I/O, batched mode | **{b['samples_per_s']:,} samples/s** (engine alone "
        f"{b['engine_samples_per_s']:,}) | >= 20,000 |",
        f"| {g['clients']} clients on GET endpoints, 1 GET/s each, for {g['seconds']:.0f} s | "
        f"{g['errors']} errors, p50 {g['p50_ms']:.1f} ms, p99 **{g['p99_ms']:.1f} ms** | "
        "0 errors, p99 <= 20 ms |",
        *get_cpu_rows(s["get_load"], "SQLite"),
        "",
        f"Load average while it ran: {s['load_average'][0]:.2f} before, "
        f"{s['load_average_after'][0]:.2f} after.",
        "",
    ]


def get_cpu_rows(g: dict, database: str) -> list[str]:
    """The closed-loop GET rows: server CPU per GET beside the anchors of the same run."""
    c, a = g["closed_loop"], g["anchors"]
    bare = a["bare_fastapi"]["server_cpu_ms_per_request"]
    idiomatic = a["fastapi_jwt_sqlalchemy"]["server_cpu_ms_per_request"]
    return [
        f"| GET mix ({database}), {c['clients']} closed-loop clients: server CPU per GET vs "
        "bare FastAPI and FastAPI + PyJWT + SQLAlchemy `Session.get` (same run, same client) | "
        f"{c['server_cpu_ms_per_request']:.2f} ms vs {bare:.2f} and {idiomatic:.2f} ms: "
        f"**{g['cpu_ratio_to_idiomatic']:.2f}x** the second, {c['errors']} errors | "
        "<= 0.5 ms, <= 0.5x |",
    ]


if __name__ == "__main__":
    main()

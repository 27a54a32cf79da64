"""Parse time per MB of CSV files with headers of 10 to 10^6 columns: flat if parsing is linear.

Each file is a header of N columns (``c0,c1,...``) and one data row of N zeros, read with
:func:`hanami.datasets.read_csv` under limits that fit it exactly (the server's defaults
refuse the wider ones). Small files are parsed repeatedly until about ``--megabytes`` MB
went through; for the smallest, the fixed cost of each parse (shown per file) dominates.
A quadratic step (the duplicate-name check once was one) shows as seconds per MB that grow
with N.

    python benchmarks/parse_limits.py [--megabytes 4] [--columns 10 1000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import time

from hanami.datasets import ParseLimits, read_csv

COLUMNS = (10, 10**3, 10**5, 10**6)


def csv_file(columns: int) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    return f"{header}\n{','.join('0' * columns)}\n".encode()


def measure(columns: int, megabytes: float) -> dict:
    content = csv_file(columns)
    repeats = max(1, round(megabytes * 1e6 / len(content)))
    limits = ParseLimits(max_columns=columns, max_rows=1, max_bytes=len(content))
    start = time.perf_counter()
    for _ in range(repeats):
        read_csv(content, limits=limits)
    elapsed = time.perf_counter() - start
    return {
        "columns": columns,
        "file_bytes": len(content),
        "repeats": repeats,
        "seconds_per_mb": round(elapsed / (repeats * len(content) / 1e6), 4),
        "microseconds_per_file": round(elapsed / repeats * 1e6, 1),
    }


def main(columns: tuple[int, ...] = COLUMNS, megabytes: float = 4.0) -> list[dict]:
    return [measure(n, megabytes) for n in columns]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=4.0, help="MB parsed per size")
    parser.add_argument("--columns", type=int, nargs="+", default=list(COLUMNS))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = main(tuple(args.columns), args.megabytes)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"{'columns':>9} {'file bytes':>11} {'repeats':>8} {'s per MB':>9} {'us per file':>12}"
        )
        for r in results:
            print(f"{r['columns']:>9} {r['file_bytes']:>11} {r['repeats']:>8} "
                  f"{r['seconds_per_mb']:>9.4f} {r['microseconds_per_file']:>12.1f}")  # fmt: skip

"""What a batched frame's journal record costs to append, and what the appending thread does
meanwhile.

    python benchmarks/journal_write.py [--rounds 3] [--records 60]

A 1,024-row MNIST record (784 inputs, 10 expected values: 3.25 MB) is appended with
:meth:`StepJournal.append` (``interval`` mode, as the server's default), one every 30 ms of a
busy loop that stands in for the frame's pass, once without and once with a
:class:`PeriodicSync` syncing the file every 0.2 s, as the server. The thread's scheduler
CPU time and scheduler statistics (``/proc/thread-self/schedstat``) split each append's
time into time on a core, time runnable but waiting for one, and the rest (asleep: a lock,
the disk), which tells CPU starvation from a wait on the file system. Rounds alternate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hanami.server.runtime.journal import TRAIN_STEP, PeriodicSync, StepJournal

PASS_S = 0.03


def _schedstat() -> tuple[float, float]:
    """This thread's seconds on a core (``thread_time``: its schedstat field lags by up to
    a scheduler tick while it runs) and runnable waiting for one, so far."""
    waiting = Path("/proc/thread-self/schedstat").read_text().split()[1]
    return time.thread_time(), int(waiting) / 1e9


def appends(folder: Path, records: int, *, sync: bool) -> tuple[list[float], list[float]]:
    """Append ``records`` records: their seconds, and the seconds of all of them on a core,
    waiting for one, and asleep."""
    rng = np.random.default_rng(0)
    inputs = {"picture_hex": rng.random((1024, 784), dtype=np.float32)}
    expected = {"label_hex": rng.random((1024, 10), dtype=np.float32)}
    split = [0.0, 0.0, 0.0]
    with ThreadPoolExecutor(1) as pool:
        journal = StepJournal(folder / "j.journal", bytes(32), pool, mode="interval")
        syncer = PeriodicSync(lambda: [journal], 0.2)
        if sync:
            syncer.start()
        seconds = []
        for _ in range(records):
            started = time.perf_counter()  # the clocks' reads count as the append's time
            on_cpu, waiting = _schedstat()
            journal.append(TRAIN_STEP, inputs, expected)
            on_cpu_after, waiting_after = _schedstat()
            seconds.append(time.perf_counter() - started)
            split[0] += on_cpu_after - on_cpu
            split[1] += waiting_after - waiting
            split[2] += seconds[-1] - (on_cpu_after - on_cpu) - (waiting_after - waiting)
            until = time.perf_counter() + PASS_S
            while time.perf_counter() < until:  # the pass holds a core
                pass
        syncer.stop()
        journal.close(remove=True)
    return sorted(seconds), split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journal-write-") as folder:
        for _ in range(args.rounds):
            for sync in (False, True):
                ms, split = appends(Path(folder), args.records, sync=sync)
                ms = [s * 1e3 for s in ms]
                on_cpu, waiting, asleep = (s * 1e3 / len(ms) for s in split)
                print(
                    f"sync every 0.2 s: {sync!s:5}  append median {ms[len(ms) // 2]:.2f} ms, "
                    f"mean {sum(ms) / len(ms):.2f}, p90 {ms[len(ms) * 9 // 10]:.2f}; of the "
                    f"mean: on a core {on_cpu:.2f}, waiting for one {waiting:.2f}, "
                    f"asleep {asleep:.2f}"
                )


if __name__ == "__main__":
    main()

"""Progress bars on stderr: bytes for transfers, samples (rate, ETA) for tasks."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

__all__ = ["duration", "progress_bar", "stderr_console"]


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def _columns(kind: str) -> list[Any]:
    if kind == "bytes":
        return [
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]
    return [
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA {task.fields[eta]}"),
    ]


@contextlib.contextmanager
def progress_bar(
    description: str, *, total: float | None, kind: str = "bytes"
) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr (only drawn on a terminal); yields ``update``.

    ``kind="bytes"`` shows size and transfer rate; ``kind="samples"`` shows done/total
    samples, samples per second and the ETA (pass ``completed``, ``total`` to update).
    """
    console = stderr_console()
    with Progress(*_columns(kind), console=console, disable=not console.is_terminal) as progress:
        task_id = progress.add_task(description, total=total, count="", rate="", eta="-")
        started: list[float] = []

        def update(
            completed: float,
            total: float | None = None,
            *,
            rate: float | None = None,
            eta: float | None = None,
        ) -> None:
            """``rate``/``eta``: the server's numbers when it sends them, else measured."""
            fields: dict[str, Any] = {}
            if kind == "samples":
                now = time.monotonic()
                if not started:
                    started.extend([now, completed])
                if rate is None:
                    elapsed, done = now - started[0], completed - started[1]
                    rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
                left = (total or 0) - completed
                if eta is None and rate and left > 0:
                    eta = left / rate
                fields["count"] = (
                    f"{completed:,.0f}/{total:,.0f} samples"
                    if total
                    else f"{completed:,.0f} samples"
                )
                fields["rate"] = f"{rate:,.0f} samples/s" if rate else ""
                fields["eta"] = duration(eta) if eta is not None and left > 0 else "-"
            progress.update(task_id, completed=completed, total=total, **fields)

        yield update


def duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

"""The progress bars as drawn on a terminal (the other tests run without one)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from hanami.cli import _progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(
        _progress, "stderr_console", lambda: Console(file=buffer, force_terminal=True, width=140)
    )
    return buffer


def test_samples_bar_shows_rate_and_eta(terminal: io.StringIO) -> None:
    with _progress.progress_bar("Task fit", total=None, kind="samples") as update:
        update(0, None)  # the total is not known yet
        update(500, 2000, rate=250.0, eta=None)
        update(2000, 2000, rate=250.0, eta=0.0)
    text = ANSI.sub("", terminal.getvalue())
    assert "Task fit" in text
    assert "2,000/2,000 samples" in text
    assert "250 samples/s" in text
    assert "ETA" in text
    assert _progress.duration(6) == "0:06"
    assert _progress.duration(3725) == "1:02:05"


def test_bytes_bar_shows_size(terminal: io.StringIO) -> None:
    with _progress.progress_bar("Uploading x", total=None) as update:
        update(0, 2048)
        update(2048, 2048)
    text = ANSI.sub("", terminal.getvalue())
    assert "Uploading x" in text
    assert "2.0/2.0 kB" in text

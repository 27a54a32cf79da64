"""``hanami bench``'s MNIST loader, as the benchmark scripts call it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hanami.cli.bench import load_mnist


def test_mnist_folder_given_as_text_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"not found in {tmp_path}"):
        load_mnist(str(tmp_path))

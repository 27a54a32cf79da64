"""Repository-wide pytest settings."""

from pathlib import Path


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    # --doctest-modules would import every conftest.py as a module named "conftest"; with
    # several test folders on one command line the second one clashes with the first.
    # Conftest files are loaded as plugins anyway and hold no doctests.
    return True if collection_path.name == "conftest.py" else None

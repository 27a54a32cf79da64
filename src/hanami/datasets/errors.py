"""Errors raised by :mod:`hanami.datasets`.

Exception tree::

    ValueError
    └── DatasetError            bad input file, corrupt dataset file, misuse of a writer
        └── ColumnNotFoundError  unknown column group (also a KeyError, so the API maps it to 404)
"""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset, an input file or a request on them is invalid; the message says which and why."""


class ColumnNotFoundError(DatasetError, KeyError):
    """A column group name that the dataset's description does not contain."""

    # KeyError quotes its message; keep the plain text of every other DatasetError.
    __str__ = DatasetError.__str__

"""Errors raised by :mod:`hanami.datasets`.

Exception tree::

    ValueError
    └── DatasetError            bad input file, corrupt dataset file, misuse of a writer
        ├── ColumnNotFoundError  unknown column group (also a KeyError, so the API maps it to 404)
        └── InputTooLarge        an input over the byte limit of its ParseLimits (the API: 413)
    Exception
    └── ParseStopped            the caller's stop flag was set while a file was being read
"""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset, an input file or a request on them is invalid; the message says which and why."""


class ColumnNotFoundError(DatasetError, KeyError):
    """A column group name that the dataset's description does not contain."""

    # KeyError quotes its message; keep the plain text of every other DatasetError.
    __str__ = DatasetError.__str__


class InputTooLarge(DatasetError):
    """An input file holds (or decompresses to) more bytes than the limit allows."""


class ParseStopped(Exception):
    """Reading stopped because the caller asked it to (a cancelled request, a server stop).

    Not a :class:`DatasetError`: nothing is wrong with the file.
    """

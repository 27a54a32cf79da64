"""Field types of the API and the response models shared by several routers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from hanami.protocol.patterns import BASE64_RE, ID_EXT_RE, ID_RE, NAME_RE, UUID_RE

__all__ = [
    "PAGE_SIZE",
    "ColumnName",
    "Empty",
    "IdStr",
    "NameStr",
    "Page",
    "PassphraseStr",
    "Table",
    "UserIdStr",
    "UuidStr",
    "table",
]

PAGE_SIZE = 100


def _text(pattern: str, min_length: int | None = 4, max_length: int | None = 254) -> Any:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=f"^{pattern}$")


UuidStr = Annotated[str, _text(UUID_RE, None, None)]
"""8-4-4-4-12 hex UUID."""
IdStr = Annotated[str, _text(ID_RE)]
"""Project id or role name: 4-254 characters, a letter then letters, digits, ``_``."""
UserIdStr = Annotated[str, _text(ID_EXT_RE)]
"""User id: like :data:`IdStr`, ``@`` also allowed."""
NameStr = Annotated[str, _text(NAME_RE)]
"""Display name: 4-254 characters, a letter then letters, digits, ``_``, ``-``, space."""
PassphraseStr = Annotated[str, _text(BASE64_RE, 8, 4096)]
"""Base64 encoding of the passphrase."""
ColumnName = Annotated[str, Field(min_length=1, max_length=1024, description="column group")]
"""Name of a column group of a dataset."""
Page = Annotated[int, Field(ge=0, le=1_000_000_000, description="page of 100 rows")]


class Empty(BaseModel):
    """``{}``: the answer of endpoints without outputs."""


class Table(BaseModel):
    """The list shape: column names, then rows in the same column order."""

    header: list[str]
    body: list[list[Any]]


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    return {"header": list(header), "body": [list(row) for row in rows]}

"""The base of every answer model, and the list shape (``header`` + ``body``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from hanami.protocol.timestamps import Timestamp

__all__ = ["Model", "ResourceRow", "Table", "table_of"]


class Model(BaseModel):
    """Base of all answer models: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


RowT = TypeVar("RowT", bound=Model)


class Table(Model, Generic[RowT]):
    """The list shape of every ``/all`` endpoint and the logs: column names, then rows.

    ``rows()`` gives one typed model per row (looked up by column name, so the column order
    does not matter); iterating a table yields those rows as well.
    """

    header: list[str]
    body: list[list[Any]]
    row_model: ClassVar[type[Model]] = Model

    def rows(self) -> list[RowT]:
        return [self.row_model.model_validate(r) for r in self.records()]  # type: ignore[misc]

    def records(self) -> list[dict[str, Any]]:
        """The rows as plain dicts keyed by column name."""
        return [dict(zip(self.header, row, strict=False)) for row in self.body]

    def column(self, name: str) -> list[Any]:
        """All values of one column."""
        index = self.header.index(name)
        return [row[index] for row in self.body]

    def __iter__(self) -> Iterator[RowT]:  # type: ignore[override]
        return iter(self.rows())

    def __len__(self) -> int:
        return len(self.body)


class ResourceRow(Model):
    """A row of the cluster, dataset and checkpoint lists (the columns are the same)."""

    created_at: Timestamp
    uuid: str
    project_id: str
    owner_id: str
    visibility: str
    name: str


def table_of(row_model: type[RowT]) -> type[Table[RowT]]:
    """A :class:`Table` subclass whose ``rows()`` builds ``row_model`` instances."""
    cls = type(f"{row_model.__name__.removesuffix('Row')}Table", (Table[row_model],), {})
    cls.row_model = row_model  # type: ignore[attr-defined]
    return cls  # type: ignore[return-value]

"""The base of every resource: the client it belongs to and the shapes of its calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from hanami.sdk._wire import Call, Moded, ModeT, Op, parse_model

if TYPE_CHECKING:
    from hanami.sdk._core import BaseClient

__all__ = ["Resource"]

M = TypeVar("M", bound=BaseModel)


class Resource(Moded[ModeT]):
    """One part of the API; its operations run on the client it belongs to."""

    def __init__(self, client: BaseClient[ModeT]) -> None:
        self._client = client

    def _run(self, op: Op[Any]) -> Any:
        return self._client._run(op)

    @staticmethod
    def _get(path: str, **params: Any) -> Call:
        return Call("GET", path, params=params)

    @staticmethod
    def _delete(path: str, **params: Any) -> Call:
        return Call("DELETE", path, params=params)

    @staticmethod
    def _post(path: str, body: dict[str, Any]) -> Call:
        return Call("POST", path, body=body)

    @staticmethod
    def _put(path: str, body: dict[str, Any]) -> Call:
        return Call("PUT", path, body=body)

    @staticmethod
    def _model(model: type[M], call: Call) -> Op[M]:
        """Make ``call`` and read its answer as ``model``."""
        return parse_model(model, (yield call))

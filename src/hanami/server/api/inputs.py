"""Request input the way the original assembled it, validated by a pydantic model.

- POST/PUT bodies must be a JSON object with at most :data:`MAX_JSON_KEYS` keys;
  ``Content-Type`` is not checked. GET/DELETE bodies are ignored. The body size is limited
  before this reads it (:mod:`hanami.server.security.bodylimit`).
- The query string is merged on top (query keys win). Values are URL-decoded; digits
  (optionally with a leading ``-``) become ints, ``digits.digits`` becomes a float, anything
  else stays a string. A field that takes a string gets the text as sent.
- The key ``token`` is dropped (tokens travel in headers only).
- Unknown keys, missing fields, wrong types, patterns and limits all answer 400 with a
  plain-text message (never FastAPI's 422).

Declare the input of an endpoint as ``data: Payload[SomeInput]`` where ``SomeInput``
derives from :class:`InputModel`; routers built with ``route_class=PayloadRoute`` also get
the fields documented in OpenAPI (query parameters for GET/DELETE, a JSON body otherwise).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session

from hanami.server.db.reader import Reader
from hanami.server.errors import BadRequest, format_validation_errors, redact

__all__ = ["InputModel", "NoInput", "Payload", "PayloadRoute", "read_input"]

_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?\d+\.\d+")
BODY_METHODS = frozenset({"POST", "PUT"})
MAX_JSON_KEYS = 1000
"""Most keys in one body, all its objects together. Endpoints take a few dozen; a parsed key
costs far more memory than its text, and pydantic reports every unknown one."""


class InputModel(BaseModel):
    """Base of endpoint inputs: unknown keys rejected, types checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True)


class NoInput(InputModel):
    """For endpoints without fields: still rejects unknown keys."""


def _infer(value: str) -> Any:
    if _INT_RE.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            return value
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class _KeyBudget:
    """``object_pairs_hook`` that refuses a body with more than :data:`MAX_JSON_KEYS` keys."""

    def __init__(self) -> None:
        self.left = MAX_JSON_KEYS

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.left -= len(pairs)
        if self.left < 0:
            raise BadRequest(f"Request body has more than {MAX_JSON_KEYS} keys")
        return dict(pairs)


async def read_input(request: Request) -> dict[str, Any]:
    """Body object + query string, without ``token``; also noted (redacted) for error logs."""
    data: dict[str, Any] = {}
    if request.method in BODY_METHODS:
        raw = await request.body()  # size-limited by hanami.server.security.bodylimit
        if raw.strip():
            try:
                parsed = json.loads(
                    raw, parse_constant=_reject_constant, object_pairs_hook=_KeyBudget()
                )
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise BadRequest(f"Request body is not valid JSON: {exc}") from exc
            if not isinstance(parsed, dict):
                raise BadRequest("Request body must be a JSON object")
            data.update(parsed)
    query = request.scope.get("query_string", b"").decode()  # as request.url.query, unbuilt
    for key, value in parse_qsl(query, keep_blank_values=True):
        data[key] = _infer(value)
    data.pop("token", None)
    request.state.input_values = redact(data)
    return data


M = TypeVar("M", bound=BaseModel)


class InputParser:
    """FastAPI dependency: assemble the input and validate it with ``model``."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    async def __call__(self, request: Request) -> Any:
        data = await read_input(request)
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            retry = _query_strings_for_string_fields(request, data, exc)
            if retry is None:
                raise BadRequest(format_validation_errors(list(exc.errors()))) from exc
        try:
            return self.model.model_validate(retry)
        except ValidationError as exc:
            raise BadRequest(format_validation_errors(list(exc.errors()))) from exc


def _query_strings_for_string_fields(
    request: Request, data: dict[str, Any], exc: ValidationError
) -> dict[str, Any] | None:
    """``data`` with the raw query text for string fields that got an inferred number.

    ``?column_name=2020`` is inferred as an int; a string field takes the text instead (a
    CSV column may be called ``2020``). ``None`` when there is nothing to put back.
    """
    keys = {
        error["loc"][0]
        for error in exc.errors()
        if error["type"] == "string_type" and len(error["loc"]) == 1
    }
    raw = dict(parse_qsl(request.url.query, keep_blank_values=True))
    changed = {k: raw[k] for k in keys if k in raw and not isinstance(data.get(k), str)}
    return {**data, **changed} if changed else None


if TYPE_CHECKING:
    Payload = Annotated[M, ...]
else:

    class Payload:
        """``Payload[Model]`` = the validated request input (see module docstring)."""

        def __class_getitem__(cls, model: type[BaseModel]) -> Any:
            return Annotated[model, Depends(InputParser(model))]


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def payload_openapi(model: type[BaseModel], methods: set[str]) -> dict[str, Any]:
    """OpenAPI fragment documenting ``model`` as query parameters or as a JSON body."""
    schema = _inline_refs(model.model_json_schema())
    if methods & BODY_METHODS:
        if not schema.get("properties"):
            return {}
        return {
            "requestBody": {
                "required": True,
                "description": "JSON object (any or no Content-Type); query keys are merged in",
                "content": {"application/json": {"schema": schema}},
            }
        }
    required = set(schema.get("required", []))
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
                **({"description": prop["description"]} if "description" in prop else {}),
            }
            for name, prop in schema.get("properties", {}).items()
        ]
    }


class PayloadRoute(APIRoute):
    """An APIRoute that documents its ``Payload[...]`` input in OpenAPI.

    Sync endpoints also hand their database connection back as soon as they return (see
    :func:`_releasing_sessions`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "endpoint" in kwargs:
            kwargs["endpoint"] = _releasing_sessions(kwargs["endpoint"])
        elif len(args) > 1:
            args = (args[0], _releasing_sessions(args[1]), *args[2:])
        super().__init__(*args, **kwargs)
        model = _find_payload_model(self.dependant)
        if model is not None:
            extra = payload_openapi(model, set(self.methods or ()))
            self.openapi_extra = {**extra, **(self.openapi_extra or {})}


def _releasing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync endpoint so that its sessions end their transaction and its readers
    give their connection back when it returns.

    FastAPI validates the result of a sync endpoint in another worker thread, and closes
    the ``SessionDep`` session only after that. A connection held across that wait
    deadlocks under load: every worker thread waits for a pooled connection while the
    connections belong to requests that wait for a worker thread (until the pool times
    out after 30 s). Endpoints return plain data, so ending the transaction here (a
    rollback, which is what closing the session does anyway) changes nothing else.
    """
    if inspect.iscoroutinefunction(endpoint) or getattr(endpoint, "_releases_sessions", False):
        return endpoint

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, Session) and value.in_transaction():
                    value.rollback()
                elif isinstance(value, Reader):
                    value.close()

    wrapper._releases_sessions = True  # type: ignore[attr-defined]
    return wrapper


def _find_payload_model(dependant: Any) -> type[BaseModel] | None:
    for sub in getattr(dependant, "dependencies", ()):
        if isinstance(sub.call, InputParser):
            return sub.call.model
        if (found := _find_payload_model(sub)) is not None:
            return found
    return None

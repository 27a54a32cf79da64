"""The OpenAPI document as clients should read it: exact integer bounds, configured limits.

FastAPI passes the document through its own pydantic models, which turn every numeric bound
into a float (``"maximum": 1000.0``; ``2**63`` becomes ``9.223372036854776e18``). Bounds of
integer fields are turned back into ints here; they are all exact as floats (below 2**53,
or 2**63 itself), so nothing is lost. A field may also name a server setting in
``x-limit-setting``: its ``maximum`` becomes that setting's value when it is smaller, so
the document states the limit this server enforces, not only the largest one possible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hanami.server.config import ServerSettings

__all__ = ["LIMIT_SETTING", "install_openapi"]

LIMIT_SETTING = "x-limit-setting"
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "default")


def _fix(node: Any, settings: ServerSettings) -> None:
    if isinstance(node, list):
        for item in node:
            _fix(item, settings)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        for key in _BOUNDS:
            value = node.get(key)
            if isinstance(value, float) and value.is_integer():
                node[key] = int(value)
    setting = node.pop(LIMIT_SETTING, None)
    if setting is not None:
        limit = int(getattr(settings, setting))
        node["maximum"] = min(node.get("maximum", limit), limit)
    for value in node.values():
        _fix(value, settings)


def install_openapi(app: FastAPI, settings: ServerSettings) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) serve the corrected document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI; fixing it twice changes nothing
        _fix(document, settings)
        return document

    app.openapi = openapi  # type: ignore[method-assign]

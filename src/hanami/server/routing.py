"""Which route template served a request, and which methods a path allows.

FastAPI >= 0.16x includes routers lazily: ``scope["route"]`` is then the route as declared
in its own router (without the prefixes of the routers around it), and the full template
lives in the effective route context. Older versions copy routes with the full path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import Scope

try:  # FastAPI >= 0.16x: included routers are expanded lazily
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI copies every route with its full path

    def iter_route_contexts(routes: Sequence[Any]) -> Iterable[Any]:  # type: ignore[misc]
        return routes


__all__ = ["allowed_methods", "route_template"]


def route_template(scope: Scope) -> str | None:
    """Full path template of the matched route, or ``None`` when nothing matched."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    for candidate in (context, scope.get("route")):
        template = getattr(candidate, "path_format", None) or getattr(candidate, "path", None)
        if template:
            return str(template)
    return None


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> list[str]:
    """Every method some HTTP route serves at ``path``, sorted (the ``Allow`` of a 405).

    Starlette answers a wrong method with the ``Allow`` of the *first* route whose path
    matched, but one path here is served by one route per method (GET, POST, DELETE, ...).
    """
    methods: set[str] = set()
    for route in iter_route_contexts(routes):
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            methods |= route_methods
    return sorted(methods)

"""Which route template served a request.

FastAPI >= 0.16x includes routers lazily: ``scope["route"]`` is then the route as declared
in its own router (without the prefixes of the routers around it), and the full template
lives in the effective route context. Older versions copy routes with the full path.
"""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["route_template"]


def route_template(scope: Scope) -> str | None:
    """Full path template of the matched route, or ``None`` when nothing matched."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    for candidate in (context, scope.get("route")):
        template = getattr(candidate, "path_format", None) or getattr(candidate, "path", None)
        if template:
            return str(template)
    return None

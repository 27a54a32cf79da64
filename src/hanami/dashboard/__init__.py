"""The web dashboard: a single-page app in ``static/`` (plain ES modules, no build step).

When ``static/index.html`` exists, :func:`hanami.server.app.create_app` serves ``static/``
at ``/`` through :class:`DashboardFiles` (the router's fallback), which adds the headers
below to every file it serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["DASHBOARD_HEADERS", "STATIC_DIR", "DashboardFiles"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: ``no-cache`` makes browsers revalidate (ETag) so an upgraded server is seen at once; the
#: content security policy allows only the dashboard's own files and API (no inline scripts,
#: no third-party origins) so that names shown in tables can never run as code.
DASHBOARD_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class DashboardFiles(StaticFiles):
    """:class:`StaticFiles` that adds :data:`DASHBOARD_HEADERS`.

    It is the router's fallback: whatever no route matched. Other methods than GET and HEAD,
    and API paths, are a plain 404 (not a 405 from the file server).
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD") or path.split("/", 1)[0] == "v1.0alpha":
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(DASHBOARD_HEADERS)
        return response

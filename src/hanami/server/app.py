"""The application factory: ``create_app(settings) -> FastAPI``.

Building the app validates the configuration (JWT key, policy file) and creates the
services; the lifespan start-up creates the storage folders, applies the migrations and
bootstraps the first admin. Nothing is built at import time.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse

from hanami import __version__
from hanami.dashboard import DashboardFiles
from hanami.server.api.fastget import FastGetMiddleware
from hanami.server.api.main import API_PREFIX, STREAMED_UPLOAD_PATHS, build_api_router
from hanami.server.api.openapi import install_openapi
from hanami.server.api.routes import health
from hanami.server.apidocs import install_api_docs
from hanami.server.config import ServerSettings
from hanami.server.context import AppContext
from hanami.server.errors import ErrorBoundaryMiddleware, install_error_handlers
from hanami.server.observability.prometheus import MetricsMiddleware, metrics_router
from hanami.server.security.bodylimit import BodyLimitMiddleware
from hanami.server.security.proxies import ClientAddressMiddleware
from hanami.server.websocket.endpoint import WEBSOCKET_PATHS, reject_websocket, websocket_endpoint

__all__ = ["create_app"]

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
DRAIN_SECONDS = 1.0
"""How long a stop waits for cancelled upload conversions to clean up (they stop within a
chunk, well under this)."""

DESCRIPTION = """\
Hanami service API (compatible with OpenHanami `v1.0alpha`).

Log in with `POST /v1.0alpha/token` (`{"id": ..., "passphrase": base64(passphrase)}`) and
send the returned token as `X-Auth-Token` (or `Authorization: Bearer`). Inputs of GET and
DELETE endpoints go in the query string; POST and PUT take a JSON object (no Content-Type
needed). Errors are plain text: 400 invalid input, 401 not authenticated, 403 not allowed,
404 unknown or outside your projects, 409 conflict or project quota, 413 body too large or
storage quota, 429 too many failed logins or uploads at once.
"""


_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)
"""FastAPI >= 0.16x checks for OpenTelemetry providers on every request (about 5% of a
GET's CPU); the service has none (it exports Prometheus metrics)."""


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


_APP_OPTIONS: dict[str, Any] = {
    **_NO_TELEMETRY,
    "title": "Hanami",
    "version": __version__,
    "description": DESCRIPTION,
    "generate_unique_id_function": _operation_id,
    "docs_url": None,  # served by hanami.server.apidocs, from vendored assets
    "redoc_url": None,
}
"""What the FastAPI application is built with, besides its lifespan."""


def _landing_page() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>Hanami</title><h1>Hanami</h1>"
        f"<p>API: <code>{API_PREFIX}</code> &middot; <a href='/docs'>API docs</a>"
        " &middot; <a href='/redoc'>ReDoc</a></p>"
    )


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the Hanami service for ``settings`` (default: read from the environment)."""
    settings = settings or ServerSettings()
    ctx = AppContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(ctx.startup)
        try:
            yield
        finally:
            await ctx.work.drain(DRAIN_SECONDS)
            ctx.shutdown()

    app = FastAPI(**_APP_OPTIONS, lifespan=lifespan)
    app.state.ctx = ctx
    install_error_handlers(app, forbidden_status=settings.forbidden_status)
    install_openapi(app, settings)

    app.include_router(build_api_router())
    app.include_router(health.router)
    install_api_docs(app)
    if settings.metrics_enabled:
        app.include_router(metrics_router())
    for path in WEBSOCKET_PATHS:
        app.add_api_websocket_route(path, websocket_endpoint, name=f"websocket{path}")
    app.add_api_websocket_route("/{path:path}", reject_websocket, name="websocket-other")
    if (DASHBOARD_DIR / "index.html").is_file():
        # The router's fallback rather than a mount at "/": every route (also ones added
        # later) wins, and a known path with the wrong method stays a 405.
        app.router.default = DashboardFiles(directory=DASHBOARD_DIR, html=True)
    else:
        app.add_api_route("/", _landing_page, include_in_schema=False)

    app.add_middleware(
        FastGetMiddleware, ctx=ctx, routes=lambda: app.routes,
        forbidden_status=settings.forbidden_status,
    )  # fmt: skip
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_json_body_bytes, exempt=STREAMED_UPLOAD_PATHS
    )
    app.add_middleware(ErrorBoundaryMiddleware, record=ctx.record_error)
    app.add_middleware(MetricsMiddleware, metrics=ctx.metrics)
    app.add_middleware(
        ClientAddressMiddleware,
        trusted=settings.trusted_proxies,
        header=settings.forwarded_header,
    )
    return app

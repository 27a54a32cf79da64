"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files shipped in the package.

FastAPI's own pages load both from a CDN, so they are blank on a machine without internet
(the service is often run on one). Here the same pages point at copies under
``static/apidocs/`` (versions and sources in its README), served at :data:`ASSETS_PATH`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "ASSETS_PATH", "install_api_docs"]

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "apidocs"
ASSETS_PATH = "/apidocs"

OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
# Swagger UI would show a badge from the public validator for a non-local spec URL.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install_api_docs(app: FastAPI) -> None:
    """Serve the assets and the two pages; build the app with ``docs_url=redoc_url=None``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="apidocs")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_PATH}/favicon-32x32.png"

    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_PATH, oauth2_redirect, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)

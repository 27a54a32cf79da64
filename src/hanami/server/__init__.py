"""Hanami service layer: FastAPI app, persistence, authentication and authorization.

``create_app(settings)`` builds the application; ``serve(settings)`` runs it with uvicorn;
``python -m hanami.server`` does the same from the command line. The names are imported
lazily, so ``hanami.server.<module>`` can be used without loading the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ServerSettings", "create_app", "serve"]

if TYPE_CHECKING:
    from hanami.server.app import create_app
    from hanami.server.config import ServerSettings
    from hanami.server.runner import serve


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hanami.server.app import create_app

        return create_app
    if name == "ServerSettings":
        from hanami.server.config import ServerSettings

        return ServerSettings
    if name == "serve":
        from hanami.server.runner import serve

        return serve
    raise AttributeError(f"module 'hanami.server' has no attribute {name!r}")

"""HTTP layer: input handling, dependencies, routers."""

from hanami.server.api.deps import (
    AdminUser,
    ContextDep,
    CurrentUser,
    Payload,
    SessionDep,
    SettingsDep,
)
from hanami.server.api.inputs import InputModel, NoInput, PayloadRoute
from hanami.server.api.main import API_PREFIX, PROTECTED_ROUTERS, build_api_router

__all__ = [
    "API_PREFIX",
    "PROTECTED_ROUTERS",
    "AdminUser",
    "ContextDep",
    "CurrentUser",
    "InputModel",
    "NoInput",
    "Payload",
    "PayloadRoute",
    "SessionDep",
    "SettingsDep",
    "build_api_router",
]

"""Composition of the REST API under ``/v1.0alpha``.

Every router in :data:`PROTECTED_ROUTERS` runs behind
:func:`~hanami.server.api.deps.get_current_user` (token, policy, audit row). Add the routers
of new resources (clusters, tasks, datasets, checkpoints, hosts, ...) to that tuple.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from hanami.server.api.deps import get_current_user
from hanami.server.api.routes import (
    api_tokens,
    checkpoints,
    clusters,
    datasets,
    hosts,
    logs,
    projects,
    tasks,
    token,
    users,
)
from hanami.server.errors import openapi_errors

__all__ = ["API_PREFIX", "PROTECTED_ROUTERS", "STREAMED_UPLOAD_PATHS", "build_api_router"]

API_PREFIX = "/v1.0alpha"

STREAMED_UPLOAD_PATHS = (f"{API_PREFIX}/dataset/upload", f"{API_PREFIX}/checkpoint/upload")
"""Routes that take large non-JSON bodies and enforce their own limits."""

PROTECTED_ROUTERS: tuple[APIRouter, ...] = (
    token.router,
    users.router,
    projects.router,
    logs.router,
    api_tokens.router,
    datasets.router,
    clusters.router,
    tasks.router,
    checkpoints.router,
    hosts.router,
)


def build_api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(token.public_router, responses=openapi_errors(400, 401, 413, 429, 500))
    protected = APIRouter(
        dependencies=[Depends(get_current_user)],
        responses=openapi_errors(400, 401, 403, 404, 409, 413, 429, 500),
    )
    for router in PROTECTED_ROUTERS:
        protected.include_router(router)
    api.include_router(protected)
    return api

"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.responses import JSONResponse

from hanami.server.api.deps import ContextDep

__all__ = ["router"]

logger = logging.getLogger("hanami.server")

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """The process answers HTTP."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses={503: {"description": "not ready"}})
def readyz(ctx: ContextDep) -> JSONResponse:
    """Start-up finished (migrations, admin bootstrap) and the database answers."""
    if not ctx.ready:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        ctx.database.ping()
    except Exception as exc:
        logger.warning("readiness check failed: %s", exc)
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})

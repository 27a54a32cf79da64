"""Run the service with uvicorn."""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from hanami.server.app import create_app
from hanami.server.config import ServerSettings
from hanami.server.security.headlimit import bounded_http_protocol
from hanami.server.websocket.protocol import LaneWebSocketProtocol

__all__ = ["configure_logging", "serve", "urls"]


def configure_logging(settings: ServerSettings) -> None:
    level = "DEBUG" if settings.log_level == "trace" else settings.log_level.upper()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.log_path is not None:
        settings.log_path.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(settings.log_path / "hanami.log", encoding="utf-8"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def urls(settings: ServerSettings) -> dict[str, str]:
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    base = f"http://{host}:{settings.port}"
    return {"api": f"{base}/v1.0alpha", "docs": f"{base}/docs", "dashboard": f"{base}/"}


def _freeze_after_startup(app: FastAPI) -> None:
    """Once started, move what exists (modules, the app, ORM and numba state: it lives as
    long as the process) out of the collector's sight. Its full passes otherwise stalled
    every request now and then under load (GET load of benchmarks/server.py: max latency
    232.9 ms before, 51.8 ms after: BENCHMARKS.json in the commits 182e2b0 and 544a633)."""
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with startup(app) as state:
            gc.collect()
            gc.freeze()
            gc.callbacks.append(freeze_grown_state)
            yield state

    app.router.lifespan_context = lifespan


REFREEZE_OBJECTS = 20_000
"""Objects left in the oldest generation after a full collection beyond which they are
frozen as well."""


def freeze_grown_state(phase: str, info: dict[str, Any]) -> None:
    """A ``gc`` callback: freeze what survived a full collection once it is more than
    :data:`REFREEZE_OBJECTS` objects. State made after start-up (numba's compiled kernels and
    the modules imported at the first task, the validators of the GET hot path: about 80,000
    objects after the GET benchmark's fixtures) made every full collection cost 32-45 ms of
    CPU, a stall of every request in flight (docs/performance.md, the paced p99). What a
    full collection leaves is live; a freeze only happens after that much growth, so the
    cycles that were live then and die later, which the collector no longer sees, stay few."""
    full = phase == "stop" and info["generation"] == 2
    if full and len(gc.get_objects(generation=2)) > REFREEZE_OBJECTS:
        gc.freeze()


MALLOC_ARENAS = 2
_M_ARENA_MAX = -8


def _limit_malloc_arenas() -> None:
    """Let glibc keep at most :data:`MALLOC_ARENAS` malloc arenas (by default up to eight per
    core). Every worker thread (anyio's pool grows to 40) otherwise gets an arena of its own,
    and what a thread frees stays mapped in its arena (``soak.py --duration 600``: peak RSS
    293.5 MB and a slope of 0.47 MB/min over the last 2/3 before, 272.5 MB and 0.29 MB/min
    after). A no-op where malloc is not glibc's."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def serve(settings: ServerSettings | None = None) -> None:
    """Build the app for ``settings`` and serve it until interrupted."""
    _limit_malloc_arenas()
    settings = settings or ServerSettings()
    configure_logging(settings)
    app = create_app(settings)
    _freeze_after_startup(app)
    links = urls(settings)
    print(
        f"Hanami {links['api']}\n  API docs:  {links['docs']}\n  Dashboard: {links['dashboard']}",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        http=bounded_http_protocol(settings.max_header_bytes, settings.max_header_count),
        server_header=False,
        headers=[("server", "Hanami")],
        proxy_headers=False,  # see hanami.server.security.proxies
        log_config=None,
        # Float buffers hardly compress; deflating every message of a ping-pong session would
        # cost old clients (which ask for it by default) CPU on both sides for nothing.
        ws_per_message_deflate=False,
        # direct-I/O steps below ASGI: hanami.server.websocket.direct_lane
        ws=LaneWebSocketProtocol,
        # After SIGTERM, requests still running are cancelled once this has passed; upload
        # parsing stops within one chunk then (hanami.server.runtime.stoppable).
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    uvicorn.Server(config).run()

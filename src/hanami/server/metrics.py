"""Prometheus metrics: one registry per application, request counts and latencies."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hanami.server.routing import route_template

__all__ = ["Metrics", "MetricsMiddleware", "metrics_router"]

UNMATCHED = "<unmatched>"


class Metrics:
    """The service's collectors, registered on a private registry (safe for many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "hanami_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hanami_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "endpoint"],
            registry=self.registry,
        )
        self.login_failures = Counter(
            "hanami_login_failures", "Failed logins.", registry=self.registry
        )
        self.login_throttled = Counter(
            "hanami_login_throttled", "Logins refused by the rate limiter.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            endpoint = route_template(scope) or UNMATCHED
            method = scope["method"]
            self.metrics.requests.labels(method, endpoint, str(status)).inc()
            self.metrics.latency.labels(method, endpoint).observe(time.perf_counter() - start)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["monitoring"])

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(request.app.state.ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router

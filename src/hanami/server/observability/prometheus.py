"""Prometheus metrics: one registry per application.

Counted as they happen: HTTP requests and their latencies, logins refused. Read at scrape
time (:class:`ServiceCollector`): tasks by state, and per cluster the samples it learned
and its size, so a dashboard sees training progress and growth without polling the API.
:class:`HostCollector` exports the monitor's latest sample: CPU load and frequency, package
power and temperature, each only where this machine has the sensor (an absent gauge, not a
zero).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hanami.server.db.models import Task
from hanami.server.db.session import Database
from hanami.server.observability.monitor import Monitor
from hanami.server.observability.sensors import UNAVAILABLE
from hanami.server.routing import route_template
from hanami.server.runtime.executor import ClusterExecutor, ClusterNotFound

__all__ = ["HostCollector", "Metrics", "MetricsMiddleware", "ServiceCollector", "metrics_router"]

logger = logging.getLogger("hanami.server")

TASK_STATES = ("queued", "active", "finished", "aborted", "failed")
CLUSTER_GAUGES = {
    "synapses": "Synapses in use.",
    "sections": "Synapse sections.",
    "neuron_blocks": "Neuron blocks.",
    "bytes": "Bytes allocated for the cluster's state.",
    "at_memory_limit": "1 once the cluster stopped growing at cluster_max_bytes.",
}

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

    def watch(self, executor: ClusterExecutor, database: Database) -> None:
        """Report tasks and clusters too (see :class:`ServiceCollector`)."""
        self.registry.register(ServiceCollector(executor, database))

    def watch_host(self, monitor: Monitor) -> None:
        """Report the host's sensors too (see :class:`HostCollector`)."""
        self.registry.register(HostCollector(monitor))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ServiceCollector(Collector):
    """Tasks by state (one ``GROUP BY`` query) and each cluster's learned samples and size,
    read when Prometheus scrapes. A cluster busy with a task reports its last known figures
    (refreshed at least once a second while it trains)."""

    def __init__(self, executor: ClusterExecutor, database: Database) -> None:
        self.executor = executor
        self.database = database

    def describe(self) -> list[Metric]:
        return []  # no collection at registration time (the database may not be ready)

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily("hanami_tasks", "Tasks by state.", labels=["state"])
        try:
            with self.database.session() as session:
                rows = session.execute(select(Task.state, func.count()).group_by(Task.state))
                counts: dict[str, int] = {state: count for state, count in rows}
        except Exception:  # a scrape must not fail because the database is away
            logger.exception("could not count tasks for /metrics")
        else:
            for state in TASK_STATES:
                tasks.add_metric([state], counts.get(state, 0))
            yield tasks
        samples = CounterMetricFamily(
            "hanami_cluster_samples_trained", "Samples the cluster has learned.", labels=["cluster"]
        )
        gauges = {
            name: GaugeMetricFamily(f"hanami_cluster_{name}", text, labels=["cluster"])
            for name, text in CLUSTER_GAUGES.items()
        }
        for uuid in self.executor.uuids():
            try:
                metrics = self.executor.info(uuid).metrics
            except ClusterNotFound:  # deleted meanwhile
                continue
            samples.add_metric([uuid], metrics.get("samples_trained", 0))
            for name, family in gauges.items():
                family.add_metric([uuid], metrics.get(name, 0))
        yield samples
        yield from gauges.values()


class HostCollector(Collector):
    """The monitor's latest sample as gauges, in base units. A sensor this machine lacks
    is left out (its ``source`` is ``unavailable`` in the API, with the reason)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        sample = self.monitor.snapshot().latest
        if sample.load_source != UNAVAILABLE and sample.load:
            load = GaugeMetricFamily(
                "hanami_host_cpu_load_ratio",
                "Busy share of each online CPU over the last sampling interval.",
                labels=["cpu"],
            )
            for index, percent in enumerate(sample.load):
                load.add_metric([str(index)], percent / 100.0)
            yield load
        if sample.frequency_source != UNAVAILABLE:
            frequency = GaugeMetricFamily(
                "hanami_host_cpu_frequency_hertz", "Current frequency of each CPU.", labels=["cpu"]
            )
            for cpu, freq in sorted(sample.frequencies.items()):
                if freq.current:
                    frequency.add_metric([str(cpu)], freq.current * 1000.0)
            yield frequency
        if sample.power_source != UNAVAILABLE:
            power = GaugeMetricFamily(
                "hanami_host_package_power_watts", "Power of each CPU package.", labels=["package"]
            )
            for package, reading in sorted(sample.packages.items()):
                power.add_metric([str(package)], reading.watts)
            yield power
        if sample.temperature_source != UNAVAILABLE:
            yield GaugeMetricFamily(
                "hanami_host_package_temperature_celsius",
                "Mean temperature of the CPU packages.",
                value=sample.temperature_c,
            )


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template (bounded cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        """(method, route, status) -> its request counter and latency histogram: looking a
        labelled child up in prometheus_client costs more than counting (a lock, the label
        checks), once per request."""

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
            key = (scope["method"], route_template(scope) or UNMATCHED, status)
            children = self._children.get(key)
            if children is None:
                method, endpoint, _ = key
                children = self._children[key] = (
                    self.metrics.requests.labels(method, endpoint, str(status)),
                    self.metrics.latency.labels(method, endpoint),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - start)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["monitoring"])

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(request.app.state.ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router

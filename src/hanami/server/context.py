"""Per-application services, built once by the app factory and kept on ``app.state.ctx``.

Later services (cluster registry, task engine, upload registry, monitoring) belong here as
fields, built in :meth:`AppContext.from_settings` and started/stopped in
:meth:`startup`/:meth:`shutdown`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hanami.server.bootstrap import bootstrap_admin
from hanami.server.config import ConfigError, ServerSettings
from hanami.server.db.migrate import upgrade
from hanami.server.db.models import ErrorLog
from hanami.server.db.session import Database
from hanami.server.observability.energy import EnergyPolicy
from hanami.server.observability.monitor import Monitor
from hanami.server.observability.prometheus import Metrics
from hanami.server.runtime.executor import ClusterExecutor, InProcessExecutor
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.replicas import Replicas
from hanami.server.runtime.stoppable import StoppableWork
from hanami.server.runtime.storage import sweep_storage
from hanami.server.runtime.tasks import TaskEngine
from hanami.server.runtime.tasks.keeper import ReplicaKeeper
from hanami.server.runtime.uploads import UploadRegistry
from hanami.server.security.policy import Policy
from hanami.server.security.principals import PrincipalCache
from hanami.server.security.quotas import Quotas
from hanami.server.security.ratelimit import LoginRateLimiter

if TYPE_CHECKING:
    from hanami.server.runtime.ray_executor import RayExecutor

__all__ = ["AppContext"]

logger = logging.getLogger("hanami.server")


@dataclass
class AppContext:
    settings: ServerSettings
    database: Database
    policy: Policy
    token_key: bytes = field(repr=False)
    login_limiter: LoginRateLimiter
    quotas: Quotas
    metrics: Metrics
    uploads: UploadRegistry
    executor: ClusterExecutor
    clusters: ClusterRegistry
    tasks: TaskEngine
    monitor: Monitor
    replicas: Replicas
    keeper: ReplicaKeeper
    principals: PrincipalCache
    ready: bool = False
    work: StoppableWork = field(default_factory=StoppableWork)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> AppContext:
        """Validate configuration and build services; touches nothing but the key file."""
        token_key = settings.load_token_key()
        if settings.policies is not None:
            try:
                policy = Policy.load(settings.policies)
            except OSError as exc:
                raise ConfigError(f"cannot read policy file {settings.policies}: {exc}") from exc
        else:
            policy = Policy.default()
        database = Database(settings.sqlalchemy_url)
        assert settings.tempfile_location is not None
        ctx = cls(
            settings=settings,
            database=database,
            policy=policy,
            token_key=token_key,
            login_limiter=LoginRateLimiter(
                database,
                max_failures=settings.login_max_failures,
                max_failures_per_address=settings.login_max_failures_per_address,
                window=settings.login_failure_window,
            ),
            quotas=Quotas(database, settings),
            metrics=Metrics(),
            uploads=UploadRegistry(
                settings.tempfile_location,
                database,
                settings.tempfile_timeout_seconds or settings.tempfile_timeout * 60,
            ),
            principals=PrincipalCache(database, token_key),
            **_cluster_services(settings, database),
        )
        ctx.principals.track(database.sessionmaker)
        if database.reader is not database.sessionmaker:
            ctx.principals.track(database.reader)
        ctx.metrics.watch(ctx.executor, database)
        ctx.metrics.watch_host(ctx.monitor)
        return ctx

    def startup(self) -> None:
        """Create folders, migrate the database, create the first admin."""
        for directory in self.settings.storage_dirs:
            directory.mkdir(parents=True, exist_ok=True)
        logger.info("database %s", self.database.display_url)
        upgrade(self.database)
        bootstrap_admin(self.database, self.settings)
        self.principals.start()
        alone = self.replicas.register()
        logger.info("replica %s (%s)", self.replicas.id, "alone" if alone else "with others")
        self.uploads.start(purge=alone)
        assert self.settings.dataset_location and self.settings.checkpoint_location
        if alone:  # another replica may be writing files that have no row yet
            sweep_storage(self.database, self.settings.dataset_location,
                          self.settings.checkpoint_location)  # fmt: skip
        self.monitor.start()
        adopted = [c for c in self.replicas.orphaned(starting=True) if self.replicas.adopt(c)]
        self.clusters.restore_all(adopted, sweep=alone)
        self.clusters.start()
        self.tasks.start(adopted)
        self.replicas.start()
        self.keeper.start(adopted)
        self.ready = True

    def shutdown(self) -> None:
        self.ready = False
        self.keeper.stop()
        self.tasks.stop()  # suspends running tasks between chunks
        self.clusters.stop()  # autosaves every changed cluster
        self.replicas.stop()  # hands the clusters to the other replicas
        self.monitor.stop()
        self.uploads.stop()
        self.principals.stop()
        self.database.dispose()

    def record_error(
        self, correlation_id: str, user_id: str, context: str, input_values: str, message: str
    ) -> None:
        """Write one ``error_log`` row (used by the 500 boundary)."""
        try:
            json.loads(input_values)
        except ValueError:
            input_values = "{}"
        with self.database.session() as session:
            session.add(
                ErrorLog(
                    user_id=user_id,
                    component="api",
                    context=context,
                    input_values=input_values,
                    message=message,
                    correlation_id=correlation_id,
                )
            )
            session.commit()


def _cluster_services(settings: ServerSettings, database: Database) -> dict[str, Any]:
    """Executor, cluster registry, task engine, replica membership and host monitor
    (nothing starts yet)."""
    assert settings.cluster_location is not None
    monitor = Monitor(energy=EnergyPolicy(settings.energy_policy))
    on_ray = _ray_executor(settings) if settings.executor == "ray" else None
    executor: ClusterExecutor = on_ray or InProcessExecutor(settings.cluster_max_bytes or None)
    replica_id = settings.replica_id or f"{socket.gethostname()}:{settings.port}"
    replicas = Replicas(database, replica_id, settings.task_lease_s, solo=database.is_sqlite)
    clusters = ClusterRegistry(
        database,
        executor,
        settings.cluster_location,
        autosave_interval=settings.cluster_autosave_interval,
        journal_sync=settings.journal_sync,
        journal_sync_interval=settings.journal_sync_interval,
        packages=sorted(monitor.topology.packages()) or [0],
        replicas=replicas,
    )
    if on_ray is not None:
        on_ray.restorer = clusters.revive
    workers = settings.task_workers or max(2, os.cpu_count() or 2)
    tasks = TaskEngine(database, executor, clusters, workers=workers, replica_id=replica_id)
    return {"executor": executor, "clusters": clusters, "tasks": tasks, "monitor": monitor,
            "replicas": replicas, "keeper": ReplicaKeeper(replicas, clusters, tasks)}  # fmt: skip


def _ray_executor(settings: ServerSettings) -> RayExecutor:
    """Actors on the Ray cluster at ``ray_address`` (Ray is imported only here: an extra)."""
    if not settings.ray_address:
        raise ConfigError("HANAMI_EXECUTOR=ray needs HANAMI_RAY_ADDRESS (host:port of the head)")
    try:
        from hanami.server.runtime.ray_executor import RayExecutor
    except ImportError as exc:
        needs = "HANAMI_EXECUTOR=ray needs Ray (pip install 'hanami[ray]')"
        raise ConfigError(f"{needs}: {exc}") from None
    return RayExecutor(settings.ray_address, actor_cpus=settings.ray_actor_cpus,
                       lease_ttl=settings.ray_lease_ttl,
                       cluster_max_bytes=settings.cluster_max_bytes or None)  # fmt: skip

"""Cluster registry: the in-memory clusters behind the ``clusters`` rows, and their persistence.

The ``clusters`` table holds the metadata (uuid, name, owner, template text); the state of
each cluster lives in the :class:`~hanami.server.executor.ClusterExecutor`. So that clusters
survive restarts (the original dropped them all at start-up, spec B12), the registry writes
an *autosave* checkpoint ``<cluster_location>/<uuid>.ckpt``:

- when a train or restore task ends (the task engine calls :meth:`ClusterRegistry.autosave`),
  and every ``cluster_autosave_interval`` seconds during a long task;
- every ``cluster_autosave_interval`` seconds for clusters changed some other way (direct
  I/O), from a background thread that skips busy clusters;
- for every changed cluster on a graceful shutdown.

At start-up every row is loaded from its autosave; a row without a readable autosave is
rebuilt from its template (an untrained cluster) and a warning is logged. Autosaves without
a row, and temp files of autosaves cut short by a crash, are removed.

The registry also keeps the logical hosts (one ``cpu`` host per CPU package, random uuids
per process, as the original) and which host each hexagon was moved to by ``switch_host``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from hanami.core import CheckpointError
from hanami.server.db.models import Cluster as ClusterRow
from hanami.server.db.session import Database
from hanami.server.executor import ClusterBusy, ClusterExecutor, ClusterInfo, ClusterNotFound

__all__ = ["AUTOSAVE_SUFFIX", "ClusterRegistry", "Host"]

logger = logging.getLogger("hanami.server.clusters")

AUTOSAVE_SUFFIX = ".ckpt"


@dataclass(frozen=True)
class Host:
    uuid: str
    type: str
    package: int


class ClusterRegistry:
    """Creates, restores, autosaves and deletes the clusters of the service."""

    def __init__(
        self,
        database: Database,
        executor: ClusterExecutor,
        location: Path,
        *,
        autosave_interval: float = 300.0,
        packages: list[int] | None = None,
    ) -> None:
        self.database = database
        self.executor = executor
        self.location = location
        self.autosave_interval = autosave_interval
        self.hosts = [
            Host(str(uuid_module.uuid4()), "cpu", package) for package in (packages or [0])
        ]
        self.hexagon_hosts: dict[str, dict[int, str]] = {}
        self._saved: dict[str, tuple[int, float]] = {}  # uuid -> (revision, monotonic time)
        self._save_lock = threading.Lock()
        self._delete_listeners: list[Callable[[str], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def path_of(self, cluster_uuid: str) -> Path:
        return self.location / f"{cluster_uuid}{AUTOSAVE_SUFFIX}"

    def restore_all(self) -> None:
        """Bring every ``clusters`` row back into the executor (start-up)."""
        self.location.mkdir(parents=True, exist_ok=True)
        with self.database.session() as session:
            rows = [(c.uuid, c.template) for c in session.scalars(select(ClusterRow))]
        known = set()
        for cluster_uuid, template in rows:
            known.add(cluster_uuid)
            if self.executor.exists(cluster_uuid):
                continue
            path = self.path_of(cluster_uuid)
            if path.is_file():
                try:
                    info = self.executor.load(cluster_uuid, path)
                    self._saved[cluster_uuid] = (info.revision, time.monotonic())
                    logger.info("cluster %s restored from %s", cluster_uuid, path)
                    continue
                except (CheckpointError, OSError, ValueError) as exc:
                    logger.error("cluster %s: autosave %s unreadable: %s", cluster_uuid, path, exc)
            if template is None:
                logger.error("cluster %s has neither an autosave nor a template", cluster_uuid)
                continue
            try:
                self.executor.create(cluster_uuid, template)
            except ValueError as exc:
                logger.error("cluster %s: template does not build: %s", cluster_uuid, exc)
                continue
            logger.warning(
                "cluster %s had no autosave; rebuilt untrained from its template", cluster_uuid
            )
        for path in self.location.glob(f"*{AUTOSAVE_SUFFIX}"):
            if path.name.removesuffix(AUTOSAVE_SUFFIX) not in known:
                path.unlink(missing_ok=True)
        for path in self.location.glob(".*.tmp"):  # an autosave cut short by a crash
            path.unlink(missing_ok=True)

    def start(self) -> None:
        """Start the periodic autosave thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ClusterAutosave", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the autosave thread and save every changed cluster (graceful shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self.save_changed(wait=True)

    def _run(self) -> None:
        period = min(max(self.autosave_interval / 4, 0.5), 30.0)
        while not self._stop.wait(period):
            try:
                self.save_changed(wait=False, min_age=self.autosave_interval)
            except Exception:
                logger.exception("cluster autosave failed")

    # ------------------------------------------------------------------ clusters

    def create(self, cluster_uuid: str, template_text: str) -> ClusterInfo:
        """Build a new cluster (``TemplateError`` for a bad template)."""
        info = self.executor.create(cluster_uuid, template_text)
        return info

    def info(self, cluster_uuid: str) -> ClusterInfo | None:
        try:
            return self.executor.info(cluster_uuid)
        except ClusterNotFound:
            return None

    def add_delete_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(cluster_uuid)`` runs after a cluster was deleted (e.g. detach websockets)."""
        self._delete_listeners.append(listener)

    def delete(self, cluster_uuid: str) -> None:
        """Free the cluster (waits for the call in progress) and remove its autosave."""
        with contextlib.suppress(ClusterNotFound):
            self.executor.delete(cluster_uuid)
        with self._save_lock:
            self._saved.pop(cluster_uuid, None)
            self.path_of(cluster_uuid).unlink(missing_ok=True)
        self.hexagon_hosts.pop(cluster_uuid, None)
        for listener in list(self._delete_listeners):
            try:
                listener(cluster_uuid)
            except Exception:
                logger.exception("cluster delete listener failed for %s", cluster_uuid)

    # ------------------------------------------------------------------ autosave

    def is_changed(self, cluster_uuid: str) -> bool:
        try:
            revision = self.executor.revision(cluster_uuid)
        except ClusterNotFound:
            return False
        saved = self._saved.get(cluster_uuid)
        return saved is None or saved[0] != revision

    def seconds_since_save(self, cluster_uuid: str) -> float:
        saved = self._saved.get(cluster_uuid)
        return float("inf") if saved is None else time.monotonic() - saved[1]

    def autosave(self, cluster_uuid: str, *, timeout: float | None = None) -> bool:
        """Write the autosave of one cluster if it changed; False if busy or gone."""
        if not self.is_changed(cluster_uuid):
            return True
        path = self.path_of(cluster_uuid)
        try:
            with self.executor.exclusive(cluster_uuid, timeout), self._save_lock:
                if not self.executor.exists(cluster_uuid):
                    return False
                revision = self.executor.save(cluster_uuid, path)
                self._saved[cluster_uuid] = (revision, time.monotonic())
        except (ClusterBusy, ClusterNotFound):
            return False
        logger.debug("cluster %s autosaved (revision %d)", cluster_uuid, revision)
        return True

    def save_changed(self, *, wait: bool, min_age: float = 0.0) -> None:
        """Autosave every changed cluster; without ``wait`` busy clusters are skipped."""
        for cluster_uuid in self.executor.uuids():
            if self.seconds_since_save(cluster_uuid) < min_age:
                continue
            try:
                self.autosave(cluster_uuid, timeout=None if wait else 0.0)
            except Exception:
                logger.exception("autosave of cluster %s failed", cluster_uuid)

    # ------------------------------------------------------------------ hosts

    def host(self, host_uuid: str) -> Host | None:
        return next((h for h in self.hosts if h.uuid == host_uuid), None)

    def move_hexagon(self, cluster_uuid: str, hexagon_id: int, host_uuid: str) -> None:
        """Record the host of a hexagon (one process: the data stays where it is)."""
        self.hexagon_hosts.setdefault(cluster_uuid, {})[hexagon_id] = host_uuid

"""Cluster registry: the in-memory clusters behind the ``clusters`` rows, and their persistence.

The ``clusters`` table holds the metadata (uuid, name, owner, template text); the state of
each cluster lives in the :class:`~hanami.server.runtime.executor.ClusterExecutor`. So that clusters
survive restarts (the original dropped them all at start-up, spec B12), the registry writes
an *autosave* checkpoint ``<cluster_location>/<uuid>.ckpt``:

- when a train or restore task ends (the task engine calls :meth:`ClusterRegistry.autosave`),
  and every ``cluster_autosave_interval`` seconds during a long task;
- every ``cluster_autosave_interval`` seconds for clusters changed some other way (direct
  I/O), from a background thread that skips busy clusters;
- for every changed cluster on a graceful shutdown;
- as soon as its step journal holds :data:`JOURNAL_LIMIT` bytes.

Direct-I/O steps go through :meth:`ClusterRegistry.train_direct` and
:meth:`ClusterRegistry.request_direct`: each is recorded in the cluster's step journal
(:mod:`hanami.server.runtime.journal`, ``<cluster_location>/<uuid>.journal``); a train step
returns once its record is written (``journal_sync = interval``: a background thread syncs
the journals every ``journal_sync_interval`` seconds) or on disk (``always``). Every
autosave empties the journal.

At start-up every row (with API replicas: every row this replica adopts, see
:mod:`hanami.server.runtime.replicas`) is loaded from its autosave and its journal is
replayed on top; a row without a readable autosave is rebuilt from its template (an
untrained cluster) and a warning is logged. A cluster whose journal held steps that could
not be replayed (the autosave they build on is gone) is listed in
:attr:`ClusterRegistry.damaged`. Autosaves
and journals without a row, and temp files of autosaves cut short by a crash, are removed
(only by a replica that starts alone: another one may be writing them). Every autosave
also stores the cluster's widths and metrics with its row, for the replicas that do not
hold it (:meth:`ClusterRegistry.info`).

With a shared executor (Ray) every replica reaches every cluster, but only its holder
writes the autosave and the journal: the periodic autosave skips the clusters held
elsewhere, and a direct-I/O step through another replica first makes that replica the
holder (:meth:`Replicas.take`); the former holder then lets go of the files, not of the
actor (:meth:`ClusterRegistry.release`), at its next keeper tick (at most a second). The new
holder starts a new journal file, so a step the former one journals meanwhile (two direct
sessions on one cluster through two replicas) lands in the unlinked file: it is in the
actor's state, but only durable once the new holder's next autosave has run.

The registry also keeps the logical hosts (one ``cpu`` host per CPU package, random uuids
per process, as the original) and which host each hexagon was moved to by ``switch_host``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from hanami.core.checkpoint import read_digest
from hanami.server.db.models import Cluster as ClusterRow
from hanami.server.db.session import Database
from hanami.server.runtime.cluster_files import catch_up, load_cluster, replay_journal
from hanami.server.runtime.executor import (
    ClusterBusy,
    ClusterExecutor,
    ClusterInfo,
    ClusterNotFound,
)
from hanami.server.runtime.journal import (
    SYNC_INTERVAL_S,
    JournalSync,
    PeriodicSync,
    StepJournal,
)
from hanami.server.runtime.journaled_steps import JournaledSteps
from hanami.server.runtime.periodic import Periodic
from hanami.server.runtime.replicas import Replicas

__all__ = ["AUTOSAVE_SUFFIX", "JOURNAL_LIMIT", "JOURNAL_SUFFIX", "ClusterRegistry", "Host"]

logger = logging.getLogger("hanami.server.clusters")

AUTOSAVE_SUFFIX = ".ckpt"
JOURNAL_SUFFIX = ".journal"
JOURNAL_LIMIT = 128 * 1024 * 1024
"""Journal bytes that trigger an autosave: bounds the disk it takes and the replay time."""
FULL_WAIT_S = 1.0
"""How long the autosave thread waits for a busy cluster whose journal is full."""
JOURNAL_SYNC_THREADS = 4


@dataclass(frozen=True)
class Host:
    uuid: str
    type: str
    package: int


class ClusterRegistry(JournaledSteps):
    """Creates, restores, autosaves and deletes the clusters of the service."""

    def __init__(
        self,
        database: Database,
        executor: ClusterExecutor,
        location: Path,
        *,
        autosave_interval: float = 300.0,
        packages: list[int] | None = None,
        replicas: Replicas | None = None,
        journal_sync: JournalSync = "interval",
        journal_sync_interval: float = SYNC_INTERVAL_S,
    ) -> None:
        self.database = database
        self.replicas = replicas
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
        self._autosaver = Periodic(
            "ClusterAutosave",
            min(max(autosave_interval / 4, 0.5), 1.0),
            lambda: self.save_changed(wait=False, min_age=self.autosave_interval),
            logger,
        )
        self._journals: dict[str, StepJournal] = {}
        self._sync_pool = ThreadPoolExecutor(JOURNAL_SYNC_THREADS, "JournalSync")
        self.journal_sync = journal_sync
        self._periodic_sync = PeriodicSync(lambda: list(self._journals.values()),
                                           journal_sync_interval)  # fmt: skip
        self.damaged: set[str] = set()
        """Clusters that lost journaled (acknowledged) steps at start-up."""
        self._disowned: set[str] = set()

    # ------------------------------------------------------------------ life cycle

    def path_of(self, cluster_uuid: str) -> Path:
        return self.location / f"{cluster_uuid}{AUTOSAVE_SUFFIX}"

    def journal_path(self, cluster_uuid: str) -> Path:
        return self.location / f"{cluster_uuid}{JOURNAL_SUFFIX}"

    def restore_all(self, only: Collection[str] | None = None, *, sweep: bool = True) -> None:
        """Bring the ``clusters`` rows (``only`` these) back into the executor (start-up,
        adoption); ``sweep``: remove files no row refers to."""
        self.location.mkdir(parents=True, exist_ok=True)
        with self.database.session() as session:
            rows = [(c.uuid, c.template) for c in session.scalars(select(ClusterRow))]
        known, outlived = set(), []
        for cluster_uuid, template in rows:
            known.add(cluster_uuid)
            if only is not None and cluster_uuid not in only:
                continue
            if self.executor.exists(cluster_uuid):  # an actor that outlived its replica
                outlived.append(cluster_uuid)
                continue
            self._bring_back(cluster_uuid, template)
        if outlived:  # each may wait out a dead holder's lease: wait for them all at once
            with ThreadPoolExecutor(min(32, len(outlived)), "hanami-catch-up") as pool:
                list(pool.map(self._catch_up, outlived))
        if not sweep:
            return
        for suffix in (AUTOSAVE_SUFFIX, JOURNAL_SUFFIX):
            for path in self.location.glob(f"*{suffix}"):
                if path.name.removesuffix(suffix) not in known:
                    path.unlink(missing_ok=True)
        for path in self.location.glob(".*.tmp"):  # an autosave cut short by a crash
            path.unlink(missing_ok=True)

    def revive(self, cluster_uuid: str) -> None:
        """Bring back one cluster the executor lost (its Ray node died): from its autosave,
        its journaled steps replayed on top, as at start-up."""
        with self.database.session() as session:
            row = session.get(ClusterRow, cluster_uuid)
            if row is None:  # deleted meanwhile
                return
            template = row.template
        with self._save_lock:
            journal = self._journals.pop(cluster_uuid, None)
            if journal is not None:
                journal.close()
        self._bring_back(cluster_uuid, template)

    def _bring_back(self, cluster_uuid: str, template: str | None) -> None:
        digest = self._load(cluster_uuid, template)
        if self.executor.exists(cluster_uuid):
            self._replay(cluster_uuid, digest)

    def _load(self, cluster_uuid: str, template: str | None) -> bytes | None:
        """Load a cluster from its autosave, else rebuild it from its template; returns the
        autosave's SHA-256 (None: not loaded from it)."""
        loaded = load_cluster(self.executor, cluster_uuid, self.path_of(cluster_uuid), template)
        if loaded is None:
            return None
        digest, revision = loaded
        self._saved[cluster_uuid] = (revision, time.monotonic())
        return digest

    def _replay(self, cluster_uuid: str, digest: bytes | None) -> None:
        """Apply the journaled steps on top of the autosave with SHA-256 ``digest``, then
        autosave (emptying the journal) or reopen the journal past its intact records."""
        replay = replay_journal(self.executor, cluster_uuid, self.journal_path(cluster_uuid),
                                digest)  # fmt: skip
        if replay.damaged:
            self.damaged.add(cluster_uuid)
        if replay.applied or replay.other or digest is None or cluster_uuid in self.damaged:
            self.autosave(cluster_uuid, force=True)
        else:
            self._journals[cluster_uuid] = self._open_journal(cluster_uuid, digest, replay.end)

    def _catch_up(self, cluster_uuid: str) -> None:
        """Apply the steps its former holder journaled but did not send (it died), then
        autosave, which takes the journal over."""
        with self.executor.exclusive(cluster_uuid):
            if catch_up(self.executor, cluster_uuid, self.journal_path(cluster_uuid),
                        self.path_of(cluster_uuid)):  # fmt: skip
                self.autosave(cluster_uuid, force=True)

    def _open_journal(self, cluster_uuid: str, digest: bytes, end: int = 0) -> StepJournal:
        path = self.journal_path(cluster_uuid)
        return StepJournal(path, digest, self._sync_pool, end=end, mode=self.journal_sync)

    def start(self) -> None:
        """Start the periodic autosave thread (and the journal sync thread: ``interval``)."""
        if self.journal_sync == "interval":
            self._periodic_sync.start()
        self._autosaver.start()

    def stop(self) -> None:
        """Stop the autosave thread and save every changed cluster (graceful shutdown)."""
        self._autosaver.stop()
        self.save_changed(wait=True)
        self._periodic_sync.stop()  # what no autosave took is synced
        with self._save_lock:
            for journal in self._journals.values():
                journal.close()
            self._journals.clear()

    # ------------------------------------------------------------------ clusters

    def create(self, cluster_uuid: str, template_text: str) -> ClusterInfo:
        """Build a new cluster (``TemplateError`` for a bad template)."""
        info = self.executor.create(cluster_uuid, template_text)
        return info

    def info(self, cluster_uuid: str) -> ClusterInfo | None:
        """The cluster as the executor holds it; held by another replica: as of its last
        autosave."""
        try:
            return self.executor.info(cluster_uuid)
        except ClusterNotFound:
            return self.replicas.stored_info(cluster_uuid) if self.replicas else None

    def add_delete_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(cluster_uuid)`` runs after a cluster was deleted (e.g. detach websockets)."""
        self._delete_listeners.append(listener)

    def delete(self, cluster_uuid: str, *, keep_files: bool = False) -> None:
        """Free the cluster (waits for the call in progress) and remove its autosave
        (``keep_files``: another replica adopted it and uses them now)."""
        with contextlib.suppress(ClusterNotFound):
            self.executor.delete(cluster_uuid)
        with self._save_lock:
            self._saved.pop(cluster_uuid, None)
            journal = self._journals.pop(cluster_uuid, None)
            if journal is not None:
                journal.close(remove=not keep_files)
            if not keep_files:
                self.path_of(cluster_uuid).unlink(missing_ok=True)
                self.journal_path(cluster_uuid).unlink(missing_ok=True)
            self._disowned.discard(cluster_uuid)
        self.hexagon_hosts.pop(cluster_uuid, None)
        for listener in list(self._delete_listeners):
            try:
                listener(cluster_uuid)
            except Exception:
                logger.exception("cluster delete listener failed for %s", cluster_uuid)

    def release(self, cluster_uuid: str) -> None:
        """Shared executor: another replica became the holder; stop writing the cluster's
        files (kept for it) but leave the cluster itself running."""
        self.disown(cluster_uuid)
        with self._save_lock:
            self._saved.pop(cluster_uuid, None)
            journal = self._journals.pop(cluster_uuid, None)
            if journal is not None:
                journal.close()

    def own(self, cluster_uuid: str) -> None:
        """This replica became the holder again: its autosaves are allowed."""
        self._disowned.discard(cluster_uuid)

    def disown(self, cluster_uuid: str) -> None:
        """Never autosave this cluster again (until :meth:`delete`): its row went away or
        names another replica."""
        self._disowned.add(cluster_uuid)

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

    def autosave(
        self, cluster_uuid: str, *, timeout: float | None = None, force: bool = False
    ) -> bool:
        """Write the autosave of one cluster if it changed (``force``: anyway) and empty its
        journal; False if busy or gone."""
        if not force and not self.is_changed(cluster_uuid):
            return True
        if cluster_uuid in self._disowned or (self.replicas and not self.replicas.fresh()):
            return False  # another replica may have adopted it: its files are not ours
        path = self.path_of(cluster_uuid)
        try:
            with self.executor.exclusive(cluster_uuid, timeout), self._save_lock:
                if not self.executor.exists(cluster_uuid):
                    return False
                revision = self.executor.save(cluster_uuid, path)
                self._saved[cluster_uuid] = (revision, time.monotonic())
                digest = read_digest(path)
                journal = self._journals.get(cluster_uuid)
                if journal is None:
                    # a new file, not the old one cut: a former holder (shared executor)
                    # may still write through its descriptor until it lets go
                    self.journal_path(cluster_uuid).unlink(missing_ok=True)
                    journal = self._open_journal(cluster_uuid, digest)
                    self._journals[cluster_uuid] = journal
                journal.reset(digest)
                info = self.executor.info(cluster_uuid)
        except (ClusterBusy, ClusterNotFound):
            return False
        if self.replicas is not None:
            self.replicas.store_info(info)
        logger.debug("cluster %s autosaved (revision %d)", cluster_uuid, revision)
        return True

    def save_changed(self, *, wait: bool, min_age: float = 0.0) -> None:
        """Autosave every changed cluster (journals past :data:`JOURNAL_LIMIT`: whatever
        their age); without ``wait`` busy clusters are skipped."""
        uuids = self.executor.uuids()
        if self.executor.shared and self.replicas is not None:
            uuids = sorted(self.replicas.held().intersection(uuids))
        for cluster_uuid in uuids:
            journal = self._journals.get(cluster_uuid)
            full = journal is not None and journal.size >= JOURNAL_LIMIT
            if not full and self.seconds_since_save(cluster_uuid) < min_age:
                continue
            try:
                # a full journal waits a little: back-to-back batched steps hold the
                # cluster almost all the time, so a free moment may never come
                self.autosave(cluster_uuid, timeout=None if wait else FULL_WAIT_S if full else 0.0)
            except Exception:
                logger.exception("autosave of cluster %s failed", cluster_uuid)

    # ------------------------------------------------------------------ hosts

    def host(self, host_uuid: str) -> Host | None:
        return next((h for h in self.hosts if h.uuid == host_uuid), None)

    def move_hexagon(self, cluster_uuid: str, hexagon_id: int, host_uuid: str) -> None:
        """Record the host of a hexagon (one process: the data stays where it is)."""
        self.hexagon_hosts.setdefault(cluster_uuid, {})[hexagon_id] = host_uuid

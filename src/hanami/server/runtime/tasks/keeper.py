"""The replica keeper: what a replica does every moment beside the requests it serves.

Every :data:`TICK_S` (at most a quarter of the lease) it

1. lets go of the clusters whose row no longer names it: deleted through another replica,
   or adopted by another replica while this one's heartbeat lagged (its task is cancelled,
   nothing of it is autosaved over the adopter's files); with a shared executor (Ray) the
   holder also moves to whichever replica claims a task or opens the journal, and the
   former one only stops writing the cluster's files;
2. adopts the clusters of dead replicas (:meth:`Replicas.orphaned`): loads them from their
   autosave and journal, applies the crash rules to their interrupted tasks, starts their
   lanes;
3. starts the lanes of its clusters for which other replicas queued tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import select

from hanami.server.db.models import Cluster, Task
from hanami.server.runtime.periodic import Periodic
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.replicas import Replicas
from hanami.server.runtime.tasks.engine import TaskEngine
from hanami.server.runtime.tasks.states import QUEUED

__all__ = ["ReplicaKeeper"]

logger = logging.getLogger("hanami.server.runtime.replicas")

TICK_S = 1.0


class ReplicaKeeper:
    """Adopts orphaned clusters, drops lost ones and starts lanes for remote tasks."""

    def __init__(self, replicas: Replicas, registry: ClusterRegistry, engine: TaskEngine) -> None:
        self.replicas = replicas
        self.registry = registry
        self.engine = engine
        self._held: set[str] = set()
        self._ticker = Periodic("ReplicaKeeper", min(TICK_S, replicas.lease / 4), self.tick, logger)

    def start(self, held: Collection[str]) -> None:
        """Start ticking (not for a solo server), knowing the clusters adopted at start-up."""
        self._held = set(held)
        if not self.replicas.solo:
            self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def tick(self) -> None:
        held = self.replicas.held()
        for cluster_uuid in self._held - held:
            self._let_go(cluster_uuid)
        self._held = held
        adopted = [u for u in self.replicas.orphaned() if self.replicas.adopt(u)]
        if adopted:
            self.registry.restore_all(adopted, sweep=False)
            self._held.update(adopted)
            self.engine.adopt(adopted)
        with self.replicas.database.session() as session:
            queued = session.scalars(
                select(Task.cluster_uuid)
                .join(Cluster, Cluster.uuid == Task.cluster_uuid)
                .where(Cluster.holder == self.replicas.id, Task.state == QUEUED)
                .distinct()
            ).all()
        for cluster_uuid in queued:
            self.engine.kick(cluster_uuid)

    def _let_go(self, cluster_uuid: str) -> None:
        with self.replicas.database.session() as session:
            deleted = session.get(Cluster, cluster_uuid) is None
        if self.registry.executor.shared and not deleted:
            self.registry.release(cluster_uuid)  # the actor stays: the new holder uses it
            self.engine.remove_cluster(cluster_uuid)  # a task of ours only if we lagged
            return
        if not deleted:
            logger.warning("replica %s lost cluster %s to another replica", self.replicas.id,
                           cluster_uuid)  # fmt: skip
        self.registry.disown(cluster_uuid)
        self.engine.remove_cluster(cluster_uuid)
        self.registry.delete(cluster_uuid, keep_files=not deleted)

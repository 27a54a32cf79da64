"""Membership of the API replicas that share one database and one data root.

With the in-process executor a cluster lives in the memory of one ``hanami serve`` process.
Each cluster row names that process in ``clusters.holder``; only the holder runs the
cluster's tasks and its direct I/O. A replica is *alive* while the heartbeat of its
``replicas`` row is younger than the task lease (``HANAMI_TASK_LEASE_S``); it renews it every
third of the lease. The clusters of a replica that stopped beating are *adopted* by the others:
one conditional ``UPDATE`` (the holder must still be the dead one) lets exactly one replica win
each cluster, which it then loads from its autosave and journal on the shared data root.

A replica whose own heartbeat has not been written for a whole lease (the database was out of
reach, the process was frozen) may have been taken over: :meth:`Replicas.fresh` turns false
and it stops writing autosaves until its next heartbeat, and the task engine fences the
writes of its tasks on ``tasks.claimed_by``.

With a shared executor (Ray) every replica reaches every cluster; the holder is then the
replica that last claimed one of its tasks, switched its mode or opened its journal for
direct I/O, and only the writing of its autosave and journal stays with one replica.

A *solo* server (SQLite: one process by definition) treats every other holder as gone at
start-up and runs no heartbeat.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import delete, false, or_, select, update
from sqlalchemy.orm import aliased

from hanami.core import parse_template
from hanami.server.db.models import Cluster, Replica
from hanami.server.db.session import Database
from hanami.server.runtime.executor import ClusterInfo
from hanami.server.runtime.periodic import Periodic

__all__ = ["Replicas"]

logger = logging.getLogger("hanami.server.runtime.replicas")


class Replicas:
    """This process's row among the replicas, its heartbeat, and cluster adoption."""

    def __init__(self, database: Database, replica_id: str, lease: float, *, solo: bool) -> None:
        self.database = database
        self.id = replica_id
        self.lease = lease
        self.solo = solo
        self._beaten = time.monotonic()
        self._heart = Periodic("ReplicaHeartbeat", self.lease / 3, self.beat, logger)

    # ------------------------------------------------------------------ heartbeat

    def register(self) -> bool:
        """Write this replica's row; returns whether it is alone (no other live replica)."""
        now = time.time()
        with self.database.session() as session:
            row = session.get(Replica, self.id)
            if row is None:
                session.add(Replica(id=self.id, started_at=now, heartbeat_at=now))
            else:
                row.started_at = row.heartbeat_at = now
            session.commit()
            others = session.scalar(
                select(Replica.id).where(
                    Replica.id != self.id, Replica.heartbeat_at >= now - self.lease
                )
            )
        self._beaten = time.monotonic()
        return self.solo or others is None

    def start(self) -> None:
        """Start the heartbeat thread (not for a solo server)."""
        if not self.solo:
            self._heart.start()

    def beat(self) -> None:
        started = time.monotonic()
        with self.database.session() as session:
            session.execute(
                update(Replica).where(Replica.id == self.id).values(heartbeat_at=time.time())
            )
            session.commit()
        self._beaten = started

    def fresh(self) -> bool:
        """Whether no other replica can have taken this one's clusters over yet."""
        return self.solo or time.monotonic() - self._beaten < self.lease

    def stop(self) -> None:
        """Stop beating, hand every held cluster back and remove the row (graceful
        shutdown, after the clusters were autosaved): others adopt them at once."""
        self._heart.stop(5)
        with self.database.session() as session:
            session.execute(update(Cluster).where(Cluster.holder == self.id).values(holder=None))
            session.execute(delete(Replica).where(Replica.id == self.id))
            session.commit()

    # ------------------------------------------------------------------ clusters

    def held(self) -> set[str]:
        """The clusters whose row names this replica as holder."""
        with self.database.session() as session:
            return set(session.scalars(select(Cluster.uuid).where(Cluster.holder == self.id)))

    def holder(self, cluster_uuid: str) -> str | None:
        with self.database.session() as session:
            return session.scalar(select(Cluster.holder).where(Cluster.uuid == cluster_uuid))

    def orphaned(self, *, starting: bool = False) -> list[str]:
        """Clusters without a live holder (``starting``: this replica's own too, left by its
        previous run; a solo server: every cluster)."""
        with self.database.session() as session:
            query = select(Cluster.uuid).order_by(Cluster.created_at)
            if not self.solo:
                beat = aliased(Replica)
                cutoff = time.time() - self.lease
                dead = or_(beat.id.is_(None), beat.heartbeat_at < cutoff)
                mine = Cluster.holder == self.id
                query = query.outerjoin(beat, beat.id == Cluster.holder).where(
                    or_(Cluster.holder.is_(None), mine if starting else false(),
                        (Cluster.holder != self.id) & dead)
                )  # fmt: skip
            return list(session.scalars(query))

    def adopt(self, cluster_uuid: str) -> bool:
        """Make this replica the cluster's holder unless a live replica holds it (or another
        replica adopted it first); True if it is now this replica's."""
        with self.database.session() as session:
            holder = session.scalar(select(Cluster.holder).where(Cluster.uuid == cluster_uuid))
            if holder != self.id and not self.solo and holder is not None:
                beat = session.get(Replica, holder)
                if beat is not None and beat.heartbeat_at >= time.time() - self.lease:
                    return False
            won = session.execute(
                update(Cluster)
                .where(
                    Cluster.uuid == cluster_uuid,
                    Cluster.holder.is_(None) if holder is None else Cluster.holder == holder,
                )
                .values(holder=self.id)
            ).rowcount
            session.commit()
        if won and holder not in (None, self.id):
            logger.warning("replica %s adopted cluster %s from %s", self.id, cluster_uuid, holder)
        return bool(won)

    def take(self, cluster_uuid: str) -> None:
        """Shared executor (Ray): become the cluster's holder now, whoever held it (the
        former holder lets go of its files at its next keeper tick)."""
        with self.database.session() as session:
            session.execute(update(Cluster).where(Cluster.uuid == cluster_uuid,
                                                  Cluster.holder.is_distinct_from(self.id))
                            .values(holder=self.id))  # fmt: skip
            session.commit()

    # ------------------------------------------------------------------ what others see

    def store_info(self, info: ClusterInfo) -> None:
        """Record the widths and metrics of a cluster just autosaved, for the other replicas."""
        summary = {"inputs": info.input_sizes, "outputs": info.output_sizes,
                   "metrics": info.metrics, "revision": info.revision}  # fmt: skip
        with self.database.session() as session:
            session.execute(update(Cluster).where(Cluster.uuid == info.uuid).values(
                summary=summary))  # fmt: skip
            session.commit()

    def stored_info(self, cluster_uuid: str) -> ClusterInfo | None:
        """A cluster held by another replica, as of its last autosave (None: no such row)."""
        with self.database.session() as session:
            row = session.get(Cluster, cluster_uuid)
            if row is None or row.template is None:
                return None
            summary = row.summary
            if summary is None:  # not autosaved since the upgrade: the template's names
                template = parse_template(row.template)
                summary = {
                    "inputs": dict.fromkeys((i.name for i in template.inputs), 0),
                    "outputs": dict.fromkeys((o.name for o in template.outputs), 0),
                }
            return ClusterInfo(
                uuid=cluster_uuid,
                template=row.template,
                input_sizes=dict(summary.get("inputs", {})),
                output_sizes=dict(summary.get("outputs", {})),
                metrics=dict(summary.get("metrics", {})),
                revision=int(summary.get("revision", 0)),
            )

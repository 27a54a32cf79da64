"""What the ``tasks`` table says about a cluster's queue, apart from the engine's threads:
its oldest queued task, the claim that makes it active (fenced by replica), whether any
task waits, and the mode stored with the cluster."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hanami.protocol.timestamps import utcnow
from hanami.server.db.models import Cluster, Task
from hanami.server.db.session import Database
from hanami.server.runtime.tasks.progress import TaskSnapshot
from hanami.server.runtime.tasks.states import ACTIVE, QUEUED

__all__ = ["claim", "has_queued", "oldest_queued", "snapshot", "store_mode"]


def oldest_queued(session: Session, cluster_uuid: str) -> Task | None:
    """The task the cluster's lane runs next (queue order: ``created_at``, then uuid)."""
    return session.scalars(
        select(Task)
        .where(Task.cluster_uuid == cluster_uuid, Task.state == QUEUED)
        .order_by(Task.created_at, Task.uuid)
        .limit(1)
    ).first()


def claim(session: Session, task_uuid: str, replica_id: str) -> bool:
    """Mark the task active for ``replica_id`` and commit; False if another claim won."""
    claimed = session.execute(
        update(Task)
        .where(Task.uuid == task_uuid, Task.state == QUEUED)
        .values(state=ACTIVE, started_at=utcnow(), error_message=None, claimed_by=replica_id)
    ).rowcount
    session.commit()
    return claimed == 1


def snapshot(task: Task) -> TaskSnapshot:
    """The columns of a claimed row that runners read, detached from its session."""
    return TaskSnapshot(
        uuid=task.uuid,
        cluster_uuid=task.cluster_uuid,
        name=task.name,
        task_type=task.task_type,
        owner_id=task.owner_id,
        project_id=task.project_id,
        time_length=task.time_length,
        current_cycle=task.current_cycle,
        total_number_of_cycles=task.total_number_of_cycles,
        parameters=dict(task.parameters or {}),
    )


def has_queued(database: Database, cluster_uuid: str) -> bool:
    with database.session() as session:
        first = session.scalar(
            select(Task.uuid)
            .where(Task.cluster_uuid == cluster_uuid, Task.state == QUEUED)
            .limit(1)
        )
    return first is not None


def store_mode(database: Database, cluster_uuid: str, mode: str) -> None:
    """Keep the cluster's mode with its row, so a restart restores it."""
    with database.session() as session:
        row = session.get(Cluster, cluster_uuid)
        if row is not None:
            row.mode = mode
            session.commit()

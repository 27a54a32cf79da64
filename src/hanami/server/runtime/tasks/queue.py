"""What the ``tasks`` table says about a cluster's queue, apart from the engine's threads:
its oldest queued task, the claim that makes it active (fenced by replica), whether any
task waits, and the mode stored with the cluster.

With a shared executor (Ray) the cluster's row is what every replica agrees on: claims and
mode switches lock it (``SELECT ... FOR UPDATE``; SQLite has one writer anyway), so a task
never starts on one replica while another switched the cluster to DIRECT or runs a task of
it, and the replica that wins becomes the cluster's holder."""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from hanami.protocol.timestamps import utcnow
from hanami.server.db.models import Cluster, Task
from hanami.server.db.session import Database
from hanami.server.runtime.tasks.progress import TaskSnapshot
from hanami.server.runtime.tasks.states import ACTIVE, MODE_DIRECT, MODE_TASK, QUEUED

__all__ = [
    "claim",
    "has_queued",
    "oldest_queued",
    "snapshot",
    "store_mode",
    "stored_mode",
    "switch_mode",
    "take_for_task",
]


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


def stored_mode(database: Database, cluster_uuid: str) -> str:
    """The mode in the cluster's row (TASK for a cluster without one)."""
    with database.session() as session:
        mode = session.scalar(select(Cluster.mode).where(Cluster.uuid == cluster_uuid))
    return str(mode or MODE_TASK)


def _locked(session: Session, cluster_uuid: str) -> tuple[Cluster | None, bool]:
    """The cluster's row, locked until the session ends, and whether a task of it is active."""
    row = session.scalar(select(Cluster).where(Cluster.uuid == cluster_uuid).with_for_update())
    active = session.scalar(
        select(exists().where(Task.cluster_uuid == cluster_uuid, Task.state == ACTIVE))
    )
    return row, bool(active)


def take_for_task(session: Session, cluster_uuid: str, replica_id: str | None) -> bool:
    """Shared executor: lock the cluster's row for a claim in this session and make this
    replica its holder; False (nothing changed) in DIRECT mode or while a task of it is
    active on any replica."""
    row, active = _locked(session, cluster_uuid)
    if row is None or row.mode != MODE_TASK or active:
        session.rollback()
        return False
    if replica_id is not None:
        row.holder = replica_id
    return True


def switch_mode(database: Database, cluster_uuid: str, mode: str, replica_id: str | None) -> bool:
    """Shared executor: TASK <-> DIRECT in the cluster's row (DIRECT: no task active on any
    replica), this replica becoming its holder; False if not allowed."""
    with database.session() as session:
        row, active = _locked(session, cluster_uuid)
        current = None if row is None else row.mode
        if mode == MODE_DIRECT:
            allowed = current == MODE_TASK and not active
        else:
            allowed = current == MODE_DIRECT
        if row is None or not allowed:
            session.rollback()
            return False
        row.mode = mode
        if replica_id is not None:
            row.holder = replica_id
        session.commit()
    return True

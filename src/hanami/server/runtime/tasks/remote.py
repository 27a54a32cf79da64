"""Tasks of clusters that another API replica holds (:mod:`hanami.server.runtime.replicas`).

The holder runs them; the replica that took the request only writes rows and waits: an
inline checkpoint save or restore is answered once the holder has run it, a ``DELETE /task``
of a running task sets ``cancel_requested`` (the holder stops at its next progress write).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Update, select

from hanami.server.db.models import Cluster, Task
from hanami.server.db.session import Database
from hanami.server.runtime.tasks.states import ACTIVE, QUEUED

__all__ = [
    "INLINE_WAIT_S",
    "POLL_S",
    "fenced",
    "held_elsewhere",
    "holder_of",
    "wait_until_done",
]

INLINE_WAIT_S = 60.0
"""How long a checkpoint save or restore through a replica that does not hold the cluster
waits for the holder before it answers ``queued``."""
POLL_S = 0.05


def fenced(statement: Update, task_uuid: str, replica_id: str | None) -> Update:
    """``statement`` restricted to the task, and to its claim by this replica (a replica
    that was taken over must not overwrite what the adopter writes)."""
    statement = statement.where(Task.uuid == task_uuid)
    return statement if replica_id is None else statement.where(Task.claimed_by == replica_id)


def wait_until_done(database: Database, task_uuid: str, timeout: float) -> str:
    """Wait until the task is neither queued nor running (or ``timeout``); its state."""
    deadline = time.monotonic() + timeout
    while True:
        with database.session() as session:
            state = session.scalar(select(Task.state).where(Task.uuid == task_uuid))
        if state not in (QUEUED, ACTIVE) or time.monotonic() >= deadline:
            return state or "deleted"
        time.sleep(POLL_S)


def holder_of(database: Database, cluster_uuid: str) -> str | None:
    """The replica that holds the cluster (None: nobody now, or no such cluster)."""
    with database.session() as session:
        holder: Any = session.scalar(select(Cluster.holder).where(Cluster.uuid == cluster_uuid))
    return holder


def held_elsewhere(database: Database, cluster_uuid: str) -> str:
    """The 409 text for a cluster that lives in another replica's memory."""
    holder = holder_of(database, cluster_uuid)
    return (
        f"Cluster with uuid '{cluster_uuid}' is held by replica '{holder}': with the "
        "in-process executor its mode switches and direct I/O go through that replica "
        "(or use the Ray executor)"
    )

"""What becomes of interrupted tasks.

A graceful shutdown (:meth:`stop`) suspends running tasks between chunks: a
train task goes back to ``queued`` keeping its ``current_cycle`` and resumes there after
the restart (the cluster is autosaved right after suspending; a shuffled task draws the
same permutations from its stored seed), a request task starts again from row 0. After a
crash, the train and request tasks found ``active`` at start-up are queued again at the
front of their lane: a train task at the cycle its cluster's autosave holds (the cluster was
restored from that autosave: the cycle the task last started at plus the samples the
cluster learned since), a request task from row 0; after :data:`CRASH_RESUMES`
crashes a task is marked ``failed`` instead. An interrupted checkpoint task is ``failed``
with an explanation (its client saw the request fail), or ``finished`` when its checkpoint
row was committed. Queued tasks simply run, except the checkpoint saves of a cluster that
lost direct-I/O steps acknowledged before the crash (:attr:`ClusterRegistry.damaged`: its
journal could not be replayed): they are ``failed``, never ``finished`` without the steps.

With API replicas a replica that adopts the clusters of a dead one applies the same crash
rules to their tasks (the dead replica's last autosave is the crash state).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hanami.protocol.timestamps import utcnow
from hanami.server.db.models import Checkpoint, Dataset, Task
from hanami.server.db.session import Database
from hanami.server.runtime.executor import ClusterExecutor
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.tasks.states import (
    ACTIVE,
    CHECKPOINT_RESTORE,
    CHECKPOINT_SAVE,
    FAILED,
    FINISHED,
    QUEUED,
    REQUEST,
    TRAIN,
)

__all__ = ["CRASH_RESUMES", "discard_side_effects", "recover", "samples_learned"]

logger = logging.getLogger("hanami.server.runtime.tasks")

CRASH_RESUMES = 2
"""How often a train or request task is queued again after a crash before it is failed (a
task that itself brings the server down must not do so forever)."""


def recover(
    database: Database,
    executor: ClusterExecutor,
    registry: ClusterRegistry,
    clusters: Collection[str] | None = None,
) -> None:
    """Deal with the tasks a crash interrupted (see the module docstring) on ``clusters``
    (default: all), just loaded by this replica: whoever ran them is gone."""
    with database.session() as session:
        query = select(Task).where(Task.state == ACTIVE)
        if clusters is not None:
            query = query.where(Task.cluster_uuid.in_(list(clusters)))
        interrupted = session.scalars(query).all()
        for task in interrupted:
            task.claimed_by = None  # whoever ran it is gone: its late writes miss
            if task.task_type == CHECKPOINT_SAVE and session.get(Checkpoint, task.uuid):
                # the crash came after the checkpoint row was committed: it is complete
                task.finished_at = utcnow()
                task.state, task.current_cycle, task.error_message = FINISHED, 1, None
                continue
            params = dict(task.parameters or {})
            resumes = int(params.get("crash_resumes", 0))
            if task.task_type in (TRAIN, REQUEST) and resumes < CRASH_RESUMES:
                resume_at = 0
                if task.task_type == TRAIN and "started_at_samples" in params:
                    # the cluster is back from its autosave: the cycles that holds are
                    # those of the last start plus the samples it learned since
                    learned = samples_learned(executor, task.cluster_uuid)
                    learned -= params["started_at_samples"]
                    resume_at = params["started_at_cycle"] + max(learned, 0)
                    resume_at = min(resume_at, task.total_number_of_cycles)
                task.parameters = {**params, "crash_resumes": resumes + 1}
                task.state, task.started_at, task.current_cycle = QUEUED, None, resume_at
                logger.warning("task %s was interrupted by a crash: queued again at cycle %d",
                               task.uuid, resume_at)  # fmt: skip
                continue
            task.finished_at = utcnow()
            task.state = FAILED
            task.error_message = (
                "Interrupted: the server stopped unexpectedly while this task was running "
                f"(cycle {task.current_cycle} of {task.total_number_of_cycles})"
                + (f" after {resumes} earlier crash(es); " if resumes else "; ")
                + ("the cluster was restored from its last autosave."
                   if task.task_type in (TRAIN, CHECKPOINT_RESTORE) else "run it again.")
            )  # fmt: skip
            logger.warning("task %s was interrupted by a crash: marked failed", task.uuid)
            discard_side_effects(session, task)
        _fail_lost_saves(session, registry)
        session.commit()


def _fail_lost_saves(session: Any, registry: ClusterRegistry) -> None:
    """Fail the queued saves of clusters whose acknowledged direct-I/O steps were lost."""
    if not registry.damaged:
        return
    for task in session.scalars(
        select(Task).where(
            Task.state == QUEUED,
            Task.task_type == CHECKPOINT_SAVE,
            Task.cluster_uuid.in_(registry.damaged),
        )
    ):
        task.finished_at = utcnow()
        task.state = FAILED
        task.error_message = (
            "Not saved: the cluster lost direct-I/O steps acknowledged before the server "
            "stopped (their journal could not be replayed; see the server log)"
        )
        logger.warning("checkpoint save %s failed: its cluster lost steps", task.uuid)
        discard_side_effects(session, task)


def samples_learned(executor: ClusterExecutor, cluster_uuid: str) -> int:
    """Samples the cluster has learned (0 if it is not there)."""
    if not executor.exists(cluster_uuid):
        return 0
    return int(executor.info(cluster_uuid).metrics.get("samples_trained", 0))


def discard_side_effects(session: Any, task: Task) -> None:
    """Remove what a task that will never finish left behind (result dataset, link)."""
    params = task.parameters or {}
    if task.task_type == REQUEST:
        dataset = session.get(Dataset, task.uuid)
        if dataset is not None and dataset.kind == "request_result":
            session.delete(dataset)
        location = params.get("result_location")
        if location:
            Path(location).unlink(missing_ok=True)
    if task.task_type == CHECKPOINT_RESTORE and params.get("temporary_copy"):
        Path(params["location"]).unlink(missing_ok=True)
    saved = task.task_type == CHECKPOINT_SAVE and params.get("location")
    if saved and session.get(Checkpoint, task.uuid) is None:
        Path(params["location"]).unlink(missing_ok=True)

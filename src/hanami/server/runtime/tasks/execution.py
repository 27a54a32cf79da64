"""Running one claimed task to its end: the runner, the autosave after it, its final row.

Apart from :mod:`hanami.server.runtime.tasks.engine` because the engine's job is the lanes
(which task runs when, on which thread); what happens inside one task, and which end state
each way out of the runner gives, is this module's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from hanami.protocol.timestamps import utcnow
from hanami.server.db.models import Task
from hanami.server.runtime.executor import ClusterNotFound
from hanami.server.runtime.tasks.progress import (
    Control,
    TaskCancelled,
    TaskRun,
    TaskSnapshot,
    TaskSuspended,
    error_text,
)
from hanami.server.runtime.tasks.recovery import samples_learned
from hanami.server.runtime.tasks.remote import fenced
from hanami.server.runtime.tasks.states import (
    ABORTED,
    CHECKPOINT_RESTORE,
    FAILED,
    FINISHED,
    QUEUED,
    TRAIN,
)

if TYPE_CHECKING:
    from hanami.server.runtime.tasks.engine import TaskEngine

__all__ = ["execute"]

logger = logging.getLogger("hanami.server.runtime.tasks")

_Outcome = tuple[str, str | None, int | None]
"""(state, error message, cycle reached) of a task that has stopped running."""


def execute(engine: TaskEngine, task: TaskSnapshot, control: Control) -> None:
    """Run the task under the cluster's exclusive lease, autosave a changed cluster and
    record the end state (fenced on this replica's claim)."""
    state, error, cycle = _run(engine, task, TaskRun(engine, task, control))
    if task.task_type in (TRAIN, CHECKPOINT_RESTORE) and engine.executor.exists(task.cluster_uuid):
        state, error = _autosave(engine, task, state, error)
    _record_end(engine, task, (state, error, cycle))
    logger.info("task %s (%s) on cluster %s: %s", task.uuid, task.task_type,
                task.cluster_uuid, state)  # fmt: skip


def _run(engine: TaskEngine, task: TaskSnapshot, run: TaskRun) -> _Outcome:
    """The runner, and the end state each way out of it gives."""
    try:
        runner = engine.runners.get(task.task_type)
        if runner is None:
            raise ValueError(f"unknown task type {task.task_type!r}")
        with engine.executor.exclusive(task.cluster_uuid):
            run.check()
            if task.task_type == TRAIN:  # for a crash: see recover()
                run.update_parameters(
                    started_at_cycle=task.current_cycle,
                    started_at_samples=samples_learned(engine.executor, task.cluster_uuid),
                )
            runner(run)
    except TaskCancelled:
        return ABORTED, None, run.cycle  # how far it got
    except TaskSuspended:
        return QUEUED, None, run.cycle if task.task_type == TRAIN else 0
    except ClusterNotFound:
        return FAILED, "the cluster was deleted or could not be restored", None
    except Exception as exc:
        error = error_text(exc)
        logger.warning("task %s (%s) failed: %s", task.uuid, task.task_type, error,
                       exc_info=not isinstance(exc, ValueError | OSError))  # fmt: skip
        return FAILED, error, None
    return FINISHED, None, None


def _autosave(
    engine: TaskEngine, task: TaskSnapshot, state: str, error: str | None
) -> tuple[str, str | None]:
    """Save the changed cluster; a task suspended at shutdown fails if it cannot be saved."""
    try:
        saved = engine.registry.autosave(task.cluster_uuid)
    except Exception as exc:
        logger.exception("autosave after task %s failed", task.uuid)
        saved = False
        if state == QUEUED:
            error = f"could not save the cluster at shutdown: {error_text(exc)}"
    if state == QUEUED and not saved:
        state = FAILED
        error = error or "could not save the cluster at shutdown; run the task again"
    return state, error


def _record_end(engine: TaskEngine, task: TaskSnapshot, outcome: _Outcome) -> None:
    """Write the end state; a suspended task goes back to the queue, not started."""
    state, error, cycle = outcome
    values: dict[str, Any] = {"state": state, "error_message": error}
    if cycle is not None:
        values["current_cycle"] = cycle
    if state == QUEUED:
        values["started_at"] = None
    else:
        values["finished_at"] = utcnow()
    try:
        with engine.database.session() as session:
            session.execute(fenced(update(Task), task.uuid, engine.replica_id).values(**values))
            session.commit()
    except Exception:
        logger.exception("could not record the end of task %s", task.uuid)

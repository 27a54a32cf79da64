"""Tasks: queue train and request tasks, show progress, list, cancel or delete.

Tasks are persistent rows run by :mod:`hanami.server.runtime.tasks` (one at a time per cluster, in
queue order). Everything is checked before a task is queued (cluster, datasets, columns,
hexagon names, row counts), so a 400/404/409 never leaves a broken task behind.

**Windows.** With ``time_length`` T and N the smallest row count of the bound datasets a
pass has ``N - T + 1`` cycles; cycle ``c`` feeds rows ``c .. c+T-1`` of every input group,
concatenated oldest first, and trains towards row ``c+T-1`` (the last row of the window) of
every output group. A request writes one result row per cycle.
``total_number_of_cycles`` is what the task really runs: ``(N - T + 1) × epochs``.

**States.** ``queued`` → ``active`` → ``finished``; ``aborted`` after a DELETE while it ran
(it stops between two chunks of rows); ``failed`` with ``error`` when something went wrong.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import ColumnElement, Select, and_, bindparam, select, true
from sqlalchemy.orm import Session

from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, ReaderDep, SessionDep
from hanami.server.api.inputs import PayloadRoute
from hanami.server.api.schemas import Empty, Table, table
from hanami.server.api.schemas.tasks import (
    ClusterTasks,
    RequestCreate,
    TaskRef,
    TrainCreate,
)
from hanami.server.db.models import Cluster, Dataset, Task
from hanami.server.errors import BadRequest, NotFound
from hanami.server.runtime.tasks import (
    REQUEST,
    TRAIN,
)
from hanami.server.security.tenancy import (
    get_in_scope,
    joined_in_scope,
    scope_columns,
    select_by_uuid,
)
from hanami.server.services import tasks

__all__ = ["router"]

router = APIRouter(tags=["task"], route_class=PayloadRoute)

TASK_LIST_HEADER = ("uuid", "state", "percentage", "queued", "start", "end")
# --------------------------------------------------------------------------- endpoints


@router.post("/task/train", response_model=wire.Task, summary="Queue train task")
def create_train_task(
    user: CurrentUser, data: Payload[TrainCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    """Learn the outputs from the inputs, ``epochs`` passes (optionally shuffled)."""
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    info = tasks.cluster_info(ctx, cluster)
    rows: list[int] = []
    inputs = tasks.bind(session, user, data.inputs, info.input_names, "input", rows)
    outputs = tasks.bind(session, user, data.outputs, info.output_names, "output", rows)
    per_epoch = tasks.windows(rows, data.time_length)
    seed = data.seed if data.seed is not None else secrets.randbits(63)
    task = tasks.new_task(
        user,
        cluster,
        data.name,
        TRAIN,
        {
            "inputs": [b.as_json() for b in inputs],
            "outputs": [b.as_json() for b in outputs],
            "epochs": data.epochs,
            "shuffle": data.shuffle,
            "seed": seed,
            "cycles_per_epoch": per_epoch,
        },
        time_length=data.time_length,
        total=per_epoch * data.epochs,
    )
    session.add(task)
    session.commit()
    ctx.tasks.submit(task.uuid, cluster.uuid)
    return tasks.task_public(task)


@router.post("/task/request", response_model=wire.Task, summary="Queue request task")
def create_request_task(
    user: CurrentUser, data: Payload[RequestCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    """Run the inputs through the cluster; results go to a new dataset with the task's uuid.

    The result dataset (``name`` = task name, float32, one column group per ``results``
    entry, consecutive) is listed at once and readable when the task is ``finished``; it
    is removed if the task fails, is cancelled or deleted before it ran.
    """
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    info = tasks.cluster_info(ctx, cluster)
    rows: list[int] = []
    inputs = tasks.bind(session, user, data.inputs, info.input_names, "input", rows)
    columns = set()
    for result in data.results:
        if result.hexagon_name not in info.output_names:
            raise NotFound(
                f"Cluster has no output hexagon with name '{result.hexagon_name}' "
                f"(its outputs: {tasks.names(info.output_names)})"
            )
        if result.dataset_column in columns:
            raise BadRequest(f"Result column '{result.dataset_column}' is given twice")
        columns.add(result.dataset_column)
    windows = tasks.windows(rows, data.time_length)
    directory = ctx.settings.dataset_location
    assert directory is not None
    task_uuid = str(uuid.uuid4())
    location = directory / task_uuid
    task = tasks.new_task(
        user,
        cluster,
        data.name,
        REQUEST,
        {
            "inputs": [b.as_json() for b in inputs],
            "results": [r.model_dump() for r in data.results],
            "result_location": str(location),
        },
        time_length=data.time_length,
        total=windows,
    )
    task.uuid = task_uuid
    session.add(task)
    session.add(
        Dataset(
            uuid=task_uuid,
            name=data.name,
            kind="request_result",
            location=str(location),
            owner_id=user.user_id,
            project_id=user.project_id,
            visibility="private",
        )
    )
    ctx.quotas.check(session, user.project_id, storage=0, datasets=True)
    session.commit()
    ctx.tasks.submit(task.uuid, cluster.uuid)
    return tasks.task_public(task)


def _cluster_with_tasks(tasks_on: ColumnElement[bool]) -> Select[Any]:
    """The cluster's :func:`scope_columns` and the columns of its tasks that ``tasks_on``
    selects (NULL when none): one statement for a GET endpoint, where reading the cluster
    and then its tasks cost a round trip each on PostgreSQL. Built once (see
    :mod:`hanami.server.api.listing`)."""
    clusters, task_rows = Cluster.__table__, Task.__table__
    return (
        select(*scope_columns(Cluster), task_rows)
        .select_from(
            clusters.outerjoin(
                task_rows, and_(task_rows.c.cluster_uuid == clusters.c.uuid, tasks_on)
            )
        )
        .where(clusters.c.uuid == bindparam("cluster"))
    )


_TASK_COLUMNS = Task.__table__.c
_CLUSTER_TASKS = _cluster_with_tasks(true()).order_by(_TASK_COLUMNS.created_at, _TASK_COLUMNS.uuid)
_CLUSTER_TASK = _cluster_with_tasks(_TASK_COLUMNS.uuid == bindparam("task"))


def _task_in_cluster(session: Session, task_uuid: str, cluster_uuid: str) -> Task:
    task = session.execute(select_by_uuid(Task), {"uuid": task_uuid}).scalar_one_or_none()
    if task is None or task.cluster_uuid != cluster_uuid:
        raise _task_not_found(task_uuid)
    return task


def _task_not_found(task_uuid: str) -> NotFound:
    return NotFound(f"Task with uuid '{task_uuid}' not found")


@router.get("/task", response_model=wire.Task, summary="Show task")
def get_task(user: CurrentUser, data: Payload[TaskRef], reader: ReaderDep, ctx: ContextDep) -> Any:
    """Progress: cycles done of total, rows per second, ETA, error text of a failed task."""
    params = {"cluster": data.cluster_uuid, "task": data.uuid}
    (task,) = joined_in_scope(reader, user, _CLUSTER_TASK, params, data.cluster_uuid, "Cluster")
    if task.uuid is None:  # the cluster has no such task
        raise _task_not_found(data.uuid)
    return tasks.task_public(task, ctx.tasks.live(task.uuid))


@router.get("/task/all", response_model=Table, summary="List tasks of a cluster")
def list_tasks(user: CurrentUser, data: Payload[ClusterTasks], reader: ReaderDep) -> Any:
    """All tasks of the cluster, oldest first; every value a string, percentage a fraction."""
    params = {"cluster": data.cluster_uuid}
    rows = joined_in_scope(reader, user, _CLUSTER_TASKS, params, data.cluster_uuid, "Cluster")
    return table(
        TASK_LIST_HEADER,
        (
            [
                t.uuid,
                t.state,
                f"{tasks.fraction(t):.6f}",
                format_timestamp(t.created_at),
                format_timestamp(t.started_at),
                format_timestamp(t.finished_at),
            ]
            for t in rows
            if t.uuid is not None  # the one row of a cluster without tasks
        ),
    )


@router.delete("/task", response_model=Empty, summary="Delete or cancel task")
def delete_task(
    user: CurrentUser, data: Payload[TaskRef], session: SessionDep, ctx: ContextDep
) -> Any:
    """A queued or ended task is removed; a running one is cancelled (kept as ``aborted``).

    Cancellation takes effect between two chunks of rows; the call waits up to 5 s for it.
    A finished request task's result dataset stays.
    """
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    task = _task_in_cluster(session, data.uuid, cluster.uuid)
    session.rollback()
    ctx.tasks.delete_task(task.uuid)
    return {}

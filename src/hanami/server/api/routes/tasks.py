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
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from hanami.datasets import DatasetError, open_dataset
from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp, utcnow
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, SessionDep
from hanami.server.api.inputs import PayloadRoute
from hanami.server.api.schemas import Empty, Table, table
from hanami.server.api.schemas.tasks import (
    ClusterTasks,
    DataBinding,
    RequestCreate,
    TaskRef,
    TrainCreate,
)
from hanami.server.db.models import Cluster, Dataset, Task
from hanami.server.errors import BadRequest, Conflict, NotFound
from hanami.server.runtime.executor import ClusterInfo
from hanami.server.runtime.tasks import (
    ACTIVE,
    FINISHED,
    QUEUED,
    REQUEST,
    TRAIN,
    Binding,
    window_count,
)
from hanami.server.runtime.tasks.progress import Control
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import get_in_scope

__all__ = ["router", "task_public"]

router = APIRouter(tags=["task"], route_class=PayloadRoute)

TASK_LIST_HEADER = ("uuid", "state", "percentage", "queued", "start", "end")
# --------------------------------------------------------------------------- output


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None:
        return 0.0
    return max(0.0, ((end or utcnow()) - start).total_seconds())


def task_public(task: Task, live: Control | None = None) -> dict[str, Any]:
    params = task.parameters or {}
    total = task.total_number_of_cycles
    current = task.current_cycle
    epochs = int(params.get("epochs", 1))
    per_epoch = int(params.get("cycles_per_epoch") or total or 1)
    epoch = epochs if task.state == FINISHED else min(current // max(per_epoch, 1) + 1, epochs)
    rate: float | None = None
    if live is not None and live.rate > 0:
        rate = live.rate
    elif task.state in (ACTIVE, FINISHED) and current > 0:
        elapsed = _seconds(task.started_at, task.finished_at)
        rate = current / elapsed if elapsed > 0 else None
    eta: float | None = None
    if task.state == FINISHED:
        eta = 0.0
    elif task.state == ACTIVE and rate:
        eta = max(0, total - current) / rate
    return {
        "uuid": task.uuid,
        "name": task.name,
        "current_cycle": current,
        "total_number_of_cycles": total,
        "state": task.state,
        "queue_timestamp": format_timestamp(task.created_at),
        "start_timestamp": format_timestamp(task.started_at),
        "end_timestamp": format_timestamp(task.finished_at),
        "cluster_uuid": task.cluster_uuid,
        "type": task.task_type,
        "error": task.error_message,
        "percentage": _fraction(task),
        "samples_per_second": None if rate is None else round(rate, 3),
        "eta_seconds": None if eta is None else round(eta, 3),
        "time_length": task.time_length,
        "epoch": epoch,
        "epochs": epochs,
        "shuffle": bool(params.get("shuffle", False)),
        "training_error": _live(live, "training_error", params),
        "training_accuracy": _live(live, "training_accuracy", params),
    }


def _live(live: Control | None, name: str, params: dict[str, Any]) -> float | None:
    """A training statistic: the running task's latest, else the last one stored."""
    value = getattr(live, name, None) if live is not None else None
    if value is None:
        value = params.get(name)
    return None if value is None else round(float(value), 6)


# --------------------------------------------------------------------------- validation


def _cluster_info(ctx: Any, cluster: Cluster) -> ClusterInfo:
    info = ctx.clusters.info(cluster.uuid)
    if info is None:
        raise Conflict(f"Cluster with uuid '{cluster.uuid}' is not loaded")
    return info


def _names(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) or "none"


def _bind(
    session: Session,
    user: Principal,
    items: list[DataBinding],
    hexagons: list[str],
    role: str,
    rows: list[int],
) -> list[Binding]:
    """Check one list of bindings; append each dataset's row count to ``rows``."""
    bindings, seen = [], set()
    for item in items:
        if item.hexagon_name not in hexagons:
            raise NotFound(
                f"Cluster has no {role} hexagon with name '{item.hexagon_name}' "
                f"(its {role}s: {_names(hexagons)})"
            )
        if item.hexagon_name in seen:
            raise BadRequest(f"{role.capitalize()} hexagon '{item.hexagon_name}' is bound twice")
        seen.add(item.hexagon_name)
        dataset = get_in_scope(session, user, Dataset, item.dataset_uuid, "Dataset")
        try:
            content = open_dataset(dataset.location)
        except (OSError, DatasetError):
            raise Conflict(
                f"Dataset with uuid '{dataset.uuid}' has no data yet: its upload was not "
                "finalized or its task has not written it"
            ) from None
        if item.dataset_column not in content.description:
            raise NotFound(
                f"Dataset with uuid '{dataset.uuid}' has no column '{item.dataset_column}' "
                f"(it has {_names(list(content.description))})"
            )
        rows.append(content.rows)
        bindings.append(
            Binding(item.hexagon_name, dataset.uuid, item.dataset_column, dataset.location)
        )
    missing = [name for name in hexagons if name not in seen]
    if missing:
        raise BadRequest(f"No data bound to the {role} hexagon(s) {_names(missing)}")
    return bindings


def _windows(rows: list[int], time_length: int) -> int:
    windows = window_count(min(rows), time_length)
    if windows < 1:
        raise BadRequest(f"time_length {time_length} is longer than the data ({min(rows)} rows)")
    return windows


def _new_task(
    user: Principal, cluster: Cluster, name: str, task_type: str, time_length: int,
    total: int, parameters: dict[str, Any],
) -> Task:  # fmt: skip
    return Task(
        uuid=str(uuid.uuid4()),
        cluster_uuid=cluster.uuid,
        project_id=user.project_id,
        owner_id=user.user_id,
        name=name,
        task_type=task_type,
        state=QUEUED,
        current_cycle=0,
        total_number_of_cycles=total,
        time_length=time_length,
        parameters=parameters,
        created_at=utcnow(),
    )


# --------------------------------------------------------------------------- endpoints


@router.post("/task/train", response_model=wire.Task, summary="Queue train task")
def create_train_task(
    user: CurrentUser, data: Payload[TrainCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    """Learn the outputs from the inputs, ``epochs`` passes (optionally shuffled)."""
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    info = _cluster_info(ctx, cluster)
    rows: list[int] = []
    inputs = _bind(session, user, data.inputs, info.input_names, "input", rows)
    outputs = _bind(session, user, data.outputs, info.output_names, "output", rows)
    per_epoch = _windows(rows, data.time_length)
    seed = data.seed if data.seed is not None else secrets.randbits(63)
    task = _new_task(
        user, cluster, data.name, TRAIN, data.time_length, per_epoch * data.epochs,
        {
            "inputs": [b.as_json() for b in inputs],
            "outputs": [b.as_json() for b in outputs],
            "epochs": data.epochs,
            "shuffle": data.shuffle,
            "seed": seed,
            "cycles_per_epoch": per_epoch,
        },
    )  # fmt: skip
    session.add(task)
    session.commit()
    ctx.tasks.submit(task.uuid, cluster.uuid)
    return task_public(task)


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
    info = _cluster_info(ctx, cluster)
    rows: list[int] = []
    inputs = _bind(session, user, data.inputs, info.input_names, "input", rows)
    columns = set()
    for result in data.results:
        if result.hexagon_name not in info.output_names:
            raise NotFound(
                f"Cluster has no output hexagon with name '{result.hexagon_name}' "
                f"(its outputs: {_names(info.output_names)})"
            )
        if result.dataset_column in columns:
            raise BadRequest(f"Result column '{result.dataset_column}' is given twice")
        columns.add(result.dataset_column)
    windows = _windows(rows, data.time_length)
    directory = ctx.settings.dataset_location
    assert directory is not None
    task_uuid = str(uuid.uuid4())
    location = directory / task_uuid
    task = _new_task(
        user, cluster, data.name, REQUEST, data.time_length, windows,
        {
            "inputs": [b.as_json() for b in inputs],
            "results": [r.model_dump() for r in data.results],
            "result_location": str(location),
        },
    )  # fmt: skip
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
    return task_public(task)


def _task_in_cluster(session: Session, task_uuid: str, cluster_uuid: str) -> Task:
    task = session.get(Task, task_uuid)
    if task is None or task.cluster_uuid != cluster_uuid:
        raise NotFound(f"Task with uuid '{task_uuid}' not found")
    return task


@router.get("/task", response_model=wire.Task, summary="Show task")
def get_task(
    user: CurrentUser, data: Payload[TaskRef], session: SessionDep, ctx: ContextDep
) -> Any:
    """Progress: cycles done of total, rows per second, ETA, error text of a failed task."""
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    task = _task_in_cluster(session, data.uuid, cluster.uuid)
    return task_public(task, ctx.tasks.live(task.uuid))


def _fraction(task: Task) -> float:
    total = task.total_number_of_cycles
    return task.current_cycle / total if total else 0.0


@router.get("/task/all", response_model=Table, summary="List tasks of a cluster")
def list_tasks(user: CurrentUser, data: Payload[ClusterTasks], session: SessionDep) -> Any:
    """All tasks of the cluster, oldest first; every value a string, percentage a fraction."""
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    tasks = session.scalars(
        select(Task).where(Task.cluster_uuid == cluster.uuid).order_by(Task.created_at, Task.uuid)
    )
    return table(
        TASK_LIST_HEADER,
        (
            [
                t.uuid,
                t.state,
                f"{_fraction(t):.6f}",
                format_timestamp(t.created_at),
                format_timestamp(t.started_at),
                format_timestamp(t.finished_at),
            ]
            for t in tasks
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

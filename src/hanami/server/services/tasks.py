"""Task behaviour behind the routes: the answer shape of a task, and the checks that run
before a task is queued (cluster, datasets, columns, hexagon names, row counts), so that a
400/404/409 never leaves a broken task behind."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from hanami.datasets import DatasetError, open_dataset
from hanami.protocol.timestamps import format_timestamp, utcnow
from hanami.server.api.schemas.tasks import (
    DataBinding,
)
from hanami.server.db.models import Cluster, Dataset, Task
from hanami.server.errors import BadRequest, Conflict, NotFound
from hanami.server.runtime.executor import ClusterInfo
from hanami.server.runtime.tasks import (
    ACTIVE,
    FINISHED,
    QUEUED,
    Binding,
    window_count,
)
from hanami.server.runtime.tasks.progress import Control
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import get_in_scope

__all__ = ["bind", "cluster_info", "fraction", "names", "new_task", "task_public", "windows"]


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None:
        return 0.0
    return max(0.0, ((end or utcnow()) - start).total_seconds())


def task_public(task: Task | Row[Any], live: Control | None = None) -> dict[str, Any]:
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
        "percentage": fraction(task),
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


def cluster_info(ctx: Any, cluster: Cluster) -> ClusterInfo:
    info = ctx.clusters.info(cluster.uuid)
    if info is None:
        raise Conflict(f"Cluster with uuid '{cluster.uuid}' is not loaded")
    return info


def names(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) or "none"


def bind(
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
                f"(its {role}s: {names(hexagons)})"
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
                f"(it has {names(list(content.description))})"
            )
        rows.append(content.rows)
        bindings.append(
            Binding(item.hexagon_name, dataset.uuid, item.dataset_column, dataset.location)
        )
    missing = [name for name in hexagons if name not in seen]
    if missing:
        raise BadRequest(f"No data bound to the {role} hexagon(s) {names(missing)}")
    return bindings


def windows(rows: list[int], time_length: int) -> int:
    windows = window_count(min(rows), time_length)
    if windows < 1:
        raise BadRequest(f"time_length {time_length} is longer than the data ({min(rows)} rows)")
    return windows


def new_task(
    user: Principal,
    cluster: Cluster,
    name: str,
    task_type: str,
    parameters: dict[str, Any],
    *,
    time_length: int = 1,
    total: int = 1,
) -> Task:
    """A queued task row (not added to the session); checkpoint tasks have one cycle."""
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


def fraction(task: Task | Row[Any]) -> float:
    total = task.total_number_of_cycles
    return task.current_cycle / total if total else 0.0

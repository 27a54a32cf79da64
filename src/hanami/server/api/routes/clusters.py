"""Clusters: create from a template, show, list, delete, save/restore, mode, hosts.

A cluster is a ``clusters`` row plus its state in the executor
(:mod:`hanami.server.runtime.registry`); both are created and deleted together, and the state is
autosaved so that clusters survive restarts. ``cluster/save`` and ``cluster/load`` queue
checkpoint tasks that run inside the request when the cluster is idle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from hanami.core import parse_template
from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import ContextDep, CurrentUser, Payload, ReaderDep, SessionDep
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.listing import resource_table
from hanami.server.api.schemas import Empty, Table
from hanami.server.api.schemas.clusters import (
    ClusterCreate,
    ClusterLoad,
    ClusterRef,
    ClusterSave,
    SetMode,
    SwitchHost,
)
from hanami.server.db.models import Checkpoint, Cluster, Dataset, Task
from hanami.server.errors import Conflict, NotFound
from hanami.server.runtime.tasks import CHECKPOINT_RESTORE, CHECKPOINT_SAVE, QUEUED, REQUEST
from hanami.server.security.tenancy import get_in_scope, row_in_scope
from hanami.server.services import clusters, tasks

__all__ = ["router"]

router = APIRouter(tags=["cluster"], route_class=PayloadRoute)


# --------------------------------------------------------------------------- CRUD


@router.post("/cluster", response_model=wire.ClusterPublic, summary="Create cluster")
def create_cluster(
    user: CurrentUser, data: Payload[ClusterCreate], session: SessionDep, ctx: ContextDep
) -> Any:
    """Build a cluster from a base64 template (400 with line and column if it is invalid)."""
    return clusters.create(ctx, session, user, data.name, data.template)


@router.get("/cluster", response_model=wire.Cluster, summary="Show cluster")
def get_cluster(
    user: CurrentUser, data: Payload[ClusterRef], reader: ReaderDep, ctx: ContextDep
) -> Any:
    cluster = row_in_scope(reader, user, Cluster, data.uuid, "Cluster")
    return clusters.cluster_details(ctx, cluster)


@router.get("/cluster/all", response_model=Table, summary="List clusters")
def list_clusters(user: CurrentUser, data: Payload[NoInput], reader: ReaderDep) -> Any:
    return resource_table(reader, user, Cluster)


@router.delete("/cluster", response_model=Empty, summary="Delete cluster")
def delete_cluster(
    user: CurrentUser, data: Payload[ClusterRef], session: SessionDep, ctx: ContextDep
) -> Any:
    """Cancels its tasks (a running one stops between chunks), then frees it.

    Checkpoints and finished request results stay; results of request tasks that never ran
    are removed with their tasks.
    """
    cluster = get_in_scope(session, user, Cluster, data.uuid, "Cluster")
    ctx.tasks.remove_cluster(cluster.uuid)
    unfinished = session.scalars(
        select(Task).where(
            Task.cluster_uuid == cluster.uuid, Task.task_type == REQUEST, Task.state == QUEUED
        )
    ).all()
    for task in unfinished:
        result = session.get(Dataset, task.uuid)
        if result is not None and result.kind == "request_result":
            session.delete(result)
    for task in session.scalars(
        select(Task).where(
            Task.cluster_uuid == cluster.uuid,
            Task.task_type == CHECKPOINT_RESTORE,
            Task.state == QUEUED,
        )
    ):
        if (task.parameters or {}).get("temporary_copy"):
            Path(task.parameters["location"]).unlink(missing_ok=True)
    session.delete(cluster)
    session.commit()
    ctx.clusters.delete(data.uuid)
    return {}


# --------------------------------------------------------------------------- checkpoints


def _task_state(session: Any, task_uuid: str) -> str:
    session.expire_all()
    task = session.get(Task, task_uuid)
    return task.state if task is not None else "deleted"


@router.post("/cluster/save", response_model=wire.TaskRef, summary="Save cluster as checkpoint")
def save_cluster(
    user: CurrentUser, data: Payload[ClusterSave], session: SessionDep, ctx: ContextDep
) -> Any:
    """Queue a checkpoint save; the task uuid becomes the checkpoint uuid.

    On an idle cluster it runs inside this request, so the checkpoint exists when the
    response arrives (``state`` = ``finished``).
    """
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    task = tasks.new_task(user, cluster, data.name, CHECKPOINT_SAVE, {"checkpoint_name": data.name})
    directory = ctx.settings.checkpoint_location
    assert directory is not None
    task.parameters = {**task.parameters, "location": str(directory / f"{task.uuid}.ckpt")}
    session.add(task)
    ctx.quotas.check(session, user.project_id, storage=0)
    session.commit()
    ctx.tasks.submit(task.uuid, cluster.uuid, inline=True)
    return {"uuid": task.uuid, "name": data.name, "state": _task_state(session, task.uuid)}


@router.post("/cluster/load", response_model=wire.TaskRef, summary="Restore cluster")
def load_cluster(
    user: CurrentUser, data: Payload[ClusterLoad], session: SessionDep, ctx: ContextDep
) -> Any:
    """Queue a checkpoint restore (inline on an idle cluster).

    The checkpoint file is pinned when the task is queued (a hard link, or a copy), so
    deleting the checkpoint right after this call does not break a restore that has to wait.
    """
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    checkpoint = get_in_scope(session, user, Checkpoint, data.checkpoint_uuid, "Checkpoint")
    source = Path(checkpoint.location)
    if not source.is_file():
        raise Conflict(f"Checkpoint with uuid '{checkpoint.uuid}' has no file")
    task = tasks.new_task(
        user, cluster, checkpoint.name, CHECKPOINT_RESTORE, {"checkpoint_uuid": checkpoint.uuid}
    )
    location = clusters.pin(source, task.uuid)
    task.parameters = {**task.parameters, "location": str(location), "temporary_copy": True}
    session.add(task)
    try:
        session.commit()
    except BaseException:
        location.unlink(missing_ok=True)
        raise
    ctx.tasks.submit(task.uuid, cluster.uuid, inline=True)
    return {"uuid": task.uuid, "name": checkpoint.name, "state": _task_state(session, task.uuid)}


# --------------------------------------------------------------------------- mode, hosts


@router.put("/cluster/set_mode", response_model=wire.ClusterMode, summary="Switch TASK/DIRECT mode")
def set_mode(
    user: CurrentUser, data: Payload[SetMode], session: SessionDep, ctx: ContextDep
) -> Any:
    """DIRECT (websocket I/O) only from an idle TASK mode; TASK only from DIRECT (else 409).

    Tasks created in DIRECT mode wait until the cluster is switched back to TASK.
    """
    cluster = get_in_scope(session, user, Cluster, data.uuid, "Cluster")
    ctx.tasks.set_mode(cluster.uuid, data.new_state)
    return {
        "created_at": format_timestamp(cluster.created_at),
        "uuid": cluster.uuid,
        "name": cluster.name,
        "new_state": data.new_state,
    }


@router.put("/cluster/switch_host", response_model=wire.ClusterPublic, summary="Move a hexagon")
def switch_host(
    user: CurrentUser, data: Payload[SwitchHost], session: SessionDep, ctx: ContextDep
) -> Any:
    """Assign a hexagon to a logical host (one process: recorded, the data stays put)."""
    cluster = get_in_scope(session, user, Cluster, data.cluster_uuid, "Cluster")
    if ctx.clusters.host(data.host_uuid) is None:
        raise NotFound(f"Host with uuid '{data.host_uuid}' not found")
    info = ctx.clusters.info(cluster.uuid)
    hexagons = len(parse_template(info.template).hexagons) if info is not None else 0
    if data.hexagon_id >= hexagons:
        raise NotFound(
            f"Hexagon with id '{data.hexagon_id}' not found (the cluster has {hexagons})"
        )
    ctx.clusters.move_hexagon(cluster.uuid, data.hexagon_id, data.host_uuid)
    return clusters.cluster_public(cluster)

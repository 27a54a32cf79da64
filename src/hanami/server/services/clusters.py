"""Cluster behaviour behind the routes: the answer shapes, creation from a template, and
the private copy of a checkpoint file that a restore task reads."""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hanami.core import TemplateError, parse_template
from hanami.protocol.timestamps import format_timestamp
from hanami.server.context import AppContext
from hanami.server.db.models import Cluster
from hanami.server.errors import BadRequest, Conflict
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import owner_fields, scope_filter

__all__ = ["cluster_details", "cluster_public", "create", "decode_template", "pin"]


def cluster_public(cluster: Cluster | Row[Any]) -> dict[str, Any]:
    return {
        "created_at": format_timestamp(cluster.created_at),
        "uuid": cluster.uuid,
        "name": cluster.name,
        "owner_id": cluster.owner_id,
        "project_id": cluster.project_id,
        "visibility": cluster.visibility,
    }


def decode_template(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("Uploaded template is not a valid base64-String.") from None


def create(
    ctx: AppContext, session: Session, user: Principal, name: str, template: str
) -> dict[str, Any]:
    """Build and autosave a cluster from a base64 template; 400 with line and column if the
    template is invalid, 409 if the name is taken in the caller's scope."""
    conflict = Conflict(f"Cluster with name '{name}' already exist.")
    existing = session.scalars(
        select(Cluster.uuid).where(scope_filter(user, Cluster), Cluster.name == name)
    ).first()
    if existing is not None:
        raise conflict
    text = decode_template(template)
    try:
        parse_template(text)
    except TemplateError as exc:
        raise BadRequest(f"Uploaded template is not a valid cluster-template: {exc}") from None
    cluster_uuid = str(uuid.uuid4())
    try:
        ctx.clusters.create(cluster_uuid, text)
    except ValueError as exc:
        raise BadRequest(f"Uploaded template is not a valid cluster-template: {exc}") from None
    cluster = Cluster(uuid=cluster_uuid, name=name, template=text, holder=ctx.replicas.id,
                      **owner_fields(user))  # fmt: skip
    session.add(cluster)
    try:
        ctx.quotas.check(session, user.project_id, clusters=True)
        session.commit()
    except IntegrityError as exc:
        ctx.clusters.delete(cluster_uuid)
        raise conflict from exc
    except BaseException:
        ctx.clusters.delete(cluster_uuid)
        raise
    ctx.clusters.autosave(cluster_uuid)
    return cluster_public(cluster)


def cluster_details(ctx: AppContext, cluster: Cluster | Row[Any]) -> dict[str, Any]:
    info = ctx.clusters.info(cluster.uuid)
    metrics = dict(info.metrics) if info is not None else {}
    return {
        **cluster_public(cluster),
        "number_of_blocks": metrics.get("neuron_blocks", 0),
        "number_of_sections": metrics.get("sections", 0),
        "mode": ctx.tasks.mode(cluster.uuid),
        "inputs": dict(info.input_sizes) if info is not None else {},
        "outputs": dict(info.output_sizes) if info is not None else {},
        "metrics": metrics,
        "template": cluster.template or "",
    }


def pin(source: Path, task_uuid: str) -> Path:
    """A private name for the checkpoint file that outlives the checkpoint's deletion."""
    target = source.parent / f".restore-{task_uuid}.ckpt"
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target

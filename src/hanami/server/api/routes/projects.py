"""Projects: plain labels that group users and resources (admin-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from hanami.protocol import models as wire
from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import AdminUser, Payload, ReaderDep, SessionDep
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.listing import project_table
from hanami.server.api.schemas import Empty, Table
from hanami.server.api.schemas.projects import (
    ProjectCreate,
    ProjectRef,
)
from hanami.server.db.models import Project
from hanami.server.errors import Conflict, NotFound
from hanami.server.security.auth import ADMIN_PROJECT

__all__ = ["router"]

router = APIRouter(tags=["project"], route_class=PayloadRoute)


def project_public(project: Project) -> dict[str, Any]:
    return {
        "created_at": format_timestamp(project.created_at),
        "id": project.id,
        "name": project.name,
        "creator_id": project.creator_id,
    }


@router.post("/project", response_model=wire.Project, summary="Create project")
def create_project(admin: AdminUser, data: Payload[ProjectCreate], session: SessionDep) -> Any:
    if data.id == ADMIN_PROJECT:
        raise Conflict(f"Project id '{ADMIN_PROJECT}' is reserved.")
    conflict = Conflict(f"Project with id '{data.id}' already exist.")
    if session.get(Project, data.id) is not None:
        raise conflict
    project = Project(id=data.id, name=data.name, creator_id=admin.user_id)
    session.add(project)
    try:
        session.commit()
    except IntegrityError as exc:
        raise conflict from exc
    return project_public(project)


@router.get("/project", response_model=wire.Project, summary="Show project")
def get_project(admin: AdminUser, data: Payload[ProjectRef], session: SessionDep) -> Any:
    project = session.get(Project, data.id)
    if project is None:
        raise NotFound(f"Project with id '{data.id}' not found")
    return project_public(project)


@router.get("/project/all", response_model=Table, summary="List projects")
def list_projects(admin: AdminUser, data: Payload[NoInput], reader: ReaderDep) -> Any:
    return project_table(reader)


@router.delete("/project", response_model=Empty, summary="Delete project")
def delete_project(admin: AdminUser, data: Payload[ProjectRef], session: SessionDep) -> Any:
    """Deletes the project and its user assignments; resources keep their project id."""
    project = session.get(Project, data.id)
    if project is None:
        raise NotFound(f"Project with id '{data.id}' not found")
    session.delete(project)
    session.commit()
    return {}

"""Users and their project assignments (admin-only, except listing one's own projects)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hanami.protocol import models as wire
from hanami.protocol.patterns import MIN_PASSPHRASE_LENGTH
from hanami.protocol.timestamps import format_timestamp
from hanami.server.api.deps import AdminUser, CurrentUser, Payload, ReaderDep, SessionDep
from hanami.server.api.inputs import NoInput, PayloadRoute
from hanami.server.api.listing import user_table
from hanami.server.api.schemas import (
    Empty,
    Table,
)
from hanami.server.api.schemas.users import (
    UserCreate,
    UserDelete,
    UserProjectAdd,
    UserProjectRemove,
    UserProjectsQuery,
    UserRef,
)
from hanami.server.db.models import Project, User, UserProjectRole
from hanami.server.errors import BadRequest, Conflict, Forbidden, NotFound
from hanami.server.security.auth import ADMIN_PROJECT, ADMIN_ROLE
from hanami.server.security.credentials import decode_passphrase, hash_password, new_security_stamp

__all__ = ["router", "user_public"]

router = APIRouter(tags=["user"], route_class=PayloadRoute)


def user_public(user: User) -> dict[str, Any]:
    return {
        "created_at": format_timestamp(user.created_at),
        "id": user.id,
        "name": user.name,
        "is_admin": user.is_admin,
        "creator_id": user.creator_id,
        "projects": [assignment.as_dict() for assignment in user.projects],
    }


def _get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User with id '{user_id}' not found")
    return user


@router.post("/user", response_model=wire.User, summary="Create user")
def create_user(admin: AdminUser, data: Payload[UserCreate], session: SessionDep) -> Any:
    try:
        passphrase = decode_passphrase(data.passphrase)
    except ValueError as exc:
        raise BadRequest(f"Validation failed, because {exc}") from exc
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise BadRequest(
            f"Validation failed, because the passphrase must have at least "
            f"{MIN_PASSPHRASE_LENGTH} characters"
        )
    conflict = Conflict(f"User with id '{data.id}' already exist.")
    if session.get(User, data.id) is not None:
        raise conflict
    user = User(
        id=data.id,
        name=data.name,
        is_admin=data.is_admin,
        creator_id=admin.user_id,
        password_hash=hash_password(passphrase),
        security_stamp=new_security_stamp(),
        projects=[],
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        raise conflict from exc
    return user_public(user)


@router.get("/user", response_model=wire.User, summary="Show user")
def get_user(admin: AdminUser, data: Payload[UserRef], session: SessionDep) -> Any:
    return user_public(_get_user(session, data.id))


@router.get("/user/all", response_model=Table, summary="List users")
def list_users(admin: AdminUser, data: Payload[NoInput], reader: ReaderDep) -> Any:
    return user_table(reader)


@router.delete("/user", response_model=Empty, summary="Delete user")
def delete_user(admin: AdminUser, data: Payload[UserDelete], session: SessionDep) -> Any:
    if data.id == admin.user_id:
        raise Conflict("You can not delete your own user.")
    session.delete(_get_user(session, data.id))
    session.commit()
    return {}


@router.post("/user/project", response_model=wire.User, summary="Assign project to user")
def add_project_to_user(
    admin: AdminUser, data: Payload[UserProjectAdd], session: SessionDep
) -> Any:
    user = _get_user(session, data.id)
    if session.get(Project, data.project_id) is None:
        raise NotFound(f"Project with id '{data.project_id}' not found")
    conflict = Conflict(
        f"Project with id '{data.project_id}' is already assigned to user '{user.id}'."
    )
    if any(a.project_id == data.project_id for a in user.projects):
        raise conflict
    user.projects.append(
        UserProjectRole(
            project_id=data.project_id, role=data.role, is_project_admin=data.is_project_admin
        )
    )
    try:
        session.commit()
    except IntegrityError as exc:
        raise conflict from exc
    return user_public(user)


@router.delete("/user/project", response_model=wire.User, summary="Unassign project from user")
def remove_project_from_user(
    admin: AdminUser, data: Payload[UserProjectRemove], session: SessionDep
) -> Any:
    user = _get_user(session, data.id)
    assignment = next((a for a in user.projects if a.project_id == data.project_id), None)
    if assignment is None:
        raise NotFound(f"Project with id '{data.project_id}' is not assigned to user '{user.id}'")
    user.projects.remove(assignment)
    session.commit()
    return user_public(user)


@router.get("/user/project", response_model=wire.UserProjects, summary="List projects of a user")
def list_user_projects(
    user: CurrentUser, data: Payload[UserProjectsQuery], session: SessionDep
) -> Any:
    """Projects of ``user_id`` (default: the caller). Only admins may ask about others.

    For admins the list starts with the pseudo-project ``admin``.
    """
    target_id = data.user_id or user.user_id
    if target_id != user.user_id and not user.is_admin:
        raise Forbidden("'user_id' can only be set by an admin")
    target = _get_user(session, target_id)
    projects = [a.as_dict() for a in target.projects]
    if target.is_admin:
        projects.insert(
            0, {"project_id": ADMIN_PROJECT, "role": ADMIN_ROLE, "is_project_admin": True}
        )
    return {"projects": projects}

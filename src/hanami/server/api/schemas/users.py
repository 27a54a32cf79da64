"""What the user endpoints take."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from hanami.protocol.patterns import ID_EXT_RE
from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import (
    IdStr,
    NameStr,
    PassphraseStr,
    UserIdStr,
)

__all__ = [
    "UserCreate",
    "UserDelete",
    "UserProjectAdd",
    "UserProjectRemove",
    "UserProjectsQuery",
    "UserRef",
]


class UserCreate(InputModel):
    id: UserIdStr
    name: NameStr
    passphrase: PassphraseStr
    is_admin: bool = False


class UserRef(InputModel):
    id: Annotated[str, StringConstraints(min_length=4, max_length=256, pattern=f"^{ID_EXT_RE}$")]


class UserDelete(InputModel):
    id: UserIdStr


class UserProjectAdd(InputModel):
    id: UserIdStr
    project_id: IdStr
    role: IdStr
    is_project_admin: bool = False


class UserProjectRemove(InputModel):
    id: UserIdStr
    project_id: IdStr


class UserProjectsQuery(InputModel):
    user_id: UserIdStr | None = None

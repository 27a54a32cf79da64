"""What the user endpoints take."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from hanami.protocol.patterns import ID_EXT_RE, MIN_PASSPHRASE_LENGTH, NEW_PASSPHRASE_RE
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
    passphrase: PassphraseStr = Field(
        json_schema_extra={"pattern": f"^{NEW_PASSPHRASE_RE}$", "minLength": 12},
        description=f"base64 of at least {MIN_PASSPHRASE_LENGTH} bytes",
    )
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

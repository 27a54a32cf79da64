"""What the API-token endpoints take."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import IdStr, NameStr, UuidStr

__all__ = ["MAX_LIFETIME", "ApiTokenCreate", "ApiTokenRef"]


MAX_LIFETIME = 10 * 365 * 24 * 3600


class ApiTokenCreate(InputModel):
    name: NameStr
    project_id: IdStr | None = Field(None, description="default: the caller's current project")
    expires_in: Annotated[int, Field(ge=60, le=MAX_LIFETIME)] | None = Field(
        None, description="lifetime in seconds; no expiry if unset"
    )


class ApiTokenRef(InputModel):
    id: UuidStr

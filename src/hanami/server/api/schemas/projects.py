"""What the project endpoints take."""

from __future__ import annotations

from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import IdStr, NameStr

__all__ = ["ProjectCreate", "ProjectRef"]


class ProjectCreate(InputModel):
    id: IdStr
    name: NameStr


class ProjectRef(InputModel):
    id: IdStr

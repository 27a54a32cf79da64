"""What the checkpoint endpoints take."""

from __future__ import annotations

from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import NameStr, UuidStr

__all__ = ["CheckpointRef", "CheckpointUpload"]


class CheckpointRef(InputModel):
    uuid: UuidStr


class CheckpointUpload(InputModel):
    name: NameStr

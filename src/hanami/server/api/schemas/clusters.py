"""What the cluster endpoints take."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hanami.protocol.patterns import BASE64_RE
from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import NameStr, UuidStr

__all__ = [
    "MAX_TEMPLATE_CHARS",
    "ClusterCreate",
    "ClusterLoad",
    "ClusterRef",
    "ClusterSave",
    "SetMode",
    "SwitchHost",
]


MAX_TEMPLATE_CHARS = 4 * 1024 * 1024


class ClusterCreate(InputModel):
    name: NameStr
    template: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TEMPLATE_CHARS,
            description="base64 of the template (UTF-8 text)",
            # checked when the template is decoded, which answers with the original's message
            json_schema_extra={"pattern": f"^{BASE64_RE}$"},
        ),
    ]


class ClusterRef(InputModel):
    uuid: UuidStr


class ClusterSave(InputModel):
    name: NameStr
    cluster_uuid: UuidStr


class ClusterLoad(InputModel):
    cluster_uuid: UuidStr
    checkpoint_uuid: UuidStr


class SetMode(InputModel):
    uuid: UuidStr
    new_state: Literal["TASK", "DIRECT"]
    connection_uuid: UuidStr | None = None


class SwitchHost(InputModel):
    cluster_uuid: UuidStr
    hexagon_id: Annotated[int, Field(ge=0, le=1_000_000_000)]
    host_uuid: UuidStr

"""Clusters and checkpoints."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hanami.protocol.models.base import Model, ResourceRow
from hanami.protocol.timestamps import OptionalTimestamp, Timestamp

__all__ = [
    "Checkpoint",
    "CheckpointRow",
    "Cluster",
    "ClusterMode",
    "ClusterPublic",
    "ClusterRow",
    "TaskRef",
]


class ClusterPublic(Model):
    """A cluster as created (``POST /cluster``) or moved (``PUT /cluster/switch_host``)."""

    created_at: Timestamp
    uuid: str
    name: str
    owner_id: str
    project_id: str
    visibility: str


class Cluster(ClusterPublic):
    """A cluster; ``get`` adds the core metrics and (Hanami) mode, hexagon widths and
    template."""

    number_of_blocks: int | None = None
    number_of_sections: int | None = None
    mode: str | None = Field(None, description="TASK or DIRECT")
    inputs: dict[str, int] | None = Field(
        None, description="input hexagon name -> width (0 until data came)"
    )
    outputs: dict[str, int] | None = Field(
        None, description="output hexagon name -> width (0 until trained)"
    )
    metrics: dict[str, Any] | None = None
    template: str | None = Field(None, description="the template text the cluster was created from")


class ClusterRow(ResourceRow):
    pass


class ClusterMode(Model):
    """Answer of ``PUT /cluster/set_mode``."""

    created_at: Timestamp
    uuid: str
    name: str
    new_state: str


class TaskRef(Model):
    """A queued task as answered by save/restore: its uuid (= checkpoint uuid for a save).

    ``state`` (Hanami) is ``finished`` when the task ran inside the request."""

    uuid: str = Field(description="task uuid (for a save also the checkpoint uuid)")
    name: str | None = None
    state: str | None = Field(None, description="'finished' when it ran inside the request")


class Checkpoint(Model):
    uuid: str
    name: str
    created_at: OptionalTimestamp = None
    owner_id: str | None = None
    project_id: str | None = None
    visibility: str | None = None
    cluster_uuid: str | None = Field(
        None, description="cluster it was saved from (null if uploaded)"
    )
    size: int | None = Field(None, description="file size in bytes")


class CheckpointRow(ResourceRow):
    pass

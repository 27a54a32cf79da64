"""The JSON answers of the REST API (service spec section 2), one model per answer shape.

The server declares them as its ``response_model`` and the SDK parses answers with them, so
both ends share one definition. Fields the original server does not send have defaults, so
the SDK reads its answers too; Hanami's server always sends them. Every model keeps fields
it does not declare (``extra="allow"``), so a newer server can add some without breaking
older clients. Timestamps are :class:`datetime` in Python and keep their wire text
(``YYYY-MM-DD HH:MM:SS``, ``-`` when unset) in ``model_dump(mode="json")`` and in the
server's answers. List endpoints answer :class:`Table` (``header`` + ``body``, the
original's list shape); its ``rows()`` turns the body into typed row models.
"""

from __future__ import annotations

from hanami.protocol.models.accounts import (
    ApiToken,
    ApiTokenCreated,
    ApiTokenRow,
    Project,
    ProjectAssignment,
    ProjectRow,
    Token,
    User,
    UserProjects,
    UserRow,
)
from hanami.protocol.models.base import (
    Model,
    ResourceRow,
    Table,
    table_of,
)
from hanami.protocol.models.clusters import (
    Checkpoint,
    CheckpointRow,
    Cluster,
    ClusterMode,
    ClusterPublic,
    ClusterRow,
    TaskRef,
)
from hanami.protocol.models.datasets import (
    ColumnRange,
    Dataset,
    DatasetCheck,
    DatasetPublic,
    DatasetRow,
    DatasetUpload,
    MnistUpload,
    UploadProgress,
)
from hanami.protocol.models.monitoring import (
    AuditLogRow,
    ErrorLogRow,
    HostRow,
    SystemInfo,
    ThreadMapping,
    TimeSeries,
)
from hanami.protocol.models.tasks import (
    Task,
    TaskInput,
    TaskResult,
    TaskRow,
)

__all__ = [
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenRow",
    "AuditLogRow",
    "Checkpoint",
    "CheckpointRow",
    "Cluster",
    "ClusterMode",
    "ClusterPublic",
    "ClusterRow",
    "ColumnRange",
    "Dataset",
    "DatasetCheck",
    "DatasetPublic",
    "DatasetRow",
    "DatasetUpload",
    "ErrorLogRow",
    "HostRow",
    "MnistUpload",
    "Model",
    "Project",
    "ProjectAssignment",
    "ProjectRow",
    "ResourceRow",
    "SystemInfo",
    "Table",
    "Task",
    "TaskInput",
    "TaskRef",
    "TaskResult",
    "TaskRow",
    "ThreadMapping",
    "TimeSeries",
    "Token",
    "UploadProgress",
    "User",
    "UserProjects",
    "UserRow",
    "table_of",
]

"""Python SDK for the Hanami service (and the original OpenHanami ``v1.0alpha`` API).

::

    from hanami.sdk import HanamiClient, NotFound

    with HanamiClient("http://127.0.0.1:11418", user="asdf", passphrase="asdfasdf") as client:
        cluster = client.clusters.create("demo", template_text)
        train = client.datasets.upload_csv("train data", "train.csv", progress=print)
        task = client.tasks.train(cluster.uuid, "fit", [(train.uuid, "x", "in")],
                                  [(train.uuid, "y", "out")])
        client.wait(task, progress=lambda t: print(t.current_cycle))

:class:`AsyncHanamiClient` takes the same arguments and has the same resources and methods,
to be awaited (``async with AsyncHanamiClient(...) as client: await client.clusters.list()``).
:func:`token_claims` reads the (unverified) claims of a token: ``exp``, the project, ...

Exceptions::

    HanamiError
    ├── TransportError            no HTTP answer (connection refused, DNS, timeout)
    ├── ProtocolError             an answer the SDK cannot use
    │   ├── InvalidResponse       a 2xx body that is not the documented JSON
    │   └── WebsocketError        websocket init refused, closed, unexpected reply
    │       └── UploadError       a file chunk refused by the server
    ├── TaskError                 wait(): the task did not finish
    │   ├── TaskFailed            ended failed / cancelled / aborted
    │   └── WaitTimeout           (also a TimeoutError)
    ├── NotLoggedIn               no token and no credentials
    └── StatusError               4xx/5xx answer; .status_code .message .request .response
        ├── BadRequest            400
        ├── Unauthorized          401
        ├── Forbidden             403
        ├── NotFound              404
        ├── Conflict              409
        ├── TooManyRequests       429 (.retry_after)
        └── ServerError           5xx (.correlation_id)
"""

from hanami.protocol.models import (
    ApiToken,
    ApiTokenCreated,
    ApiTokenRow,
    AuditLogRow,
    Checkpoint,
    CheckpointRow,
    Cluster,
    ClusterMode,
    ClusterRow,
    ColumnRange,
    Dataset,
    DatasetRow,
    DatasetUpload,
    ErrorLogRow,
    HostRow,
    MnistUpload,
    Project,
    ProjectAssignment,
    ProjectRow,
    SystemInfo,
    Table,
    Task,
    TaskInput,
    TaskRef,
    TaskResult,
    TaskRow,
    ThreadMapping,
    TimeSeries,
    Token,
    UploadProgress,
    User,
    UserRow,
)
from hanami.sdk._async_client import AsyncHanamiClient
from hanami.sdk._auth import token_claims, token_project
from hanami.sdk._client import HanamiClient
from hanami.sdk._direct import DirectSession
from hanami.sdk._exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    HanamiError,
    InvalidResponse,
    NotFound,
    NotLoggedIn,
    ProtocolError,
    ServerError,
    StatusError,
    TaskError,
    TaskFailed,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UploadError,
    WaitTimeout,
    WebsocketError,
)
from hanami.sdk._wire import DEFAULT_ADDRESS

__all__ = [
    "DEFAULT_ADDRESS",
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenRow",
    "AsyncHanamiClient",
    "AuditLogRow",
    "BadRequest",
    "Checkpoint",
    "CheckpointRow",
    "Cluster",
    "ClusterMode",
    "ClusterRow",
    "ColumnRange",
    "Conflict",
    "Dataset",
    "DatasetRow",
    "DatasetUpload",
    "DirectSession",
    "ErrorLogRow",
    "Forbidden",
    "HanamiClient",
    "HanamiError",
    "HostRow",
    "InvalidResponse",
    "MnistUpload",
    "NotFound",
    "NotLoggedIn",
    "Project",
    "ProjectAssignment",
    "ProjectRow",
    "ProtocolError",
    "ServerError",
    "StatusError",
    "SystemInfo",
    "Table",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskInput",
    "TaskRef",
    "TaskResult",
    "TaskRow",
    "ThreadMapping",
    "TimeSeries",
    "Token",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UploadError",
    "UploadProgress",
    "User",
    "UserRow",
    "WaitTimeout",
    "WebsocketError",
    "token_claims",
    "token_project",
]

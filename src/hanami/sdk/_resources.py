"""One class per API resource; the client exposes them as attributes (``client.clusters``)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from hanami.protocol.models import (
    ApiToken,
    ApiTokenCreated,
    Checkpoint,
    Cluster,
    ClusterMode,
    Dataset,
    DatasetCheck,
    DatasetUpload,
    MnistUpload,
    Project,
    ProjectAssignment,
    SystemInfo,
    Task,
    TaskInput,
    TaskRef,
    TaskResult,
    ThreadMapping,
    TimeSeries,
    UploadProgress,
    User,
)
from hanami.sdk._models import (
    ApiTokenTable,
    AuditLogTable,
    CheckpointTable,
    ClusterTable,
    DatasetTable,
    ErrorLogTable,
    HostTable,
    ProjectTable,
    TaskTable,
    UserTable,
    coerce_bindings,
)

if TYPE_CHECKING:
    from hanami.sdk._client import HanamiClient

__all__ = [
    "ApiTokens",
    "Checkpoints",
    "Clusters",
    "Datasets",
    "Hosts",
    "Logs",
    "Projects",
    "System",
    "Tasks",
    "Users",
]

FileSource = str | os.PathLike[str] | bytes | IO[bytes]
"""A file to upload: a path, the bytes themselves, or a binary file object."""
UploadProgressCallback = Callable[[int, int], None]
"""``progress(bytes_sent, bytes_total)``."""
Transport = Literal["websocket", "multipart"]

MAX_CONTENT_ROWS = 10_000


class Resource:
    def __init__(self, client: HanamiClient) -> None:
        self._client = client

    def _get(self, path: str, **params: Any) -> Any:
        return self._client._send("GET", path, params=params)

    def _delete(self, path: str, **params: Any) -> Any:
        return self._client._send("DELETE", path, params=params)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._client._send("POST", path, body=body)

    def _put(self, path: str, body: dict[str, Any]) -> Any:
        return self._client._send("PUT", path, body=body)


class Users(Resource):
    """Users and their project assignments (admin only, except :meth:`projects`)."""

    def create(self, id: str, name: str, passphrase: str, *, is_admin: bool = False) -> User:
        """``POST /user``; ``passphrase`` in plain text (base64-encoded on the wire)."""
        from hanami.sdk._client import encode_passphrase

        body = {
            "id": id,
            "name": name,
            "passphrase": encode_passphrase(passphrase),
            "is_admin": is_admin,
        }
        return self._client._parse(User, self._post("user", body))

    def get(self, id: str) -> User:
        return self._client._parse(User, self._get("user", id=id))

    def list(self) -> UserTable:
        return self._client._parse(UserTable, self._get("user/all"))

    def delete(self, id: str) -> None:
        self._delete("user", id=id)

    def add_project(
        self, id: str, project_id: str, *, role: str = "member", is_project_admin: bool = False
    ) -> User:
        """``POST /user/project``: assign ``project_id`` with ``role`` to user ``id``."""
        body = {
            "id": id,
            "project_id": project_id,
            "role": role,
            "is_project_admin": is_project_admin,
        }
        return self._client._parse(User, self._post("user/project", body))

    def remove_project(self, id: str, project_id: str) -> User:
        """``DELETE /user/project``."""
        return self._client._parse(User, self._delete("user/project", id=id, project_id=project_id))

    def projects(self, user_id: str | None = None) -> list[ProjectAssignment]:
        """``GET /user/project``: the projects of ``user_id`` (default: the caller)."""
        data = self._get("user/project", user_id=user_id)
        return [self._client._parse(ProjectAssignment, p) for p in data.get("projects", [])]


class Projects(Resource):
    """Projects (admin only)."""

    def create(self, id: str, name: str) -> Project:
        return self._client._parse(Project, self._post("project", {"id": id, "name": name}))

    def get(self, id: str) -> Project:
        return self._client._parse(Project, self._get("project", id=id))

    def list(self) -> ProjectTable:
        return self._client._parse(ProjectTable, self._get("project/all"))

    def delete(self, id: str) -> None:
        self._delete("project", id=id)


class Clusters(Resource):
    """Clusters: create from a template, inspect, delete, checkpoint, switch mode."""

    def create(self, name: str, template: Any) -> Cluster:
        """``POST /cluster`` from template text (or a parsed ``hanami.core.Template``).

        The server validates the template (400 with line and column on errors); the SDK sends
        it base64-encoded, as the protocol requires.
        """
        text = template if isinstance(template, str) else template.to_text()
        encoded = base64.b64encode(text.encode()).decode()
        body = {"name": name, "template": encoded}
        return self._client._parse(Cluster, self._post("cluster", body))

    def get(self, uuid: str) -> Cluster:
        return self._client._parse(Cluster, self._get("cluster", uuid=uuid))

    def list(self) -> ClusterTable:
        return self._client._parse(ClusterTable, self._get("cluster/all"))

    def delete(self, uuid: str) -> None:
        self._delete("cluster", uuid=uuid)

    def save(self, cluster_uuid: str, name: str) -> TaskRef:
        """``POST /cluster/save``: queue a checkpoint; the task uuid is the checkpoint uuid."""
        data = self._post("cluster/save", {"name": name, "cluster_uuid": cluster_uuid})
        ref = self._client._parse(TaskRef, data)
        self._client.tasks._remember(ref.uuid, cluster_uuid)
        return ref

    def restore(self, cluster_uuid: str, checkpoint_uuid: str) -> TaskRef:
        """``POST /cluster/load``: queue a restore of ``checkpoint_uuid`` into the cluster."""
        body = {"cluster_uuid": cluster_uuid, "checkpoint_uuid": checkpoint_uuid}
        ref = self._client._parse(TaskRef, self._post("cluster/load", body))
        self._client.tasks._remember(ref.uuid, cluster_uuid)
        return ref

    def set_mode(self, uuid: str, mode: Literal["TASK", "DIRECT"]) -> ClusterMode:
        """``PUT /cluster/set_mode``: ``DIRECT`` (websocket I/O) or back to ``TASK``."""
        mode_text = str(mode).upper()
        data = self._put("cluster/set_mode", {"uuid": uuid, "new_state": mode_text})
        return self._client._parse(ClusterMode, data)

    def switch_host(self, cluster_uuid: str, host_uuid: str, *, hexagon_id: int = 1) -> Cluster:
        """``PUT /cluster/switch_host``: move hexagon ``hexagon_id`` to another host."""
        body = {"cluster_uuid": cluster_uuid, "hexagon_id": hexagon_id, "host_uuid": host_uuid}
        return self._client._parse(Cluster, self._put("cluster/switch_host", body))


class Tasks(Resource):
    """Train and request tasks of a cluster.

    ``inputs``/``outputs`` are :class:`TaskInput` models, dicts with ``hexagon_name``,
    ``dataset_uuid``, ``dataset_column``, or ``(dataset_uuid, column, hexagon)`` tuples (the
    CLI's ``DS:COLUMN:HEXAGON``); ``results`` are :class:`TaskResult`, dicts or
    ``(hexagon, column)`` tuples.
    """

    def __init__(self, client: HanamiClient) -> None:
        super().__init__(client)
        self._clusters: dict[str, str] = {}

    def _remember(self, task_uuid: str, cluster_uuid: str) -> None:
        self._clusters[task_uuid] = cluster_uuid

    def cluster_of(self, task_uuid: str) -> str | None:
        """The cluster of a task this client created or read (``None`` if unknown)."""
        return self._clusters.get(task_uuid)

    def _task(self, data: Any, cluster_uuid: str) -> Task:
        task = self._client._parse(Task, data)
        task.cluster_uuid = task.cluster_uuid or cluster_uuid
        self._remember(task.uuid, cluster_uuid)
        return task

    def train(
        self,
        cluster_uuid: str,
        name: str,
        inputs: Sequence[TaskInput | dict[str, Any] | tuple[str, str, str]],
        outputs: Sequence[TaskInput | dict[str, Any] | tuple[str, str, str]],
        *,
        time_length: int = 1,
        epochs: int | None = None,
        shuffle: bool | None = None,
        seed: int | None = None,
        **extra: Any,
    ) -> Task:
        """``POST /task/train``: learn the bound datasets row by row.

        ``epochs``, ``shuffle`` and ``seed`` are Hanami extensions (several passes, a new
        random row order per epoch); they are only sent when set, because the original
        server rejects unknown fields with 400. ``extra`` adds further body fields.
        """
        body: dict[str, Any] = {
            "name": name,
            "cluster_uuid": cluster_uuid,
            "inputs": coerce_bindings(inputs, TaskInput),
            "outputs": coerce_bindings(outputs, TaskInput),
            "time_length": time_length,
        }
        options = {"epochs": epochs, "shuffle": shuffle, "seed": seed, **extra}
        body.update({k: v for k, v in options.items() if v is not None})
        return self._task(self._post("task/train", body), cluster_uuid)

    def request(
        self,
        cluster_uuid: str,
        name: str,
        inputs: Sequence[TaskInput | dict[str, Any] | tuple[str, str, str]],
        results: Sequence[TaskResult | dict[str, Any] | tuple[str, str]],
        *,
        time_length: int = 1,
        **extra: Any,
    ) -> Task:
        """``POST /task/request``; the outputs go to a new dataset whose uuid is the task's."""
        body = {
            "name": name,
            "cluster_uuid": cluster_uuid,
            "inputs": coerce_bindings(inputs, TaskInput),
            "results": coerce_bindings(results, TaskResult),
            "time_length": time_length,
            **extra,
        }
        return self._task(self._post("task/request", body), cluster_uuid)

    def get(self, task_uuid: str, cluster_uuid: str | None = None) -> Task:
        cluster = self._cluster(task_uuid, cluster_uuid)
        return self._task(self._get("task", uuid=task_uuid, cluster_uuid=cluster), cluster)

    def list(self, cluster_uuid: str) -> TaskTable:
        return self._client._parse(TaskTable, self._get("task/all", cluster_uuid=cluster_uuid))

    def delete(self, task_uuid: str, cluster_uuid: str | None = None) -> None:
        """``DELETE /task``: remove a queued or finished task, cancel an active one."""
        self._delete("task", uuid=task_uuid, cluster_uuid=self._cluster(task_uuid, cluster_uuid))

    cancel = delete

    def wait(self, task: str | Task, **kwargs: Any) -> Task:
        """Same as :meth:`HanamiClient.wait`."""
        return self._client.wait(task, **kwargs)

    def result(self, task: str | Task, column: str | None = None, **kwargs: Any) -> np.ndarray:
        """The output rows of a finished request task (its result dataset) as an array."""
        uuid = task.uuid if isinstance(task, Task) else task
        return self._client.datasets.download(uuid, column, **kwargs)

    def _cluster(self, task_uuid: str, cluster_uuid: str | None) -> str:
        cluster = cluster_uuid or self.cluster_of(task_uuid)
        if cluster is None:
            raise ValueError(f"cluster_uuid is needed for task {task_uuid}")
        return cluster


class Datasets(Resource):
    """Datasets: upload (MNIST IDX files or CSV), inspect, read, grade, delete."""

    def upload_mnist(
        self,
        name: str,
        images: FileSource,
        labels: FileSource,
        *,
        progress: UploadProgressCallback | None = None,
        transport: Transport = "websocket",
        timeout: float | None = 600.0,
    ) -> Dataset:
        """Upload an IDX image file and its label file as one dataset; returns it.

        ``transport="websocket"`` runs the protocol of spec §3.3 (init, 128 KiB chunks over
        one websocket per file, progress polling, finalize) and works with the original
        server as well; ``"multipart"`` sends both files in one ``multipart/form-data``
        request (Hanami only). ``progress(sent, total)`` reports bytes.
        """
        from hanami.sdk import _upload

        return _upload.upload(
            self._client,
            "mnist",
            name,
            [images, labels],
            progress=progress,
            transport=transport,
            timeout=timeout,
        )

    def upload_csv(
        self,
        name: str,
        file: FileSource,
        *,
        progress: UploadProgressCallback | None = None,
        transport: Transport = "websocket",
        timeout: float | None = 600.0,
    ) -> Dataset:
        """Upload a CSV file (header line, then numeric rows) as a dataset; returns it."""
        from hanami.sdk import _upload

        return _upload.upload(
            self._client,
            "csv",
            name,
            [file],
            progress=progress,
            transport=transport,
            timeout=timeout,
        )

    # low-level steps of the websocket upload (spec §3.3)

    def init_mnist_upload(
        self, name: str, input_data_size: int, label_data_size: int
    ) -> MnistUpload:
        """``POST /dataset/upload/mnist``: create the dataset and two tempfiles."""
        body = {
            "name": name,
            "input_data_size": input_data_size,
            "label_data_size": label_data_size,
        }
        return self._client._parse(MnistUpload, self._post("dataset/upload/mnist", body))

    def finalize_mnist_upload(self, uuid: str, uuid_input_file: str, uuid_label_file: str) -> str:
        """``PUT /dataset/upload/mnist``: convert the uploaded files; returns the uuid."""
        body = {
            "uuid": uuid,
            "uuid_input_file": uuid_input_file,
            "uuid_label_file": uuid_label_file,
        }
        return str(self._put("dataset/upload/mnist", body)["uuid"])

    def init_csv_upload(self, name: str, input_data_size: int) -> DatasetUpload:
        """``POST /dataset/upload/csv``: create the dataset and one tempfile."""
        body = {"name": name, "input_data_size": input_data_size}
        return self._client._parse(DatasetUpload, self._post("dataset/upload/csv", body))

    def finalize_csv_upload(self, uuid: str, uuid_input_file: str) -> str:
        """``PUT /dataset/upload/csv``."""
        body = {"uuid": uuid, "uuid_input_file": uuid_input_file}
        return str(self._put("dataset/upload/csv", body)["uuid"])

    def progress(self, uuid: str) -> UploadProgress:
        """``GET /dataset/progress``: whether every chunk of the upload has arrived."""
        return self._client._parse(UploadProgress, self._get("dataset/progress", uuid=uuid))

    # reading

    def get(self, uuid: str) -> Dataset:
        return self._client._parse(Dataset, self._get("dataset", uuid=uuid))

    def list(self) -> DatasetTable:
        return self._client._parse(DatasetTable, self._get("dataset/all"))

    def delete(self, uuid: str) -> None:
        self._delete("dataset", uuid=uuid)

    def check(
        self,
        uuid: str,
        reference_uuid: str,
        *,
        result_column: str | None = None,
        reference_column: str | None = None,
        mode: str | None = None,
        reference_offset: int | None = None,
    ) -> DatasetCheck:
        """``GET /dataset/check``: grade result ``uuid`` against ``reference_uuid``.

        ``accuracy`` is the percentage of rows whose class (arg-max) matches. The keyword
        options are Hanami extensions (column groups, ``classification``/``regression``,
        row offset) and are only sent when set; the original grades MNIST only.
        """
        data = self._get(
            "dataset/check",
            uuid=uuid,
            reference_uuid=reference_uuid,
            result_column=result_column,
            reference_column=reference_column,
            mode=mode,
            reference_offset=reference_offset,
        )
        return self._client._parse(DatasetCheck, data)

    def content(
        self, uuid: str, column: str, *, row_offset: int = 0, number_of_rows: int = 1
    ) -> np.ndarray:
        """``GET /dataset/content``: up to 10000 rows of one column group, as float32
        ``(rows, width)``."""
        data = self._get(
            "dataset/content",
            uuid=uuid,
            column_name=column,
            row_offset=row_offset,
            number_of_rows=number_of_rows,
        )
        return _rows_array(data.get("data", []) if isinstance(data, dict) else data)

    def download(
        self,
        uuid: str,
        column: str | None = None,
        *,
        start: int = 0,
        stop: int | None = None,
        page_size: int = MAX_CONTENT_ROWS,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Rows ``start:stop`` of one column group (default: the first) as a float32 array,
        fetched in pages of up to 10000 rows. ``progress(rows_read, rows_total)``."""
        info = self.get(uuid)
        if column is None:
            if not info.description:
                raise ValueError(f"dataset {uuid} has no columns")
            column = next(iter(info.description))
        stop = info.number_of_rows if stop is None else min(stop, info.number_of_rows)
        width = info.description[column].width if column in info.description else 0
        page_size = max(1, min(page_size, MAX_CONTENT_ROWS))
        pages = []
        offset = start
        while offset < stop:
            count = min(page_size, stop - offset)
            pages.append(self.content(uuid, column, row_offset=offset, number_of_rows=count))
            offset += count
            if progress is not None:
                progress(offset - start, stop - start)
        if not pages:
            return np.zeros((0, width), dtype=np.float32)
        return np.concatenate(pages, axis=0)


def _rows_array(rows: Any) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(len(array), -1) if array.size else array.reshape(0, 0)
    return array


class Checkpoints(Resource):
    """Checkpoints; Hanami can also move checkpoint files in and out."""

    def get(self, uuid: str) -> Checkpoint:
        """``GET /checkpoint`` (always 500 on the original server)."""
        return self._client._parse(Checkpoint, self._get("checkpoint", uuid=uuid))

    def list(self) -> CheckpointTable:
        return self._client._parse(CheckpointTable, self._get("checkpoint/all"))

    def delete(self, uuid: str) -> None:
        self._delete("checkpoint", uuid=uuid)

    def download(
        self,
        uuid: str,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        progress: UploadProgressCallback | None = None,
    ) -> int:
        """``GET /checkpoint/download`` (Hanami): write the checkpoint file to ``target``
        (a path or a binary file object); returns the number of bytes."""
        from hanami.sdk import _upload

        return _upload.download_checkpoint(self._client, uuid, target, progress=progress)

    def upload(
        self, name: str, file: FileSource, *, progress: UploadProgressCallback | None = None
    ) -> Checkpoint:
        """``POST /checkpoint/upload`` (Hanami): store a checkpoint file under ``name``; the
        server verifies it. Restore it with ``clusters.restore``."""
        from hanami.sdk import _upload

        return _upload.upload_checkpoint(self._client, name, file, progress=progress)


class Hosts(Resource):
    def list(self) -> HostTable:
        """``GET /host/all``: the logical compute hosts (one per CPU socket, GPUs)."""
        return self._client._parse(HostTable, self._get("host/all"))


class Logs(Resource):
    def audit(self, page: int = 0, *, user_id: str | None = None) -> AuditLogTable:
        """``GET /audit_log``: 100 rows a page; admins may name another ``user_id``."""
        data = self._get("audit_log", page=page, user_id=user_id)
        return self._client._parse(AuditLogTable, data)

    def errors(self, page: int = 0, *, user_id: str | None = None) -> ErrorLogTable:
        """``GET /error_log`` (admin only)."""
        data = self._get("error_log", page=page, user_id=user_id)
        return self._client._parse(ErrorLogTable, data)


class System(Resource):
    """Measurements and CPU topology of the server machine."""

    def _series(self, path: str, key: str) -> TimeSeries:
        data = self._get(path)
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            return self._client._parse(TimeSeries, {"seconds": data})  # raises InvalidResponse
        return self._client._parse(TimeSeries, {**data[key], "source": data.get("source")})

    def power(self) -> TimeSeries:
        """``GET /power_consumption``: package power in W."""
        return self._series("power_consumption", "power")

    def speed(self) -> TimeSeries:
        """``GET /speed``: average core frequency in MHz."""
        return self._series("speed", "current_speed")

    def temperature(self) -> TimeSeries:
        """``GET /temperature_production``: package temperature in °C."""
        return self._series("temperature_production", "temperature")

    def info(self) -> SystemInfo:
        """``GET /system_info``: CPU topology and frequencies."""
        return self._client._parse(SystemInfo, self._get("system_info"))

    def threading(self) -> ThreadMapping:
        """``GET /threading``: thread name -> CPU ids."""
        return self._client._parse(ThreadMapping, self._get("threading"))


class ApiTokens(Resource):
    """Long-lived API tokens (Hanami only): the secret is returned once, at creation."""

    def create(
        self, name: str, *, project_id: str | None = None, expires_in: int | None = None
    ) -> ApiTokenCreated:
        body: dict[str, Any] = {"name": name}
        if project_id is not None:
            body["project_id"] = project_id
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self._client._parse(ApiTokenCreated, self._post("api_token", body))

    def get(self, id: str) -> ApiToken:
        return self._client._parse(ApiToken, self._get("api_token", id=id))

    def list(self) -> ApiTokenTable:
        return self._client._parse(ApiTokenTable, self._get("api_token/all"))

    def delete(self, id: str) -> None:
        """Revoke the token."""
        self._delete("api_token", id=id)

"""One class per API resource; the client exposes them as attributes (``client.clusters``)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hanami.protocol.models import (
    ApiToken,
    ApiTokenCreated,
    Cluster,
    ClusterMode,
    Project,
    ProjectAssignment,
    SystemInfo,
    Task,
    TaskInput,
    TaskRef,
    TaskResult,
    ThreadMapping,
    TimeSeries,
    User,
)
from hanami.sdk._auth import encode_passphrase
from hanami.sdk._datasets import Checkpoints, Datasets
from hanami.sdk._models import (
    ApiTokenTable,
    AuditLogTable,
    ClusterTable,
    ErrorLogTable,
    HostTable,
    ProjectTable,
    TaskTable,
    UserTable,
    coerce_bindings,
)
from hanami.sdk._resource import Resource
from hanami.sdk._wire import Call, ModeT, Op, operation, parse_model

if TYPE_CHECKING:
    from hanami.sdk._core import BaseClient

__all__ = [
    "ApiTokens",
    "Checkpoints",
    "Clusters",
    "Datasets",
    "Hosts",
    "Logs",
    "Projects",
    "Resource",
    "System",
    "Tasks",
    "Users",
]


class Users(Resource[ModeT]):
    """Users and their project assignments (admin only, except :meth:`projects`)."""

    @operation
    def create(self, id: str, name: str, passphrase: str, *, is_admin: bool = False) -> Op[User]:
        """``POST /user``; ``passphrase`` in plain text (base64-encoded on the wire)."""
        body = {
            "id": id,
            "name": name,
            "passphrase": encode_passphrase(passphrase),
            "is_admin": is_admin,
        }
        return (yield from self._model(User, self._post("user", body)))

    @operation
    def get(self, id: str) -> Op[User]:
        return (yield from self._model(User, self._get("user", id=id)))

    @operation
    def list(self) -> Op[UserTable]:
        return (yield from self._model(UserTable, self._get("user/all")))

    @operation
    def delete(self, id: str) -> Op[None]:
        yield self._delete("user", id=id)

    @operation
    def add_project(
        self, id: str, project_id: str, *, role: str = "member", is_project_admin: bool = False
    ) -> Op[User]:
        """``POST /user/project``: assign ``project_id`` with ``role`` to user ``id``."""
        body = {
            "id": id,
            "project_id": project_id,
            "role": role,
            "is_project_admin": is_project_admin,
        }
        return (yield from self._model(User, self._post("user/project", body)))

    @operation
    def remove_project(self, id: str, project_id: str) -> Op[User]:
        """``DELETE /user/project``."""
        return (
            yield from self._model(User, self._delete("user/project", id=id, project_id=project_id))
        )

    @operation
    def projects(self, user_id: str | None = None) -> Op[list[ProjectAssignment]]:
        """``GET /user/project``: the projects of ``user_id`` (default: the caller)."""
        data = yield self._get("user/project", user_id=user_id)
        return [parse_model(ProjectAssignment, p) for p in data.get("projects", [])]


class Projects(Resource[ModeT]):
    """Projects (admin only)."""

    @operation
    def create(self, id: str, name: str) -> Op[Project]:
        return (yield from self._model(Project, self._post("project", {"id": id, "name": name})))

    @operation
    def get(self, id: str) -> Op[Project]:
        return (yield from self._model(Project, self._get("project", id=id)))

    @operation
    def list(self) -> Op[ProjectTable]:
        return (yield from self._model(ProjectTable, self._get("project/all")))

    @operation
    def delete(self, id: str) -> Op[None]:
        yield self._delete("project", id=id)


class Clusters(Resource[ModeT]):
    """Clusters: create from a template, inspect, delete, checkpoint, switch mode."""

    @operation
    def create(self, name: str, template: Any) -> Op[Cluster]:
        """``POST /cluster`` from template text (or a parsed ``hanami.core.Template``).

        The server validates the template (400 with line and column on errors); the SDK sends
        it base64-encoded, as the protocol requires.
        """
        text = template if isinstance(template, str) else template.to_text()
        encoded = base64.b64encode(text.encode()).decode()
        body = {"name": name, "template": encoded}
        return (yield from self._model(Cluster, self._post("cluster", body)))

    @operation
    def get(self, uuid: str) -> Op[Cluster]:
        return (yield from self._model(Cluster, self._get("cluster", uuid=uuid)))

    @operation
    def list(self) -> Op[ClusterTable]:
        return (yield from self._model(ClusterTable, self._get("cluster/all")))

    @operation
    def delete(self, uuid: str) -> Op[None]:
        yield self._delete("cluster", uuid=uuid)

    @operation
    def save(self, cluster_uuid: str, name: str) -> Op[TaskRef]:
        """``POST /cluster/save``: queue a checkpoint; the task uuid is the checkpoint uuid."""
        body = {"name": name, "cluster_uuid": cluster_uuid}
        ref = yield from self._model(TaskRef, self._post("cluster/save", body))
        self._client.tasks._remember(ref.uuid, cluster_uuid)
        return ref

    @operation
    def restore(self, cluster_uuid: str, checkpoint_uuid: str) -> Op[TaskRef]:
        """``POST /cluster/load``: queue a restore of ``checkpoint_uuid`` into the cluster."""
        body = {"cluster_uuid": cluster_uuid, "checkpoint_uuid": checkpoint_uuid}
        ref = yield from self._model(TaskRef, self._post("cluster/load", body))
        self._client.tasks._remember(ref.uuid, cluster_uuid)
        return ref

    @operation
    def set_mode(self, uuid: str, mode: Literal["TASK", "DIRECT"]) -> Op[ClusterMode]:
        """``PUT /cluster/set_mode``: ``DIRECT`` (websocket I/O) or back to ``TASK``."""
        mode_text = str(mode).upper()
        body = {"uuid": uuid, "new_state": mode_text}
        return (yield from self._model(ClusterMode, self._put("cluster/set_mode", body)))

    @operation
    def switch_host(self, cluster_uuid: str, host_uuid: str, *, hexagon_id: int = 1) -> Op[Cluster]:
        """``PUT /cluster/switch_host``: move hexagon ``hexagon_id`` to another host."""
        body = {"cluster_uuid": cluster_uuid, "hexagon_id": hexagon_id, "host_uuid": host_uuid}
        return (yield from self._model(Cluster, self._put("cluster/switch_host", body)))


class Tasks(Resource[ModeT]):
    """Train and request tasks of a cluster.

    ``inputs``/``outputs`` are :class:`TaskInput` models, dicts with ``hexagon_name``,
    ``dataset_uuid``, ``dataset_column``, or ``(dataset_uuid, column, hexagon)`` tuples (the
    CLI's ``DS:COLUMN:HEXAGON``); ``results`` are :class:`TaskResult`, dicts or
    ``(hexagon, column)`` tuples.
    """

    def __init__(self, client: BaseClient[ModeT]) -> None:
        super().__init__(client)
        self._clusters: dict[str, str] = {}

    def _remember(self, task_uuid: str, cluster_uuid: str) -> None:
        self._clusters[task_uuid] = cluster_uuid

    def cluster_of(self, task_uuid: str) -> str | None:
        """The cluster of a task this client created or read (``None`` if unknown)."""
        return self._clusters.get(task_uuid)

    def _task(self, call: Call, cluster_uuid: str) -> Op[Task]:
        task = yield from self._model(Task, call)
        task.cluster_uuid = task.cluster_uuid or cluster_uuid
        self._remember(task.uuid, cluster_uuid)
        return task

    @operation
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
    ) -> Op[Task]:
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
        return (yield from self._task(self._post("task/train", body), cluster_uuid))

    @operation
    def request(
        self,
        cluster_uuid: str,
        name: str,
        inputs: Sequence[TaskInput | dict[str, Any] | tuple[str, str, str]],
        results: Sequence[TaskResult | dict[str, Any] | tuple[str, str]],
        *,
        time_length: int = 1,
        **extra: Any,
    ) -> Op[Task]:
        """``POST /task/request``; the outputs go to a new dataset whose uuid is the task's."""
        body = {
            "name": name,
            "cluster_uuid": cluster_uuid,
            "inputs": coerce_bindings(inputs, TaskInput),
            "results": coerce_bindings(results, TaskResult),
            "time_length": time_length,
            **extra,
        }
        return (yield from self._task(self._post("task/request", body), cluster_uuid))

    @operation
    def get(self, task_uuid: str, cluster_uuid: str | None = None) -> Op[Task]:
        cluster = self._cluster(task_uuid, cluster_uuid)
        call = self._get("task", uuid=task_uuid, cluster_uuid=cluster)
        return (yield from self._task(call, cluster))

    @operation
    def list(self, cluster_uuid: str) -> Op[TaskTable]:
        return (yield from self._model(TaskTable, self._get("task/all", cluster_uuid=cluster_uuid)))

    @operation
    def delete(self, task_uuid: str, cluster_uuid: str | None = None) -> Op[None]:
        """``DELETE /task``: remove a queued or finished task, cancel an active one."""
        cluster = self._cluster(task_uuid, cluster_uuid)
        yield self._delete("task", uuid=task_uuid, cluster_uuid=cluster)

    cancel = delete

    @operation
    def wait(self, task: str | Task, **kwargs: Any) -> Op[Task]:
        """Same as :meth:`HanamiClient.wait`."""
        return (yield from type(self._client).wait.op(self._client, task, **kwargs))

    @operation
    def result(self, task: str | Task, column: str | None = None, **kwargs: Any) -> Op[np.ndarray]:
        """The output rows of a finished request task (its result dataset) as an array."""
        uuid = task.uuid if isinstance(task, Task) else task
        return (yield from Datasets.download.op(self._client.datasets, uuid, column, **kwargs))

    def _cluster(self, task_uuid: str, cluster_uuid: str | None) -> str:
        cluster = cluster_uuid or self.cluster_of(task_uuid)
        if cluster is None:
            raise ValueError(f"cluster_uuid is needed for task {task_uuid}")
        return cluster


class Hosts(Resource[ModeT]):
    @operation
    def list(self) -> Op[HostTable]:
        """``GET /host/all``: the logical compute hosts (one per CPU socket, GPUs)."""
        return (yield from self._model(HostTable, self._get("host/all")))


class Logs(Resource[ModeT]):
    @operation
    def audit(self, page: int = 0, *, user_id: str | None = None) -> Op[AuditLogTable]:
        """``GET /audit_log``: 100 rows a page; admins may name another ``user_id``."""
        call = self._get("audit_log", page=page, user_id=user_id)
        return (yield from self._model(AuditLogTable, call))

    @operation
    def errors(self, page: int = 0, *, user_id: str | None = None) -> Op[ErrorLogTable]:
        """``GET /error_log`` (admin only)."""
        call = self._get("error_log", page=page, user_id=user_id)
        return (yield from self._model(ErrorLogTable, call))


class System(Resource[ModeT]):
    """Measurements and CPU topology of the server machine."""

    def _series(self, path: str, key: str) -> Op[TimeSeries]:
        data = yield self._get(path)
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            return parse_model(TimeSeries, {"seconds": data})  # raises InvalidResponse
        return parse_model(TimeSeries, {**data[key], "source": data.get("source")})

    @operation
    def power(self) -> Op[TimeSeries]:
        """``GET /power_consumption``: package power in W."""
        return (yield from self._series("power_consumption", "power"))

    @operation
    def speed(self) -> Op[TimeSeries]:
        """``GET /speed``: average core frequency in MHz."""
        return (yield from self._series("speed", "current_speed"))

    @operation
    def temperature(self) -> Op[TimeSeries]:
        """``GET /temperature_production``: package temperature in °C."""
        return (yield from self._series("temperature_production", "temperature"))

    @operation
    def info(self) -> Op[SystemInfo]:
        """``GET /system_info``: CPU topology and frequencies."""
        return (yield from self._model(SystemInfo, self._get("system_info")))

    @operation
    def threading(self) -> Op[ThreadMapping]:
        """``GET /threading``: thread name -> CPU ids."""
        return (yield from self._model(ThreadMapping, self._get("threading")))


class ApiTokens(Resource[ModeT]):
    """Long-lived API tokens (Hanami only): the secret is returned once, at creation."""

    @operation
    def create(
        self, name: str, *, project_id: str | None = None, expires_in: int | None = None
    ) -> Op[ApiTokenCreated]:
        body: dict[str, Any] = {"name": name}
        if project_id is not None:
            body["project_id"] = project_id
        if expires_in is not None:
            body["expires_in"] = expires_in
        return (yield from self._model(ApiTokenCreated, self._post("api_token", body)))

    @operation
    def get(self, id: str) -> Op[ApiToken]:
        return (yield from self._model(ApiToken, self._get("api_token", id=id)))

    @operation
    def list(self) -> Op[ApiTokenTable]:
        return (yield from self._model(ApiTokenTable, self._get("api_token/all")))

    @operation
    def delete(self, id: str) -> Op[None]:
        """Revoke the token."""
        yield self._delete("api_token", id=id)

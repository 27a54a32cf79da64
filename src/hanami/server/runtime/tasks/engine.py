"""The task engine: a persistent FIFO queue per cluster, worked by a shared thread pool.

Tasks are rows of the ``tasks`` table (spec 5.7, made durable):

=============  =================================================================
``queued``     waiting; the queue order is ``created_at`` (then uuid)
``active``     running on a worker; ``current_cycle`` is updated after each chunk
``finished``   done
``aborted``    cancelled by ``DELETE /task`` while it ran (stops between chunks)
``failed``     an error stopped it; ``error_message`` says why
=============  =================================================================

**Lanes.** Each cluster has a lane: at most one of its tasks runs at a time, in queue
order, while the lanes of different clusters run in parallel on ``workers`` threads.
Creating a task commits its row, then :meth:`TaskEngine.submit` starts the lane if it is
idle. A checkpoint save or restore on an idle cluster runs *inline*, in the thread of the
HTTP request, so it is complete when the response is sent (clients depend on that).
A running task holds :meth:`ClusterExecutor.exclusive` for its whole duration.

**Cancellation and progress.** Runners work in chunks of rows sized to take about
:data:`CHUNK_SECONDS`; between chunks they record the progress (rows per second, ETA) and
check the task's cancel and suspend flags.

**Restarts.** A graceful shutdown (:meth:`stop`) suspends running tasks between chunks: a
train task goes back to ``queued`` keeping its ``current_cycle`` and resumes there after
the restart (the cluster is autosaved right after suspending; a shuffled task draws the
same permutations from its stored seed), a request task starts again from row 0. After a
crash, the train and request tasks found ``active`` at start-up are queued again at the
front of their lane: a train task at the cycle its cluster's autosave holds (the cluster was
restored from that autosave: the cycle the task last started at plus the samples the
cluster learned since), a request task from row 0; after :data:`CRASH_RESUMES`
crashes a task is marked ``failed`` instead. An interrupted checkpoint task is ``failed``
with an explanation (its client saw the request fail), or ``finished`` when its checkpoint
row was committed. Queued tasks simply run, except the checkpoint saves of a cluster that
lost direct-I/O steps acknowledged before the crash (:attr:`ClusterRegistry.damaged`: its
journal could not be replayed): they are ``failed``, never ``finished`` without the steps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from hanami.core import TrainStats
from hanami.protocol.timestamps import utcnow
from hanami.server.db.models import Checkpoint, Cluster, Dataset, Task
from hanami.server.db.session import Database
from hanami.server.errors import Conflict
from hanami.server.runtime.executor import ClusterExecutor, ClusterNotFound
from hanami.server.runtime.registry import ClusterRegistry

__all__ = [
    "ABORTED",
    "ACTIVE",
    "CHECKPOINT_RESTORE",
    "CHECKPOINT_SAVE",
    "CHUNK_SECONDS",
    "FAILED",
    "FINISHED",
    "FINISHED_STATES",
    "MODE_DIRECT",
    "MODE_TASK",
    "QUEUED",
    "REQUEST",
    "TRAIN",
    "ChunkSizer",
    "Control",
    "TaskCancelled",
    "TaskEngine",
    "TaskRun",
    "TaskSnapshot",
    "TaskSuspended",
]

logger = logging.getLogger("hanami.server.runtime.tasks")

QUEUED, ACTIVE, FINISHED, ABORTED, FAILED = "queued", "active", "finished", "aborted", "failed"
FINISHED_STATES = frozenset({FINISHED, ABORTED, FAILED})
MODE_TASK, MODE_DIRECT = "TASK", "DIRECT"

TRAIN, REQUEST = "train", "request"
CHECKPOINT_SAVE, CHECKPOINT_RESTORE = "checkpoint_save", "checkpoint_restore"

CHUNK_SECONDS = 0.4
"""Target duration of one chunk: how quickly progress moves and cancellation takes effect."""
PROGRESS_WRITE_S = 0.25
MAX_ERROR_TEXT = 4000
CRASH_RESUMES = 2
"""How often a train or request task is queued again after a crash before it is failed (a
task that itself brings the server down must not do so forever)."""


class TaskCancelled(Exception):
    """Raised between chunks when the task was deleted while running."""


class TaskSuspended(Exception):
    """Raised between chunks when the server shuts down gracefully."""


@dataclass
class Control:
    """In-memory handle of a running task."""

    task_uuid: str
    cluster_uuid: str
    cancel: threading.Event = field(default_factory=threading.Event)
    suspend: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    rate: float = 0.0
    """Rows (cycles) per second, smoothed over the last chunks."""
    training_error: float | None = None
    """Mean squared error of the last chunk, each row scored before it was learned."""
    training_accuracy: float | None = None
    """Share of the last chunk's rows whose largest output was the expected one."""


@dataclass
class _Lane:
    running: bool = False
    pending: bool = False
    mode: str = MODE_TASK
    deleted: bool = False


@dataclass(frozen=True)
class TaskSnapshot:
    """The columns of a claimed task row that runners need."""

    uuid: str
    cluster_uuid: str
    name: str
    task_type: str
    owner_id: str
    project_id: str
    time_length: int
    current_cycle: int
    total_number_of_cycles: int
    parameters: dict[str, Any]


class TaskRun:
    """What a runner gets: the task, the services, and :meth:`advance` for progress."""

    def __init__(self, engine: TaskEngine, task: TaskSnapshot, control: Control) -> None:
        self.engine = engine
        self.task = task
        self.control = control
        self.executor = engine.executor
        self.registry = engine.registry
        self.database = engine.database
        self.params = task.parameters
        self.suspendable = True
        self._last_write = 0.0
        self._written_cycle = task.current_cycle
        self.cycle = task.current_cycle
        """The cycles done so far (what a suspended train task resumes from)."""

    @property
    def cluster_uuid(self) -> str:
        return self.task.cluster_uuid

    def check(self) -> None:
        """Raise :class:`TaskCancelled`/:class:`TaskSuspended` if asked to stop."""
        if self.control.cancel.is_set():
            raise TaskCancelled()
        if self.suspendable and self.control.suspend.is_set():
            raise TaskSuspended()

    def advance(
        self, cycle: int, rows: int, seconds: float, stats: TrainStats | None = None
    ) -> None:
        """Record that ``cycle`` cycles are done (``rows`` of them in ``seconds``), then check.

        The check is skipped after the last cycle: a finished task is not aborted.
        """
        self.cycle = cycle
        control = self.control
        if stats is not None:
            control.training_error = stats.mean_squared_error
            control.training_accuracy = stats.accuracy
            if cycle >= self.task.total_number_of_cycles:  # keep the last values
                self.update_parameters(training_error=stats.mean_squared_error,
                                       training_accuracy=stats.accuracy)  # fmt: skip
        if rows > 0 and seconds > 0:
            instant = rows / seconds
            control.rate = instant if control.rate == 0 else 0.6 * control.rate + 0.4 * instant
        now = time.monotonic()
        if cycle != self._written_cycle and (
            now - self._last_write >= PROGRESS_WRITE_S or cycle >= self.task.total_number_of_cycles
        ):
            self.write_progress(cycle)
        registry = self.registry
        if registry.seconds_since_save(self.cluster_uuid) >= registry.autosave_interval:
            self.write_progress(cycle)
            if registry.is_changed(self.cluster_uuid):
                registry.autosave(self.cluster_uuid)
        if cycle < self.task.total_number_of_cycles:
            self.check()

    def write_progress(self, cycle: int) -> None:
        with self.database.session() as session:
            session.execute(update(Task).where(Task.uuid == self.task.uuid).values(
                current_cycle=cycle))  # fmt: skip
            session.commit()
        self._written_cycle = cycle
        self._last_write = time.monotonic()

    def update_parameters(self, **values: Any) -> None:
        self.params = {**self.params, **values}
        with self.database.session() as session:
            session.execute(
                update(Task).where(Task.uuid == self.task.uuid).values(parameters=self.params)
            )
            session.commit()


Runner = Callable[[TaskRun], None]


class ChunkSizer:
    """Grows or shrinks the chunk so that one takes about :data:`CHUNK_SECONDS`."""

    def __init__(self, initial: int = 32, minimum: int = 1, maximum: int = 16384) -> None:
        self.size = initial
        self.minimum = minimum
        self.maximum = maximum

    def update(self, rows: int, seconds: float) -> None:
        if rows <= 0:
            return
        wanted = self.size * 4 if seconds <= 0 else int(rows * CHUNK_SECONDS / seconds)
        wanted = min(wanted, self.size * 4)  # grow gradually (first chunks include warm-up)
        self.size = max(self.minimum, min(self.maximum, wanted))


def error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ValueError | OSError | ClusterNotFound) and text:
        message = text
    else:
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return message[:MAX_ERROR_TEXT]


class TaskEngine:
    """Queues, runs, cancels and recovers tasks (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        executor: ClusterExecutor,
        registry: ClusterRegistry,
        *,
        workers: int = 4,
        runners: dict[str, Runner] | None = None,
    ) -> None:
        from hanami.server.runtime.tasks.runners import RUNNERS

        self.database = database
        self.executor = executor
        self.registry = registry
        self.workers = max(1, workers)
        self.runners = runners or RUNNERS
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._lanes: dict[str, _Lane] = {}
        self._controls: dict[str, Control] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = False

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Fail the tasks a crash interrupted, then start the lanes with queued tasks."""
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="HanamiTask")
        self._stopping = False
        self.recover()
        with self.database.session() as session:
            direct = session.scalars(select(Cluster.uuid).where(Cluster.mode == MODE_DIRECT))
            with self._lock:
                for cluster_uuid in direct:
                    self._lane(cluster_uuid).mode = MODE_DIRECT
            clusters = session.scalars(
                select(Task.cluster_uuid).where(Task.state == QUEUED).distinct()
            ).all()
        for cluster_uuid in clusters:
            self.kick(cluster_uuid)

    def recover(self) -> None:
        """Deal with the tasks a crash interrupted (see the module docstring)."""
        with self.database.session() as session:
            interrupted = session.scalars(select(Task).where(Task.state == ACTIVE)).all()
            for task in interrupted:
                if task.task_type == CHECKPOINT_SAVE and session.get(Checkpoint, task.uuid):
                    # the crash came after the checkpoint row was committed: it is complete
                    task.finished_at = utcnow()
                    task.state, task.current_cycle, task.error_message = FINISHED, 1, None
                    continue
                params = dict(task.parameters or {})
                resumes = int(params.get("crash_resumes", 0))
                if task.task_type in (TRAIN, REQUEST) and resumes < CRASH_RESUMES:
                    resume_at = 0
                    if task.task_type == TRAIN and "started_at_samples" in params:
                        # the cluster is back from its autosave: the cycles that holds are
                        # those of the last start plus the samples it learned since
                        learned = self._samples(task.cluster_uuid) - params["started_at_samples"]
                        resume_at = params["started_at_cycle"] + max(learned, 0)
                        resume_at = min(resume_at, task.total_number_of_cycles)
                    task.parameters = {**params, "crash_resumes": resumes + 1}
                    task.state, task.started_at, task.current_cycle = QUEUED, None, resume_at
                    logger.warning("task %s was interrupted by a crash: queued again at cycle %d",
                                   task.uuid, resume_at)  # fmt: skip
                    continue
                task.finished_at = utcnow()
                task.state = FAILED
                task.error_message = (
                    "Interrupted: the server stopped unexpectedly while this task was running "
                    f"(cycle {task.current_cycle} of {task.total_number_of_cycles})"
                    + (f" after {resumes} earlier crash(es); " if resumes else "; ")
                    + ("the cluster was restored from its last autosave."
                       if task.task_type in (TRAIN, CHECKPOINT_RESTORE) else "run it again.")
                )  # fmt: skip
                logger.warning("task %s was interrupted by a crash: marked failed", task.uuid)
                self._discard_side_effects(session, task)
            self._fail_lost_saves(session)
            session.commit()

    def _fail_lost_saves(self, session: Any) -> None:
        """Fail the queued saves of clusters whose acknowledged direct-I/O steps were lost."""
        if not self.registry.damaged:
            return
        for task in session.scalars(
            select(Task).where(
                Task.state == QUEUED,
                Task.task_type == CHECKPOINT_SAVE,
                Task.cluster_uuid.in_(self.registry.damaged),
            )
        ):
            task.finished_at = utcnow()
            task.state = FAILED
            task.error_message = (
                "Not saved: the cluster lost direct-I/O steps acknowledged before the server "
                "stopped (their journal could not be replayed; see the server log)"
            )
            logger.warning("checkpoint save %s failed: its cluster lost steps", task.uuid)
            self._discard_side_effects(session, task)

    def _samples(self, cluster_uuid: str) -> int:
        """Samples the cluster has learned (0 if it is not there)."""
        if not self.executor.exists(cluster_uuid):
            return 0
        return int(self.executor.info(cluster_uuid).metrics.get("samples_trained", 0))

    def stop(self, timeout: float = 60.0) -> None:
        """Suspend running tasks between chunks and wait for the lanes (graceful shutdown)."""
        with self._lock:
            self._stopping = True
            for control in self._controls.values():
                control.suspend.set()
        if self._pool is not None:
            # Queued drains still start, see ``_stopping`` and release their lane at once.
            self._pool.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        with self._idle:
            while any(lane.running for lane in self._lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.warning("tasks still running at shutdown after %.0f s", timeout)
                    break
                self._idle.wait(left)
        self._pool = None

    # ------------------------------------------------------------------ queue

    def _lane(self, cluster_uuid: str) -> _Lane:
        return self._lanes.setdefault(cluster_uuid, _Lane())

    def submit(self, task_uuid: str, cluster_uuid: str, *, inline: bool = False) -> None:
        """Start the cluster's lane for a newly queued task (inline: run it in this thread)."""
        if inline:
            with self._lock:
                lane = self._lane(cluster_uuid)
                claim = (
                    not lane.running
                    and not lane.deleted
                    and lane.mode == MODE_TASK
                    and not self._stopping
                )
                if claim:
                    lane.running = True
            if claim:
                try:
                    snapshot = self._claim(cluster_uuid, only=task_uuid)
                    if snapshot is not None:
                        self._execute(snapshot)
                finally:
                    self._release(cluster_uuid)
                if snapshot is not None and not self._has_queued(cluster_uuid):
                    return  # a lane started for nothing would refuse set_mode DIRECT (409)
        self.kick(cluster_uuid)

    def kick(self, cluster_uuid: str) -> None:
        """Make sure the lane runs if it has queued tasks."""
        with self._lock:
            lane = self._lane(cluster_uuid)
            if lane.deleted or lane.mode != MODE_TASK or self._stopping or self._pool is None:
                return
            if lane.running:
                lane.pending = True
                return
            lane.running = True
            pool = self._pool
        try:
            pool.submit(self._drain, cluster_uuid)
        except RuntimeError:  # shutting down
            self._release(cluster_uuid)

    def _release(self, cluster_uuid: str) -> None:
        with self._idle:
            lane = self._lane(cluster_uuid)
            lane.running = False
            lane.pending = False
            self._idle.notify_all()

    def _drain(self, cluster_uuid: str) -> None:
        try:
            while True:
                with self._lock:
                    lane = self._lane(cluster_uuid)
                    if self._stopping or lane.deleted or lane.mode != MODE_TASK:
                        break
                    lane.pending = False
                snapshot = self._claim(cluster_uuid)
                if snapshot is None:
                    with self._lock:
                        if not lane.pending:
                            break
                    continue
                self._execute(snapshot)
        except Exception:
            logger.exception("task lane of cluster %s crashed", cluster_uuid)
        finally:
            self._release(cluster_uuid)

    def _claim(self, cluster_uuid: str, only: str | None = None) -> TaskSnapshot | None:
        """Mark the oldest queued task of the cluster active (if it is ``only``, when given)."""
        with self.database.session() as session:
            task = session.scalars(
                select(Task)
                .where(Task.cluster_uuid == cluster_uuid, Task.state == QUEUED)
                .order_by(Task.created_at, Task.uuid)
                .limit(1)
            ).first()
            if task is None or (only is not None and task.uuid != only):
                return None
            control = Control(task.uuid, cluster_uuid)
            with self._lock:
                self._controls[task.uuid] = control
            claimed = session.execute(
                update(Task)
                .where(Task.uuid == task.uuid, Task.state == QUEUED)
                .values(state=ACTIVE, started_at=utcnow(), error_message=None)
            ).rowcount
            session.commit()
            if claimed != 1:
                with self._lock:
                    self._controls.pop(task.uuid, None)
                return None
            return TaskSnapshot(
                uuid=task.uuid,
                cluster_uuid=task.cluster_uuid,
                name=task.name,
                task_type=task.task_type,
                owner_id=task.owner_id,
                project_id=task.project_id,
                time_length=task.time_length,
                current_cycle=task.current_cycle,
                total_number_of_cycles=task.total_number_of_cycles,
                parameters=dict(task.parameters or {}),
            )

    # ------------------------------------------------------------------ running

    def _execute(self, task: TaskSnapshot) -> None:
        control = self._controls[task.uuid]
        run = TaskRun(self, task, control)
        state, error, cycle = FINISHED, None, None
        changes_cluster = task.task_type in (TRAIN, CHECKPOINT_RESTORE)
        try:
            runner = self.runners.get(task.task_type)
            if runner is None:
                raise ValueError(f"unknown task type {task.task_type!r}")
            with self.executor.exclusive(task.cluster_uuid):
                run.check()
                if task.task_type == TRAIN:  # for a crash: see recover()
                    run.update_parameters(
                        started_at_cycle=task.current_cycle,
                        started_at_samples=self._samples(task.cluster_uuid),
                    )
                runner(run)
        except TaskCancelled:
            state, cycle = ABORTED, run.cycle  # how far it got
        except TaskSuspended:
            state, cycle = QUEUED, run.cycle if task.task_type == TRAIN else 0
        except ClusterNotFound:
            state, error = FAILED, "the cluster was deleted or could not be restored"
        except Exception as exc:
            state, error = FAILED, error_text(exc)
            logger.warning("task %s (%s) failed: %s", task.uuid, task.task_type, error,
                           exc_info=not isinstance(exc, ValueError | OSError))  # fmt: skip
        if changes_cluster and self.executor.exists(task.cluster_uuid):
            try:
                saved = self.registry.autosave(task.cluster_uuid)
            except Exception as exc:
                logger.exception("autosave after task %s failed", task.uuid)
                saved = False
                if state == QUEUED:
                    error = f"could not save the cluster at shutdown: {error_text(exc)}"
            if state == QUEUED and not saved:
                state = FAILED
                error = error or "could not save the cluster at shutdown; run the task again"
        values: dict[str, Any] = {"state": state, "error_message": error}
        if cycle is not None:
            values["current_cycle"] = cycle
        if state == QUEUED:
            values["started_at"] = None
        else:
            values["finished_at"] = utcnow()
        try:
            with self.database.session() as session:
                session.execute(update(Task).where(Task.uuid == task.uuid).values(**values))
                session.commit()
        except Exception:
            logger.exception("could not record the end of task %s", task.uuid)
        finally:
            with self._lock:
                self._controls.pop(task.uuid, None)
            control.done.set()
        logger.info("task %s (%s) on cluster %s: %s", task.uuid, task.task_type,
                    task.cluster_uuid, state)  # fmt: skip

    # ------------------------------------------------------------------ control

    def live(self, task_uuid: str) -> Control | None:
        """The in-memory handle of a running task (its rate), if it runs in this process."""
        return self._controls.get(task_uuid)

    def delete_task(self, task_uuid: str, *, wait: float = 5.0) -> None:
        """DELETE /task: drop a queued or ended task; cancel a running one (kept as aborted)."""
        with self.database.session() as session:
            task = session.get(Task, task_uuid)
            if task is None:
                return
            if task.state != ACTIVE:
                removed = session.execute(
                    delete(Task).where(Task.uuid == task_uuid, Task.state == task.state)
                ).rowcount
                if removed == 1:
                    if task.state == QUEUED:
                        self._discard_side_effects(session, task)
                    session.commit()
                    return
                session.rollback()
        control = self._controls.get(task_uuid)
        if control is not None:
            control.cancel.set()
            control.done.wait(wait)

    def _discard_side_effects(self, session: Any, task: Task) -> None:
        """Remove what a task that will never finish left behind (result dataset, link)."""
        params = task.parameters or {}
        if task.task_type == REQUEST:
            dataset = session.get(Dataset, task.uuid)
            if dataset is not None and dataset.kind == "request_result":
                session.delete(dataset)
            location = params.get("result_location")
            if location:
                Path(location).unlink(missing_ok=True)
        if task.task_type == CHECKPOINT_RESTORE and params.get("temporary_copy"):
            Path(params["location"]).unlink(missing_ok=True)
        saved = task.task_type == CHECKPOINT_SAVE and params.get("location")
        if saved and session.get(Checkpoint, task.uuid) is None:
            Path(params["location"]).unlink(missing_ok=True)

    def remove_cluster(self, cluster_uuid: str, *, timeout: float = 60.0) -> None:
        """Stop the cluster's lane for good: cancel its running task and wait for it."""
        with self._idle:
            lane = self._lane(cluster_uuid)
            lane.deleted = True
            for control in self._controls.values():
                if control.cluster_uuid == cluster_uuid:
                    control.cancel.set()
            deadline = time.monotonic() + timeout
            while lane.running and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            if lane.running:
                logger.warning("cluster %s: its task did not stop within %.0f s", cluster_uuid,
                               timeout)  # fmt: skip
            self._lanes.pop(cluster_uuid, None)

    def is_busy(self, cluster_uuid: str) -> bool:
        with self._lock:
            lane = self._lanes.get(cluster_uuid)
            return lane is not None and lane.running

    def mode(self, cluster_uuid: str) -> str:
        with self._lock:
            lane = self._lanes.get(cluster_uuid)
            return lane.mode if lane is not None else MODE_TASK

    def set_mode(self, cluster_uuid: str, mode: str) -> None:
        """Switch TASK <-> DIRECT; 409 unless coming from the other mode (DIRECT: lane idle).

        The mode is stored with the cluster's row and restored by :meth:`start`."""
        with self._lock:
            lane = self._lane(cluster_uuid)
            allowed = (
                lane.mode == MODE_TASK and not lane.running
                if mode == MODE_DIRECT
                else lane.mode == MODE_DIRECT
            )
            if not allowed:
                raise Conflict(f"Can not switch cluster to '{mode}'")
            with self.database.session() as session:  # first, so a restart keeps the mode
                row = session.get(Cluster, cluster_uuid)
                if row is not None:
                    row.mode = mode
                    session.commit()
            lane.mode = mode
        if mode == MODE_TASK and self._has_queued(cluster_uuid):
            # only then: a lane started for nothing would make the next inline save wait
            # (answered "queued") and a switch back to DIRECT fail (409)
            self.kick(cluster_uuid)

    def _has_queued(self, cluster_uuid: str) -> bool:
        with self.database.session() as session:
            return (
                session.scalar(
                    select(Task.uuid)
                    .where(Task.cluster_uuid == cluster_uuid, Task.state == QUEUED)
                    .limit(1)
                )
                is not None
            )

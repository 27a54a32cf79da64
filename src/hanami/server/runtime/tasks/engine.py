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
check the task's cancel and suspend flags. :mod:`hanami.server.runtime.tasks.execution` runs
one claimed task and records how it ended.

**Restarts.** :mod:`hanami.server.runtime.tasks.recovery` says what becomes of the tasks
a shutdown or a crash interrupted.

**Replicas.** Only the replica holding a cluster (:mod:`hanami.server.runtime.replicas`)
runs its lane; a claim records the replica in ``tasks.claimed_by`` and every later write of
the task is fenced on it. :mod:`hanami.server.runtime.tasks.keeper` adopts the clusters of
dead replicas and picks up the tasks that other replicas queued.

**Shared executor (Ray).** Every replica reaches every cluster, so any replica takes mode
switches, direct I/O and tasks. The cluster's row is then the one truth: its ``mode`` (not a
lane of this process) says TASK or DIRECT, a claim locks the row and is refused while the
cluster is in DIRECT mode or another task of it is active (on any replica), and the replica
that claims (or switches the mode) becomes the holder, the replica that writes its autosave
and journal. The actor's lease still serialises each task and each direct-I/O step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from hanami.server.db.models import Cluster, Task
from hanami.server.db.session import Database
from hanami.server.errors import Conflict
from hanami.server.runtime.executor import ClusterExecutor
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.tasks import queue
from hanami.server.runtime.tasks.execution import execute
from hanami.server.runtime.tasks.progress import Control, Runner, TaskSnapshot
from hanami.server.runtime.tasks.recovery import discard_side_effects, recover
from hanami.server.runtime.tasks.remote import (
    INLINE_WAIT_S,
    held_elsewhere,
    holder_of,
    wait_until_done,
)
from hanami.server.runtime.tasks.states import ACTIVE, MODE_DIRECT, MODE_TASK, QUEUED

__all__ = ["TaskEngine"]

logger = logging.getLogger("hanami.server.runtime.tasks")


@dataclass
class _Lane:
    running: bool = False
    pending: bool = False
    mode: str = MODE_TASK
    deleted: bool = False


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
        replica_id: str | None = None,
    ) -> None:
        from hanami.server.runtime.tasks.runners import RUNNERS

        self.database = database
        self.executor = executor
        self.registry = registry
        self.workers = max(1, workers)
        self.runners = runners or RUNNERS
        self.replica_id = replica_id
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._lanes: dict[str, _Lane] = {}
        self.modes_changed = 0
        """Counts every change of a lane's mode here (and a lane's removal): what was read
        from :meth:`mode` still holds while it stays the same (a session's cached check)."""
        self._controls: dict[str, Control] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = False

    # ------------------------------------------------------------------ life cycle

    def start(self, clusters: Collection[str] | None = None) -> None:
        """Start the pool, then :meth:`adopt` the clusters (default: all)."""
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="HanamiTask")
        self._stopping = False
        self.adopt(clusters)

    def adopt(self, clusters: Collection[str] | None = None) -> None:
        """Deal with the tasks a crash interrupted on these clusters (just loaded), restore
        their modes, then start the lanes with queued tasks."""
        recover(self.database, self.executor, self.registry, clusters)
        with self.database.session() as session:
            query = select(Cluster.uuid, Cluster.mode)
            if clusters is not None:
                query = query.where(Cluster.uuid.in_(list(clusters)))
            with self._lock:
                for cluster_uuid, mode in session.execute(query):
                    # shared: the row's mode is read where needed, lanes stay TASK
                    self._lane(cluster_uuid).mode = MODE_TASK if self.executor.shared else mode
                self.modes_changed += 1
            queued = session.scalars(
                select(Task.cluster_uuid).where(Task.state == QUEUED).distinct()
            ).all()
        for cluster_uuid in queued:
            if clusters is None or cluster_uuid in clusters:
                self.kick(cluster_uuid)

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
        if inline and self.elsewhere(cluster_uuid):
            # another replica holds the cluster: it runs the task; answer when it is done
            wait_until_done(self.database, task_uuid, INLINE_WAIT_S)
            return
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
                if snapshot is not None and not queue.has_queued(self.database, cluster_uuid):
                    return  # a lane started for nothing would refuse set_mode DIRECT (409)
        self.kick(cluster_uuid)

    def kick(self, cluster_uuid: str) -> None:
        """Make sure the lane runs if it has queued tasks."""
        if self.elsewhere(cluster_uuid):
            return  # another replica holds it and runs its tasks
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

    def elsewhere(self, cluster_uuid: str) -> bool:
        """Whether another replica holds the cluster (and runs its tasks): never with a
        shared executor, where any replica may claim them."""
        if self.replica_id is None or self.executor.shared or self.executor.exists(cluster_uuid):
            return False
        return holder_of(self.database, cluster_uuid) != self.replica_id

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
            if self.executor.shared and not queue.take_for_task(session, cluster_uuid,
                                                                self.replica_id):  # fmt: skip
                return None
            task = queue.oldest_queued(session, cluster_uuid)
            if task is None or (only is not None and task.uuid != only):
                return None
            with self._lock:  # before the claim: a delete during it finds the control
                self._controls[task.uuid] = Control(task.uuid, cluster_uuid)
            if not queue.claim(session, task.uuid, self.replica_id):
                with self._lock:
                    self._controls.pop(task.uuid, None)
                return None
        if self.executor.shared:
            self.registry.own(cluster_uuid)
        return queue.snapshot(task)

    # ------------------------------------------------------------------ running

    def _execute(self, task: TaskSnapshot) -> None:
        control = self._controls[task.uuid]
        try:
            execute(self, task, control)
        finally:
            with self._lock:
                self._controls.pop(task.uuid, None)
            control.done.set()

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
                        discard_side_effects(session, task)
                    session.commit()
                    return
                session.rollback()
        control = self._controls.get(task_uuid)
        if control is not None:
            control.cancel.set()
            control.done.wait(wait)
        else:  # another replica runs it: it sees the request at its next progress write
            with self.database.session() as session:
                session.execute(update(Task).where(Task.uuid == task_uuid, Task.state == ACTIVE)
                                .values(cancel_requested=True))  # fmt: skip
                session.commit()
            wait_until_done(self.database, task_uuid, wait)

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
            self.modes_changed += 1

    def is_busy(self, cluster_uuid: str) -> bool:
        with self._lock:
            lane = self._lanes.get(cluster_uuid)
            return lane is not None and lane.running

    def mode(self, cluster_uuid: str) -> str:
        """The lane's mode; the row's where the lane is not here (a shared executor, or a
        cluster another replica holds)."""
        if self.executor.shared or not self.executor.exists(cluster_uuid):
            return queue.stored_mode(self.database, cluster_uuid)
        with self._lock:
            lane = self._lanes.get(cluster_uuid)
            return lane.mode if lane is not None else MODE_TASK

    def set_mode(self, cluster_uuid: str, mode: str) -> None:
        """Switch TASK <-> DIRECT; 409 unless coming from the other mode (DIRECT: lane idle).

        The mode is stored with the cluster's row and restored by :meth:`start`."""
        if self.elsewhere(cluster_uuid):
            raise Conflict(held_elsewhere(self.database, cluster_uuid))
        if self.executor.shared:
            if not queue.switch_mode(self.database, cluster_uuid, mode, self.replica_id):
                raise Conflict(f"Can not switch cluster to '{mode}'")
            self.registry.own(cluster_uuid)
        else:
            self._switch_lane(cluster_uuid, mode)
        if mode == MODE_TASK and queue.has_queued(self.database, cluster_uuid):
            # only then: a lane started for nothing would make the next inline save wait
            # (answered "queued") and a switch back to DIRECT fail (409)
            self.kick(cluster_uuid)

    def _switch_lane(self, cluster_uuid: str, mode: str) -> None:
        with self._lock:
            lane = self._lane(cluster_uuid)
            allowed = (
                lane.mode == MODE_TASK and not lane.running
                if mode == MODE_DIRECT
                else lane.mode == MODE_DIRECT
            )
            if not allowed:
                raise Conflict(f"Can not switch cluster to '{mode}'")
            queue.store_mode(self.database, cluster_uuid, mode)  # first: a restart keeps it
            lane.mode = mode
            self.modes_changed += 1

"""Tempfiles: pre-allocated upload targets that receive file chunks over websockets.

``POST dataset/upload/{mnist,csv}`` allocates one tempfile per file (a sparse file of the
declared size under ``tempfile_location`` plus a ``tempfiles`` row); the websocket upload
protocol (:mod:`hanami.server.websocket.file_upload`, spec 3.3) writes chunks into it; the
finalize endpoint converts the complete files into a dataset and removes the tempfiles.

Each tempfile's state lives in memory, in one server process
(:mod:`hanami.server.runtime.upload_handles`). A sweeper thread removes tempfiles idle for
longer than the configured timeout (the original never started its clean-up thread, B9),
together with the upload's dataset row when the dataset was never finalized. Upload
progress does not survive a restart, so start-up removes every tempfile left from a
previous run (rows and files) and the unfinalized upload datasets they belonged to.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from hanami.server.db.models import Dataset, Tempfile
from hanami.server.db.session import Database
from hanami.server.errors import Conflict, NotFound
from hanami.server.runtime.upload_handles import UploadError, UploadHandle
from hanami.server.security.auth import Principal
from hanami.server.security.tenancy import owner_fields

__all__ = ["UPLOAD_KINDS", "UploadRegistry", "dataset_is_finalized"]

logger = logging.getLogger("hanami.server.runtime.uploads")

UPLOAD_KINDS = ("mnist", "csv")
"""``datasets.kind`` values of datasets created by an upload (swept when abandoned)."""


def dataset_is_finalized(dataset: Dataset | Row[Any]) -> bool:
    """True once the dataset file exists (uploads publish it atomically at finalize)."""
    return bool(dataset.location) and Path(dataset.location).is_file()


class _KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class UploadRegistry:
    """All tempfiles of this server process; thread-safe.

    ``timeout`` is the idle time in seconds after which a tempfile is removed; the sweeper
    checks every ``sweep_interval`` seconds (default: a quarter of the timeout, at most 30).
    """

    def __init__(
        self,
        directory: Path,
        database: Database,
        timeout: float,
        *,
        sweep_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.database = database
        self.timeout = float(timeout)
        self.sweep_interval = sweep_interval or min(max(self.timeout / 4, 0.1), 30.0)
        self.clock = clock
        self._handles: dict[str, UploadHandle] = {}
        self._lock = threading.Lock()
        self._dataset_locks = _KeyedLocks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self, *, purge: bool = True) -> None:
        """Remove what a previous run left behind (``purge``: not while other replicas may
        be receiving uploads), then start the sweeper thread."""
        if purge:
            self.purge_stale()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="hanami-tempfile-sweeper", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.sweep_interval):
            try:
                self.sweep()
            except Exception:  # pragma: no cover - keep sweeping after a database hiccup
                logger.exception("tempfile sweep failed")

    # ------------------------------------------------------------------ allocation

    def allocate(
        self, session: Session, principal: Principal, dataset_uuid: str, name: str, size: int
    ) -> Tempfile:
        """Create a sparse file of ``size`` bytes and its row (added to ``session``, not
        committed). If the commit fails, call :meth:`forget` with the returned uuid."""
        tempfile_uuid = str(uuid.uuid4())
        path = self.directory / tempfile_uuid
        self.directory.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as file:
            file.truncate(size)
        row = Tempfile(
            uuid=tempfile_uuid,
            name=name,
            related_resource_type="dataset",
            related_resource_uuid=dataset_uuid,
            file_size=size,
            location=str(path),
            **owner_fields(principal),
        )
        session.add(row)
        handle = UploadHandle(
            uuid=tempfile_uuid,
            dataset_uuid=dataset_uuid,
            owner_id=principal.user_id,
            project_id=principal.project_id,
            size=size,
            path=path,
            last_activity=self.clock(),
        )
        with self._lock:
            self._handles[tempfile_uuid] = handle
        return row

    def get(self, tempfile_uuid: str) -> UploadHandle | None:
        with self._lock:
            return self._handles.get(tempfile_uuid)

    def handles_of(self, dataset_uuid: str) -> list[UploadHandle]:
        with self._lock:
            return [h for h in self._handles.values() if h.dataset_uuid == dataset_uuid]

    # ------------------------------------------------------------------ websocket side

    def attach(self, tempfile_uuid: str, principal: Principal) -> UploadHandle:
        """Lock a tempfile for one websocket; only its owner, in its project, may attach."""
        not_found = NotFound(f"Tempfile with UUID '{tempfile_uuid}' not found")
        with self._lock:
            handle = self._handles.get(tempfile_uuid)
            if (
                handle is None
                or handle.owner_id != principal.user_id
                or handle.project_id != principal.project_id
            ):
                raise not_found
            if handle.attached:
                raise Conflict(
                    f"Tempfile with UUID '{tempfile_uuid}' is already attached to another websocket"
                )
            if handle.claimed:
                raise Conflict(f"Tempfile with UUID '{tempfile_uuid}' is being finalized")
            handle.attached = True
            handle.last_activity = self.clock()
        return handle

    def detach(self, handle: UploadHandle) -> None:
        with self._lock:
            handle.attached = False
            handle.last_activity = self.clock()

    def write(self, handle: UploadHandle, position: int, data: bytes) -> None:
        """Write one chunk at ``position``; the whole chunk must lie inside the file."""
        end = position + len(data)
        if end > handle.size:
            raise UploadError(
                f"Chunk at position {position} with {len(data)} bytes ends at byte {end}, "
                f"beyond the declared size of {handle.size} bytes"
            )
        with handle.lock:
            if handle.removed:
                raise UploadError(f"Tempfile with UUID '{handle.uuid}' no longer exists")
            if handle.claimed:
                raise UploadError(f"Tempfile with UUID '{handle.uuid}' is being finalized")
            if data:
                try:
                    fd = os.open(handle.path, os.O_WRONLY)
                    try:
                        view = memoryview(data)
                        while view:
                            written = os.pwrite(fd, view, position)
                            view, position = view[written:], position + written
                    finally:
                        os.close(fd)
                except OSError as exc:
                    logger.error("writing tempfile %s failed: %s", handle.uuid, exc)
                    raise UploadError("Failed to write data to disc") from exc
                handle.mark(end - len(data), end)
            handle.last_activity = self.clock()

    # ------------------------------------------------------------------ finalize side

    @contextlib.contextmanager
    def dataset_lock(self, dataset_uuid: str) -> Iterator[None]:
        """Serialise finalize, delete and expiry of one dataset."""
        with self._dataset_locks.hold(dataset_uuid):
            yield

    @contextlib.contextmanager
    def claim(self, handles: Iterable[UploadHandle]) -> Iterator[None]:
        """Stop writes and expiry on ``handles`` while the block runs (a finalize)."""
        taken: list[UploadHandle] = []
        try:
            for handle in handles:
                with handle.lock:
                    if handle.removed:
                        raise NotFound(f"Tempfile with uuid '{handle.uuid}' not found")
                    if handle.claimed:
                        raise Conflict(
                            f"Tempfile with uuid '{handle.uuid}' is already being finalized"
                        )
                    handle.claimed = True
                taken.append(handle)
            yield
        finally:
            for handle in taken:
                with handle.lock:
                    handle.claimed = False
                    handle.last_activity = self.clock()

    def forget(self, tempfile_uuids: Iterable[str]) -> None:
        """Drop handles and delete files (the rows are the caller's business)."""
        for tempfile_uuid in tempfile_uuids:
            with self._lock:
                handle = self._handles.pop(tempfile_uuid, None)
            if handle is None:
                (self.directory / tempfile_uuid).unlink(missing_ok=True)
                continue
            with handle.lock:
                handle.removed = True
            handle.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ clean-up

    def sweep(self) -> list[str]:
        """Remove tempfiles idle for longer than the timeout; returns their uuids."""
        now = self.clock()
        with self._lock:
            expired = [
                h
                for h in self._handles.values()
                if not h.claimed and now - h.last_activity > self.timeout
            ]
        removed: list[str] = []
        for dataset_uuid in {h.dataset_uuid for h in expired}:
            with self.dataset_lock(dataset_uuid):
                victims = [
                    h
                    for h in expired
                    if h.dataset_uuid == dataset_uuid
                    and not h.claimed
                    and self.clock() - h.last_activity > self.timeout
                ]
                if not victims:
                    continue
                uuids = [h.uuid for h in victims]
                with self.database.session() as session:
                    session.execute(delete(Tempfile).where(Tempfile.uuid.in_(uuids)))
                    self._drop_abandoned_dataset(session, dataset_uuid)
                    session.commit()
                self.forget(uuids)
                removed.extend(uuids)
                logger.info(
                    "removed %d idle tempfile(s) of dataset %s after %.1f s",
                    len(uuids),
                    dataset_uuid,
                    self.timeout,
                )
        return removed

    def purge_stale(self) -> None:
        """Remove tempfiles (rows and files) left by a previous run of the server."""
        with self._lock:
            live = set(self._handles)
        with self.database.session() as session:
            rows = [r for r in session.scalars(select(Tempfile)) if r.uuid not in live]
            datasets = {r.related_resource_uuid for r in rows}
            for row in rows:
                session.delete(row)
            session.flush()
            for dataset_uuid in datasets:
                self._drop_abandoned_dataset(session, dataset_uuid)
            session.commit()
        for row in rows:
            Path(row.location).unlink(missing_ok=True)
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if path.is_file() and path.name not in live and _is_uuid(path.name):
                    path.unlink(missing_ok=True)
        if rows:
            logger.info("removed %d tempfile(s) left from a previous run", len(rows))

    def _drop_abandoned_dataset(self, session: Session, dataset_uuid: str) -> None:
        """Delete an upload dataset that was never finalized and has no tempfiles left."""
        dataset = session.get(Dataset, dataset_uuid)
        if dataset is None or dataset.kind not in UPLOAD_KINDS or dataset_is_finalized(dataset):
            return
        remaining = session.scalar(
            select(Tempfile.uuid).where(Tempfile.related_resource_uuid == dataset_uuid).limit(1)
        )
        if remaining is None:
            session.delete(dataset)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False

"""Per-project quotas: stored bytes, datasets, clusters and uploads in progress.

Checked where those are created, inside the creating transaction and after its new rows
are flushed: on SQLite the flushed insert holds the database's write lock until the commit,
on PostgreSQL a per-project advisory lock does, so concurrent requests (in any process)
cannot all pass on the same count. Stored bytes are the files of the project's datasets
and checkpoints plus the declared sizes of its unfinished uploads; a new upload's declared
size must fit in what is left. Streamed uploads (multipart, checkpoint files) are checked
on their ``Content-Length`` before they are read, and again once stored.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from hanami.server.config import ServerSettings
from hanami.server.db.models import Checkpoint, Cluster, Dataset, Tempfile
from hanami.server.db.session import Database
from hanami.server.errors import Conflict, PayloadTooLarge, TooManyRequests

__all__ = ["Quotas"]

UPLOAD_RETRY_AFTER = 10
"""Retry-After of a refused upload: a guess, uploads end when finished or abandoned."""


def _lock_key(project_id: str) -> int:
    digest = hashlib.sha256(f"hanami-quota:{project_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # not written yet (unfinished upload, queued request) or gone
        return 0


class Quotas:
    """The limits of every project (0 = none) and this process's streamed uploads."""

    def __init__(self, database: Database, settings: ServerSettings) -> None:
        self.database = database
        self.storage_bytes = settings.project_max_storage_bytes
        self.datasets = settings.project_max_datasets
        self.clusters = settings.project_max_clusters
        self.uploads = settings.project_max_uploads
        self._streams: Counter[str] = Counter()
        self._lock = threading.Lock()

    def check(
        self,
        session: Session,
        project_id: str,
        *,
        storage: int | None = None,
        datasets: bool = False,
        clusters: bool = False,
        upload: bool = False,
    ) -> None:
        """Raise unless the project, with the new rows of ``session``, stays in its quotas.

        ``storage``: bytes about to be stored that no row or file counts yet (0: just check
        what is stored); ``upload``: this starts an upload.
        """
        session.flush()
        if not self.database.is_sqlite:
            session.execute(select(func.pg_advisory_xact_lock(_lock_key(project_id))))
        for wanted, model, limit, what in (
            (datasets, Dataset, self.datasets, "datasets"),
            (clusters, Cluster, self.clusters, "clusters"),
        ):
            if not (wanted and limit):
                continue
            count = session.scalar(
                select(func.count()).select_from(model).where(model.project_id == project_id)
            )
            if (count or 0) > limit:  # the new row is counted
                raise Conflict(
                    f"Project '{project_id}' has reached its quota of {limit} {what}; "
                    "delete some first"
                )
        if upload:
            self._check_uploads(session, project_id)
        if storage is not None:
            self._check_storage(session, project_id, storage)

    @asynccontextmanager
    async def streaming(self, project_id: str, request: Request) -> AsyncIterator[None]:
        """Hold an upload slot while the body of ``request`` is streamed in; refuse it at
        once if its ``Content-Length`` does not fit."""
        declared = request.headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else 0
        await anyio.to_thread.run_sync(self._start_stream, project_id, size)
        try:
            yield
        finally:
            with self._lock:
                self._streams[project_id] -= 1

    def _start_stream(self, project_id: str, declared: int) -> None:
        with self.database.session() as session, self._lock:
            self._check_storage(session, project_id, declared)
            self._check_uploads(session, project_id)
            self._streams[project_id] += 1

    def _check_uploads(self, session: Session, project_id: str) -> None:
        if not self.uploads:
            return
        unfinished = session.scalar(
            select(func.count(func.distinct(Tempfile.related_resource_uuid))).where(
                Tempfile.project_id == project_id
            )
        )
        running = (unfinished or 0) + self._streams[project_id]
        if running >= self.uploads:
            raise TooManyRequests(
                f"Project '{project_id}' has {running} uploads in progress, its quota; "
                "finish or delete one first",
                retry_after=UPLOAD_RETRY_AFTER,
            )

    def _check_storage(self, session: Session, project_id: str, new: int) -> None:
        if not self.storage_bytes:
            return
        used = self.storage_used(session, project_id)
        if used + new > self.storage_bytes:
            raise PayloadTooLarge(
                f"Storage quota of project '{project_id}' exceeded: {used} of "
                f"{self.storage_bytes} bytes used, {new} more requested"
            )

    @staticmethod
    def storage_used(session: Session, project_id: str) -> int:
        """Bytes of the project's dataset and checkpoint files and unfinished uploads."""
        pending = session.scalar(
            select(func.coalesce(func.sum(Tempfile.file_size), 0)).where(
                Tempfile.project_id == project_id
            )
        )
        files: list[str] = [
            *session.scalars(select(Dataset.location).where(Dataset.project_id == project_id)),
            *session.scalars(
                select(Checkpoint.location).where(Checkpoint.project_id == project_id)
            ),
        ]
        return int(pending or 0) + sum(_file_size(path) for path in files if path)

"""Start-up clean-up of the dataset and checkpoint folders after a crash.

Files are published atomically (written under a temp name, fsynced, renamed) and their row
is committed right after, so a crash can leave two kinds of debris that nobody would ever
remove:

- **temp files** (``.<name>.<random>.tmp``: dataset writers, checkpoint saves, checkpoint
  uploads) of a write that never finished;
- **orphans**: a complete file under its final name (``<uuid>`` in the dataset folder,
  ``<uuid>.ckpt`` in the checkpoint folder) whose row was never committed.

:func:`sweep_storage` removes both. It runs once at start-up, before the task engine starts,
while nothing else writes to these folders (one server process per data folder). Files that
a row or a waiting task still refers to are kept, and so is anything not named like
something the service writes. Tempfiles of uploads are cleaned by
:meth:`hanami.server.runtime.uploads.UploadRegistry.purge_stale`, cluster autosaves by
:meth:`hanami.server.runtime.registry.ClusterRegistry.restore_all`.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from sqlalchemy import select

from hanami.server.db.models import Checkpoint, Dataset, Task
from hanami.server.db.session import Database

__all__ = ["sweep_storage"]

logger = logging.getLogger("hanami.server.runtime.storage")


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _resolved(location: str | None) -> Path | None:
    return Path(location).resolve() if location else None


def sweep_storage(database: Database, dataset_dir: Path, checkpoint_dir: Path) -> list[Path]:
    """Remove temp files and orphans left by a crash; returns what was removed."""
    with database.session() as session:
        keep = {_resolved(loc) for loc in session.scalars(select(Dataset.location))}
        keep |= {_resolved(loc) for loc in session.scalars(select(Checkpoint.location))}
        for parameters in session.scalars(
            select(Task.parameters).where(Task.state.in_(("queued", "active")))
        ):
            for key in ("location", "result_location"):
                keep.add(_resolved((parameters or {}).get(key)))
    removed: list[Path] = []
    for directory, orphan in (
        (dataset_dir, _is_uuid),
        (checkpoint_dir, lambda name: name.endswith(".ckpt") and _is_uuid(name[:-5])),
    ):
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            name = path.name
            temp = name.startswith(".") and name.endswith(".tmp")
            if not (temp or orphan(name)) or not path.is_file() or path.resolve() in keep:
                continue
            path.unlink(missing_ok=True)
            removed.append(path)
    for path in removed:
        logger.warning("removed %s, left behind by an interrupted write", path)
    return removed

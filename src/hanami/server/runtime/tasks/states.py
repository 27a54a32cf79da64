"""Task states, task types and cluster modes, as the ``tasks`` and ``clusters`` rows store
them and the API shows them."""

from __future__ import annotations

__all__ = [
    "ABORTED",
    "ACTIVE",
    "CHECKPOINT_RESTORE",
    "CHECKPOINT_SAVE",
    "FAILED",
    "FINISHED",
    "FINISHED_STATES",
    "MODE_DIRECT",
    "MODE_TASK",
    "QUEUED",
    "REQUEST",
    "TRAIN",
]

QUEUED, ACTIVE, FINISHED, ABORTED, FAILED = "queued", "active", "finished", "aborted", "failed"
FINISHED_STATES = frozenset({FINISHED, ABORTED, FAILED})
MODE_TASK, MODE_DIRECT = "TASK", "DIRECT"

TRAIN, REQUEST = "train", "request"
CHECKPOINT_SAVE, CHECKPOINT_RESTORE = "checkpoint_save", "checkpoint_restore"

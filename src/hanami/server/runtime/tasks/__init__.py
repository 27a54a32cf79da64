"""Task engine: persistent per-cluster queues, runners for the four task types.

See :mod:`hanami.server.runtime.tasks.engine` for states, lanes, cancellation and restarts, and
:mod:`hanami.server.runtime.tasks.data` for how ``time_length`` windows are read.
"""

from hanami.server.runtime.tasks.data import Binding, WindowSource, window_count
from hanami.server.runtime.tasks.engine import (
    ABORTED,
    ACTIVE,
    CHECKPOINT_RESTORE,
    CHECKPOINT_SAVE,
    FAILED,
    FINISHED,
    FINISHED_STATES,
    MODE_DIRECT,
    MODE_TASK,
    QUEUED,
    REQUEST,
    TRAIN,
    TaskEngine,
)

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
    "Binding",
    "TaskEngine",
    "WindowSource",
    "window_count",
]

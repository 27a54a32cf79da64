"""Task engine: persistent per-cluster queues, runners for the four task types.

See :mod:`hanami.server.runtime.tasks.engine` for lanes and cancellation, ``execution`` for
one task's run, ``recovery`` for restarts, ``progress`` for what a runner sees, and
:mod:`hanami.server.runtime.tasks.data` for how ``time_length`` windows are read.
"""

from hanami.server.runtime.tasks.data import Binding, WindowSource, window_count
from hanami.server.runtime.tasks.engine import TaskEngine
from hanami.server.runtime.tasks.states import (
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

"""Only for :mod:`hanami.server.metrics`, which imports the executor from here and is
being moved by another change: the executor is :mod:`hanami.server.runtime.executor`.
Delete this module once metrics imports that."""

from hanami.server.runtime.executor import ClusterExecutor, ClusterNotFound

__all__ = ["ClusterExecutor", "ClusterNotFound"]

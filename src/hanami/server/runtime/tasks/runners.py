"""What each task type does; every runner works in chunks and calls ``run.advance``.

Task parameters (the ``parameters`` JSON of the row, written by the task endpoints):

``train``               ``inputs``/``outputs`` (bindings with ``location``), ``epochs``,
                        ``shuffle``, ``seed``, ``cycles_per_epoch``
``request``             ``inputs``, ``results`` (``hexagon_name``, ``dataset_column``),
                        ``result_location``
``checkpoint_save``     ``checkpoint_name``, ``location``
``checkpoint_restore``  ``checkpoint_uuid``, ``location``, ``temporary_copy``
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import update

from hanami.core import CheckpointError
from hanami.datasets import DatasetWriter
from hanami.server.db.models import Checkpoint, Cluster, Dataset
from hanami.server.runtime.tasks.data import Binding, WindowSource
from hanami.server.runtime.tasks.progress import ChunkSizer, Runner, TaskRun, TaskSuspended
from hanami.server.runtime.tasks.states import (
    CHECKPOINT_RESTORE,
    CHECKPOINT_SAVE,
    REQUEST,
    TRAIN,
)

__all__ = ["RUNNERS", "epoch_order"]


def _bindings(items: list[dict[str, Any]]) -> list[Binding]:
    return [Binding.from_json(item) for item in items]


def epoch_order(seed: int, epoch: int, windows: int) -> np.ndarray:
    """The shuffled window order of one epoch (the same after a restart)."""
    return np.random.default_rng([seed, epoch]).permutation(windows)


def run_train(run: TaskRun) -> None:
    params = run.params
    source = WindowSource(
        _bindings(params["inputs"]), _bindings(params["outputs"]), run.task.time_length
    )
    per_epoch = int(params["cycles_per_epoch"])
    if source.windows < per_epoch:
        raise ValueError(f"the datasets shrank: {source.windows} windows instead of {per_epoch}")
    epochs = int(params.get("epochs", 1))
    shuffle = bool(params.get("shuffle", False))
    seed = int(params.get("seed", 0))
    total = per_epoch * epochs
    cycle = min(run.task.current_cycle, total)
    sizer = ChunkSizer()
    order: tuple[int, np.ndarray] | None = None
    while cycle < total:
        started = time.monotonic()
        epoch, offset = divmod(cycle, per_epoch)
        n = min(sizer.size, per_epoch - offset)
        index: slice | np.ndarray
        if shuffle:
            if order is None or order[0] != epoch:
                order = (epoch, epoch_order(seed, epoch, per_epoch))
            index = order[1][offset : offset + n]
        else:
            index = slice(offset, offset + n)
        stats = run.executor.train(run.cluster_uuid, source.inputs(index),
                                   source.expected(index))  # fmt: skip
        seconds = time.monotonic() - started
        sizer.update(n, seconds)
        cycle += n
        run.advance(cycle, n, seconds, stats)


def run_request(run: TaskRun) -> None:
    params = run.params
    source = WindowSource(_bindings(params["inputs"]), [], run.task.time_length)
    results = [(r["hexagon_name"], r["dataset_column"]) for r in params["results"]]
    windows = source.windows
    location = Path(params["result_location"])
    writer: DatasetWriter | None = None
    sizer = ChunkSizer()
    cycle = 0
    try:
        while cycle < windows:
            started = time.monotonic()
            n = min(sizer.size, windows - cycle)
            outputs = run.executor.request(run.cluster_uuid, source.inputs(slice(cycle, cycle + n)))
            blocks = [np.asarray(outputs[name], dtype=np.float32) for name, _ in results]
            if writer is None:
                description, start = {}, 0
                for (_, column), block in zip(results, blocks, strict=True):
                    description[column] = {"column_start": start,
                                           "column_end": start + block.shape[1]}  # fmt: skip
                    start += block.shape[1]
                writer = DatasetWriter(location, description, windows, np.float32,
                                       name=run.task.name)  # fmt: skip
            writer.write_rows(cycle, np.hstack(blocks))
            seconds = time.monotonic() - started
            sizer.update(n, seconds)
            cycle += n
            run.advance(cycle, n, seconds)
        if writer is None:
            raise ValueError("the request produced no rows")
        writer.commit()
        writer = None
        with run.database.session() as session:
            if session.get(Dataset, run.task.uuid) is None:  # deleted while running
                location.unlink(missing_ok=True)
    except BaseException as exc:
        if writer is not None:
            writer.abort()
        if not isinstance(exc, TaskSuspended):
            with run.database.session() as session:
                dataset = session.get(Dataset, run.task.uuid)
                if dataset is not None and dataset.kind == "request_result":
                    session.delete(dataset)
                    session.commit()
        raise


def run_checkpoint_save(run: TaskRun) -> None:
    params = run.params
    path = Path(params["location"])
    run.executor.save(run.cluster_uuid, path)
    try:
        with run.database.session() as session:
            session.add(
                Checkpoint(
                    uuid=run.task.uuid,
                    name=params["checkpoint_name"],
                    owner_id=run.task.owner_id,
                    project_id=run.task.project_id,
                    visibility="private",
                    cluster_uuid=run.cluster_uuid,
                    location=str(path),
                )
            )
            session.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    run.advance(1, 1, 0.0)


def run_checkpoint_restore(run: TaskRun) -> None:
    params = run.params
    path = Path(params["location"])
    try:
        if not path.is_file():
            raise ValueError("the checkpoint file is gone (was the checkpoint deleted?)")
        try:
            info = run.executor.restore(run.cluster_uuid, path)
        except CheckpointError as exc:
            raise ValueError(
                "the checkpoint cannot be restored: " + str(exc).replace(str(path), "file")
            ) from None
        with run.database.session() as session:
            session.execute(
                update(Cluster).where(Cluster.uuid == run.cluster_uuid).values(
                    template=info.template)
            )  # fmt: skip
            session.commit()
    finally:
        if params.get("temporary_copy"):
            path.unlink(missing_ok=True)
    run.write_progress(1)


RUNNERS: dict[str, Runner] = {
    TRAIN: run_train,
    REQUEST: run_request,
    CHECKPOINT_SAVE: run_checkpoint_save,
    CHECKPOINT_RESTORE: run_checkpoint_restore,
}

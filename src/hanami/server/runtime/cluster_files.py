"""How a cluster comes back from its files after a restart, an adoption or a lost Ray node:
its autosave (else its template, untrained), then the steps of its journal replayed on top;
and how a cluster that outlived the replica journaling its steps (a Ray actor) gets the
steps it had not received yet. The registry decides what happens next (autosave or keep
journaling)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hanami.core import CheckpointError
from hanami.core.checkpoint import read_digest
from hanami.server.runtime.executor import ClusterExecutor
from hanami.server.runtime.journal import TRAIN_STEP, base_of, replayable

__all__ = ["Replay", "catch_up", "load_cluster", "replay_journal"]

logger = logging.getLogger("hanami.server.clusters")


def load_cluster(
    executor: ClusterExecutor, cluster_uuid: str, path: Path, template: str | None
) -> tuple[bytes, int] | None:
    """Load the autosave at ``path`` (its SHA-256 and the cluster's revision), else build the
    cluster from ``template`` (None: nothing loaded from an autosave)."""
    if path.is_file():
        try:
            digest = read_digest(path)
            info = executor.load(cluster_uuid, path)
            logger.info("cluster %s restored from %s", cluster_uuid, path)
            return digest, info.revision
        except (CheckpointError, OSError, ValueError) as exc:
            logger.error("cluster %s: autosave %s unreadable: %s", cluster_uuid, path, exc)
    if template is None:
        logger.error("cluster %s has neither an autosave nor a template", cluster_uuid)
        return None
    try:
        executor.create(cluster_uuid, template)
    except ValueError as exc:
        logger.error("cluster %s: template does not build: %s", cluster_uuid, exc)
        return None
    logger.warning("cluster %s had no autosave; rebuilt untrained from its template", cluster_uuid)
    return None


@dataclass(frozen=True)
class Replay:
    applied: int  # steps applied
    other: int  # steps that build on another autosave (not applied)
    end: int  # journal offset after the intact records
    damaged: bool  # acknowledged steps were lost


def replay_journal(
    executor: ClusterExecutor, cluster_uuid: str, path: Path, digest: bytes | None
) -> Replay:
    """Apply the journal's steps that build on the autosave with SHA-256 ``digest``."""
    steps, other, end = replayable(path, digest)
    applied, damaged = 0, False
    try:
        for step, position in steps:
            if step.kind == TRAIN_STEP:  # the position lets a later catch_up skip it
                executor.queue_train(cluster_uuid, step.inputs, step.expected, position)
            else:
                executor.request(cluster_uuid, step.inputs)
            applied += 1
    except Exception as exc:  # a bad record must not keep the server from starting
        logger.error("cluster %s: journal step %d cannot be replayed: %s", cluster_uuid,
                     applied + 1, exc)  # fmt: skip
        damaged = True
    if other and digest is None:
        logger.error("cluster %s: %d journaled steps lost with the autosave they built on",
                     cluster_uuid, other)  # fmt: skip
        damaged = True
    if applied:
        logger.info("cluster %s: %d journaled steps replayed", cluster_uuid, applied)
    return Replay(applied, other, end, damaged)


def catch_up(executor: ClusterExecutor, cluster_uuid: str, path: Path, autosave: Path) -> int:
    """Queue the journaled train steps the cluster has not applied (past its
    ``journal_position``) and return how many: the replica that acknowledged them died
    before its pipe sent them (:mod:`hanami.server.runtime.ray_pipe`). Request steps are
    never behind: they run before their record is written. Call it holding the cluster."""
    try:
        digest = read_digest(autosave)
    except (CheckpointError, OSError):
        return 0  # no autosave, no journal on top of it
    last = executor.journal_position(cluster_uuid)
    done = last[1] if last is not None and last[0] == base_of(digest) else 0
    steps, _, _ = replayable(path, digest)
    queued = 0
    for step, position in steps:
        if step.kind == TRAIN_STEP and position[1] > done:
            executor.queue_train(cluster_uuid, step.inputs, step.expected, position)
            queued += 1
    if queued:
        logger.warning("cluster %s: %d acknowledged steps caught up from its journal",
                       cluster_uuid, queued)  # fmt: skip
    return queued

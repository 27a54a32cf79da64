"""In-process checks of the executor, the time windows and the chunk sizing (no server)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from cluster_helpers import TEMPLATE
from sqlalchemy import select

from hanami.core import TemplateError
from hanami.datasets import write_dataset
from hanami.server.db import Cluster as ClusterRow
from hanami.server.db import Database, Task, upgrade
from hanami.server.runtime.executor import (
    ClusterBusy,
    ClusterExecutor,
    ClusterNotFound,
    InProcessExecutor,
)
from hanami.server.runtime.registry import ClusterRegistry
from hanami.server.runtime.tasks import (
    ACTIVE,
    CHECKPOINT_SAVE,
    FAILED,
    QUEUED,
    REQUEST,
    TRAIN,
    Binding,
    WindowSource,
    window_count,
)
from hanami.server.runtime.tasks.engine import TaskEngine
from hanami.server.runtime.tasks.progress import CHUNK_SECONDS, ChunkSizer
from hanami.server.runtime.tasks.recovery import CRASH_RESUMES, recover
from hanami.server.runtime.tasks.runners import epoch_order


@pytest.fixture
def executor():
    executor = InProcessExecutor()
    yield executor
    executor.close()


def _data(rows: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.random((rows, 6)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, :3].sum(1) > x[:, 3:].sum(1)).astype(int)]
    return x, y


def test_executor_contract(executor, tmp_path):
    assert isinstance(executor, ClusterExecutor)
    info = executor.create("c1", TEMPLATE)
    assert info.input_sizes == {"picture_hex": 0} and info.output_names == ["label_hex"]
    with pytest.raises(TemplateError):
        executor.create("c2", "version: 1\nhexagons:\n  x\n")
    x, y = _data()
    with pytest.raises(ValueError, match="train it first"):
        executor.request("c1", {"picture_hex": x})
    executor.train("c1", {"picture_hex": x}, {"label_hex": y})
    assert executor.revision("c1") == 1
    out = executor.request("c1", {"picture_hex": x})
    assert set(out) == {"label_hex"} and out["label_hex"].shape == (40, 2)
    assert executor.info("c1").metrics["samples_trained"] == 40

    path = tmp_path / "c1.ckpt"
    assert executor.save("c1", path) == 1
    executor.load("copy", path)
    np.testing.assert_allclose(executor.request("copy", {"picture_hex": x})["label_hex"],
                               out["label_hex"], rtol=1e-5)  # fmt: skip
    executor.create("c3", TEMPLATE)
    restored = executor.restore("c3", path)
    assert restored.output_sizes == {"label_hex": 2} and restored.revision == 1
    assert sorted(executor.uuids()) == ["c1", "c3", "copy"]

    executor.delete("c1")
    assert not executor.exists("c1")
    for call in (lambda: executor.info("c1"), lambda: executor.delete("c1"),
                 lambda: executor.request("c1", {"picture_hex": x})):  # fmt: skip
        with pytest.raises(ClusterNotFound):
            call()


def test_exclusive_serialises_one_cluster_only(executor):
    executor.create("a", TEMPLATE)
    executor.create("b", TEMPLATE)
    x, y = _data()
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with executor.exclusive("a"):
            executor.train("a", {"picture_hex": x}, {"label_hex": y})  # re-entrant
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert entered.wait(30)
    try:
        with pytest.raises(ClusterBusy), executor.exclusive("a", timeout=0.05):
            pass
        started = time.monotonic()
        info = executor.info("a")  # does not block on a busy cluster
        assert time.monotonic() - started < 1 and info.uuid == "a"
        executor.train("b", {"picture_hex": x}, {"label_hex": y})  # other clusters go on
    finally:
        release.set()
        thread.join()
    with executor.exclusive("a", timeout=1):
        pass


def test_time_windows(tmp_path):
    data = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    description = {"x": {"column_start": 0, "column_end": 2},
                   "y": {"column_start": 2, "column_end": 3}}  # fmt: skip
    write_dataset(tmp_path / "d", data, description)
    location = str(tmp_path / "d")
    source = WindowSource(
        [Binding("in", "d", "x", location)], [Binding("out", "d", "y", location)], 3
    )
    assert source.rows == 10 and source.windows == 8 == window_count(10, 3)
    window = source.inputs(slice(0, 2))["in"]
    # rows 0, 1, 2 concatenated oldest first; then rows 1, 2, 3
    np.testing.assert_array_equal(window[0], [0, 1, 3, 4, 6, 7])
    np.testing.assert_array_equal(window[1], [3, 4, 6, 7, 9, 10])
    # the expected value is the last row of the window
    np.testing.assert_array_equal(source.expected(slice(0, 2))["out"][:, 0], [8, 11])
    shuffled = source.inputs(np.array([5, 0]))["in"]
    np.testing.assert_array_equal(shuffled[1], window[0])
    np.testing.assert_array_equal(source.expected(np.array([7]))["out"], [[29]])
    assert window_count(2, 3) == 0


def test_epoch_order_is_reproducible():
    first = epoch_order(7, 0, 100)
    assert sorted(first.tolist()) == list(range(100))
    np.testing.assert_array_equal(first, epoch_order(7, 0, 100))
    assert not np.array_equal(first, epoch_order(7, 1, 100))


def test_chunk_sizer_targets_the_chunk_duration():
    sizer = ChunkSizer(initial=32)
    sizer.update(32, 0.001)
    assert sizer.size == 128  # grows at most 4x per chunk
    for _ in range(10):
        sizer.update(sizer.size, sizer.size / 1000)  # 1000 rows per second
    assert sizer.size == int(1000 * CHUNK_SECONDS)
    sizer.update(sizer.size, 100.0)
    assert sizer.size == 1


def test_recovery_after_a_crash_resumes_tasks_at_the_autosaved_cycle_at_most_twice(
    executor, tmp_path
):
    database = Database(f"sqlite:///{tmp_path}/tasks.db")
    upgrade(database)
    registry = ClusterRegistry(database, executor, tmp_path / "clusters")
    engine = TaskEngine(database, executor, registry)
    executor.create("c1", TEMPLATE)
    x, y = _data(40)
    executor.train("c1", {"picture_hex": x}, {"label_hex": y})  # the autosave holds 40 samples

    def task(uuid: str, kind: str, **parameters) -> Task:
        return Task(uuid=uuid, cluster_uuid="c1", project_id="p", owner_id="u", name=uuid,
                    task_type=kind, state=ACTIVE, current_cycle=90, total_number_of_cycles=100,
                    parameters=parameters)  # fmt: skip

    try:
        with database.session() as session:
            session.add(ClusterRow(uuid="c1", project_id="p", owner_id="u", name="c1"))
            session.add_all([
                # last started at cycle 50 with 30 samples learned: the autosave holds 60
                task("t1", TRAIN, started_at_cycle=50, started_at_samples=30),
                task("t2", TRAIN),  # never started in this version: from the beginning
                task("t3", REQUEST, crash_resumes=1),
                task("t4", TRAIN, crash_resumes=CRASH_RESUMES),  # it keeps crashing the server
                task("t5", CHECKPOINT_SAVE),  # its client saw the request fail
            ])  # fmt: skip
            session.commit()
        recover(engine.database, engine.executor, engine.registry)
        with database.session() as session:
            rows = {t.uuid: t for t in session.scalars(select(Task))}
        resumed = {u: (rows[u].state, rows[u].current_cycle) for u in ("t1", "t2", "t3")}
        assert resumed == {"t1": (QUEUED, 60), "t2": (QUEUED, 0), "t3": (QUEUED, 0)}
        assert rows["t3"].parameters["crash_resumes"] == 2
        for failed in ("t4", "t5"):
            assert rows[failed].state == FAILED
            assert rows[failed].error_message.startswith("Interrupted: the server stopped")
        assert "after 2 earlier crash(es)" in rows["t4"].error_message
    finally:
        database.dispose()

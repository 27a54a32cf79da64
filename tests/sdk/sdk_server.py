"""A real Hanami server for the SDK and CLI tests, plus data builders and route probes.

Shared by ``tests/sdk/conftest.py`` and ``tests/cli/conftest.py`` (which puts this folder on
``sys.path``). The server runs as ``python -m hanami.server`` on a free port of 127.0.0.1,
with the service tests' own ``server_process`` (``tests/server`` is put on ``sys.path``).

The probes tell whether the server has a route yet (``route_missing``); tests of routes that
are still being written are skipped with ``pytest.mark.skipif`` on them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import struct
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from hanami.core.templates import mnist_template
from hanami.sdk import HanamiClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from server_process import free_port as free_port
from server_process import server_env, serving

ADMIN_ID = "asdf"
ADMIN_NAME = "Test Admin"
ADMIN_PASSPHRASE = "asdfasdf"
TOKEN_KEY = "sdk-test-key-" + "k" * 40
MEMBER_PASSPHRASE = "member passphrase"

TEMPLATE = mnist_template(seed=11).to_text()

BAD_TEMPLATE = "version: 1\nhexagons:\n    1,1,1\ninputs:\n    in: 1,1,1\noutputs\n    out: 1,1,1\n"
"""Line 6 lacks the colon after ``outputs``; the parser reports line 7, column 5."""


Connect = Callable[..., HanamiClient]
"""``connect(address, **options)``: a client of the test's mode, the blocking client or the
async one behind a blocking wrapper (the ``connect`` fixture of ``tests/sdk/conftest.py``)."""


def unique(prefix: str) -> str:
    """A fresh id valid as user id, project id and name."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------- probes


@cache
def _api_routes() -> frozenset[tuple[str, str]]:
    """(method, path) of every route mounted under /v1.0alpha (from the routers' own
    route lists, which works whatever FastAPI does when it includes them)."""
    try:
        from hanami.server.api import main
    except Exception:  # a half-written route module must not break collection
        return frozenset()
    found = set()
    for router in getattr(main, "PROTECTED_ROUTERS", ()):
        for route in router.routes:
            for method in getattr(route, "methods", None) or ():
                found.add((method, f"{main.API_PREFIX}{getattr(route, 'path', '')}"))
    return frozenset(found)


def route_missing(method: str, path: str) -> bool:
    """True while the server has no ``method /v1.0alpha/<path>`` route."""
    return (method.upper(), f"/v1.0alpha/{path.lstrip('/')}") not in _api_routes()


def module_missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except ModuleNotFoundError:
        return True


def websocket_missing() -> bool:
    """True while the server has no websocket endpoint (uploads, direct I/O)."""
    if module_missing("hanami.server.websocket.endpoint"):
        return True
    app_source = Path(importlib.util.find_spec("hanami.server.app").origin).read_text()
    return "websocket" not in app_source


needs_clusters = pytest.mark.skipif(
    route_missing("POST", "cluster"), reason="the server has no cluster routes yet"
)
needs_tasks = pytest.mark.skipif(
    route_missing("POST", "task/train"), reason="the server has no task routes yet"
)
needs_datasets = pytest.mark.skipif(
    route_missing("GET", "dataset/all") or route_missing("POST", "dataset/upload"),
    reason="the server has no dataset routes (multipart upload) yet",
)
needs_websocket = pytest.mark.skipif(
    websocket_missing() or route_missing("POST", "dataset/upload/csv"),
    reason="the server has no websocket upload yet",
)
needs_direct_io = pytest.mark.skipif(
    websocket_missing() or module_missing("hanami.server.websocket.direct_io"),
    reason="the server has no direct cluster I/O yet",
)
needs_checkpoints = pytest.mark.skipif(
    route_missing("GET", "checkpoint/all") or route_missing("POST", "cluster/save"),
    reason="the server has no checkpoint routes yet",
)
needs_checkpoint_files = pytest.mark.skipif(
    route_missing("GET", "checkpoint/download") or route_missing("POST", "checkpoint/upload"),
    reason="the server has no checkpoint download/upload yet",
)
needs_hosts = pytest.mark.skipif(
    route_missing("GET", "host/all") or route_missing("GET", "power_consumption"),
    reason="the server has no host/measurement routes yet",
)


# ------------------------------------------------------------------------------------ data


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file for a uint8 array (images ``[n, rows, cols]`` or labels ``[n]``)."""
    data = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, code, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape)
    return header + data.tobytes()


def synthetic_digits(rows: int, seed: int = 0, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` uint8 pictures whose bright quadrant is the class (0-3), with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, rows).astype(np.uint8)
    pictures = rng.integers(0, 40, (rows, side, side)).astype(np.uint8)
    half = side // 2
    for i, label in enumerate(labels):
        r, c = divmod(int(label), 2)
        pictures[i, r * half : (r + 1) * half, c * half : (c + 1) * half] += 200
    return pictures, labels


def write_mnist(folder: Path, rows: int = 40, seed: int = 0) -> tuple[Path, Path]:
    images, labels = synthetic_digits(rows, seed)
    image_file, label_file = folder / f"images-{seed}.idx", folder / f"labels-{seed}.idx"
    image_file.write_bytes(idx_bytes(images))
    label_file.write_bytes(idx_bytes(labels))
    return image_file, label_file


def csv_text(rows: int = 60, seed: int = 0) -> str:
    """Columns ``x`` (0-1) and ``y`` (1 when x > 0.5)."""
    rng = np.random.default_rng(seed)
    x = rng.random(rows)
    lines = ["x,y", *(f"{v:.4f},{int(v > 0.5)}" for v in x)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- server


@dataclass(frozen=True)
class RunningServer:
    url: str
    data_dir: Path
    log_file: Path
    admin_id: str = ADMIN_ID
    admin_passphrase: str = ADMIN_PASSPHRASE
    token_key: str = TOKEN_KEY


@contextlib.contextmanager
def running_server(
    data_dir: Path,
    *,
    admin_id: str = ADMIN_ID,
    admin_passphrase: str = ADMIN_PASSPHRASE,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Start ``python -m hanami.server`` (SQLite in ``data_dir``; settings in ``extra_env``,
    ``HANAMI_<FIELD>``) and stop it afterwards."""
    env = server_env(
        admin_id=admin_id,
        admin_name=ADMIN_NAME,
        admin_passphrase=admin_passphrase,
        token_key=TOKEN_KEY,
        extra=extra_env,
    )
    with serving(data_dir, env) as url:
        yield RunningServer(
            url=url,
            data_dir=data_dir,
            log_file=data_dir / "server.log",
            admin_id=admin_id,
            admin_passphrase=admin_passphrase,
        )


def count_logins(client: HanamiClient, user_id: str) -> int:
    """``POST /token`` rows of ``user_id`` in the audit log: how often it logged in."""
    count, page = 0, 0
    while True:
        table = client.logs.audit(page, user_id=user_id)
        count += sum(
            r["endpoint"] == "v1.0alpha/token" and r["request_type"] == "POST"
            for r in table.records()
        )
        if len(table) < 100:
            return count
        page += 1

"""JIT flags for every engine kernel, kept in one place.

All kernels are compiled once and cached on disk (``cache=True``) and release the GIL
(``nogil=True``) so that several clusters can train at the same time on separate threads.

Numba checks a cached kernel against its own source file only, but a kernel's machine code
includes every kernel it calls, and the kernels live in several modules (the package
``hanami.core.kernels``, the constants of ``state.py``, the parameter record of
``profiles.py``). So every kernel's cache is stamped with a hash of all of
:data:`ENGINE_SOURCES`: changing any of them recompiles every kernel instead of running
callers with the old code of a changed callee.

The stamp also covers the Numba settings that change the code without changing Numba's own
cache key (:data:`CODEGEN_SETTINGS`): a kernel compiled under ``NUMBA_ENABLE_PROFILING=1``
(for a profiler) cannot be inlined into callers compiled later from its cache entry, so one
profiling run left the stream profile's RMSProp steps unvectorised for every later process
(wine's kernel 27 to 35 µs per row; docs/engine.md, Time per sample, seventh round).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numba
from numba.core import caching

JIT = {"nogil": True, "cache": True, "boundscheck": False, "error_model": "numpy"}

_CORE = Path(__file__).resolve().parent
ENGINE_SOURCES = (
    _CORE / "_jit.py", _CORE / "state.py", _CORE / "profiles.py", _CORE / "topology.py",
    *sorted((_CORE / "kernels").glob("*.py")),
)  # fmt: skip
CODEGEN_SETTINGS = ("ENABLE_PROFILING", "OPT", "DEBUGINFO_DEFAULT")  # numba.config names


@functools.cache
def engine_stamp() -> str:
    """Hash over the source of every file in :data:`ENGINE_SOURCES` and the values of
    :data:`CODEGEN_SETTINGS`."""
    digest = hashlib.sha256()
    for path in ENGINE_SOURCES:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in CODEGEN_SETTINGS:
        digest.update(f"{name}={getattr(numba.config, name)!r}\0".encode())
    return digest.hexdigest()


class _EngineStamp:
    """Cache-locator mixin: the freshness stamp is :func:`engine_stamp`."""

    def get_source_stamp(self) -> str:
        return engine_stamp()


def _locators() -> list[type]:
    # numba 0.60 spells these with a leading underscore
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    bases = [getattr(caching, n, None) or getattr(caching, f"_{n}") for n in names]
    return [type(f"Engine{b.__name__.lstrip('_')}", (_EngineStamp, b), {}) for b in bases]


class _EngineCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = _locators()


class _EngineFunctionCache(caching.FunctionCache):
    _impl_class = _EngineCacheImpl


def njit(func=None, **options):
    """``numba.njit`` with :data:`JIT`, cached under :func:`engine_stamp`."""
    if func is None:
        return functools.partial(njit, **options)
    dispatcher = numba.njit(**JIT, **options)(func)
    dispatcher._cache = _EngineFunctionCache(func)  # what Dispatcher.enable_caching sets
    return dispatcher

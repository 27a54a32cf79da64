"""Kernel caching: every kernel's cache is invalidated by a change to any engine source."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import numba
from numba.core.registry import CPUDispatcher

from hanami.core import _jit, state
from hanami.core import kernels as K


def _kernel_modules():
    for info in pkgutil.iter_modules(K.__path__, "hanami.core.kernels."):
        yield __import__(info.name, fromlist=["_"])


def test_every_kernel_module_is_an_engine_source():
    sources = set(_jit.ENGINE_SOURCES)
    assert {Path(m.__file__).resolve() for m in _kernel_modules()} <= sources
    assert Path(K.__file__).resolve() in sources


def test_every_kernel_is_cached_under_the_engine_stamp():
    dispatchers = [state.as_ref]
    for module in _kernel_modules():
        dispatchers += [v for v in vars(module).values() if isinstance(v, CPUDispatcher)]
    assert len(dispatchers) > 40
    for dispatcher in dispatchers:
        locator = dispatcher._cache._impl.locator
        assert locator.get_source_stamp() == _jit.engine_stamp(), dispatcher


def test_the_stamp_follows_the_settings_that_change_the_code(monkeypatch):
    """A kernel compiled for a profiler is not inlined into later callers, so it must not
    share its cache entry with the ordinary kernels (docs/engine.md, Time per sample)."""
    plain = _jit.engine_stamp.__wrapped__()
    for name in _jit.CODEGEN_SETTINGS:
        value = getattr(numba.config, name)
        monkeypatch.setattr(numba.config, name, 1 if value != 1 else 0)
        assert _jit.engine_stamp.__wrapped__() != plain, name
        monkeypatch.setattr(numba.config, name, value)
    assert _jit.engine_stamp.__wrapped__() == plain

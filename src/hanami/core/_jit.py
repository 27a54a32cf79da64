"""JIT flags for every engine kernel, kept in one place.

All kernels are compiled once and cached on disk (``cache=True``) and release the GIL
(``nogil=True``) so that several clusters can train at the same time on separate threads.
"""

from __future__ import annotations

import numba

JIT = {"nogil": True, "cache": True, "boundscheck": False, "error_model": "numpy"}

njit = numba.njit(**JIT)
# The per-sample steps take the whole cluster state; a call passes every buffer of it, so
# they are inlined at the Numba IR level into the sample loops.
njit_inline = numba.njit(inline="always", **JIT)

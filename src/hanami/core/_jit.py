"""JIT flags for every engine kernel, kept in one place.

All kernels are compiled once and cached on disk (``cache=True``) and release the GIL
(``nogil=True``) so that several clusters can train at the same time on separate threads.
"""

from __future__ import annotations

import numba

JIT = {"nogil": True, "cache": True, "boundscheck": False, "error_model": "numpy"}

njit = numba.njit(**JIT)

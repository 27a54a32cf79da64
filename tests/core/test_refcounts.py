"""Kernels run for every synapse created, split or stepped take no reference counts.

Numba counts a reference to each array argument of a kernel (an atomic add on entry and
one on exit) unless its pruning pass can drop the pair, which it cannot across a call to
another kernel, a branch on the array's last use, or a view made inside a loop; on wine
these counts were a fifth of the pass, most of them in the synapse creation and split
(docs/engine.md, Time per sample, eighteenth round).
"""

from __future__ import annotations

import re

import numba
import numpy as np
from engine_helpers import line_template

from hanami.core import Cluster, _jit
from hanami.core import kernels as K
from hanami.core.kernels import backward, borrow, lanes, structure, walks

F32 = np.float32


def _code(kernel, *args) -> str:
    """The LLVM code of ``kernel``'s own compiled function (compiled afresh: a kernel
    loaded from the cache has no IR to read)."""
    options = {k: v for k, v in _jit.JIT.items() if k != "cache"}
    fresh = numba.njit(**options)(kernel.py_func)
    fresh(*args)
    ir = fresh.inspect_llvm(fresh.signatures[0])
    name = kernel.py_func.__name__
    for match in re.finditer(r"^define [^\n]*?@(\S+?)\(", ir, re.M):
        if f"{len(name)}{name}B" in match.group(1) and "cpython" not in match.group(1):
            return ir[match.start() : ir.index("\n}\n", match.start())]
    raise AssertionError(f"no compiled function for {name}")


def _counts(kernel, *args) -> int:
    """Reference-count operations in ``kernel``'s own compiled function."""
    body = _code(kernel, *args)
    return body.count("@NRT_incref(") + body.count("@NRT_decref(")


def _section_arrays(syn: int = 8):
    sw, sb = np.zeros((4, syn), F32), np.ones((4, syn), F32)
    st_ = np.full((4, syn), 255, dtype=np.uint8)
    st_[1, :3] = [0, 1, 2]
    sc, sv = np.zeros((4, syn), dtype=np.uint8), np.zeros((4, syn), F32)
    return sw, sb, st_, sc, sv


def test_synapse_creation_and_split_take_no_reference_counts():
    sw, sb, st_, sc, sv = _section_arrays()
    meta = np.zeros(16, dtype=np.int64)
    created = (sw, sb, st_, sc, 1, meta, 3, F32(0.5), 7, np.int32(5), 0.1, True)
    assert _counts(structure.create_synapse, *created) == 0
    assert _counts(walks.split_room, sw, sb, st_, sc, sv, 1, 1) == 0
    assert _counts(walks.share_weight, sw, st_, 1, 1, F32(0.25), F32(1.0)) == 0


def test_long_sections_step_without_reference_counts_per_section():
    """update_block_default counts each array argument once per call, not per section."""
    sw, _, st_, sc, sv = _section_arrays(32)
    st_[:] = 0
    lst, c_stop = np.arange(4, dtype=np.int32), np.full(4, 20, dtype=np.uint8)
    c_src, c_kind = np.arange(4, dtype=np.int32), np.zeros(4, dtype=np.uint8)
    t_pot, t_delta, n_delta = np.ones(4, F32), np.ones(4, F32), np.zeros(8, F32)
    deltas = np.zeros(32, F32)
    args = (lst, 4, c_src, c_kind, c_stop, sw, st_, sc, sv, t_pot, t_delta, n_delta,
            F32(0.01), False, F32(0.9), F32(1e-3), True, F32(0.0), deltas, F32(0.0),
            F32(0.0))  # fmt: skip
    arrays = sum(isinstance(a, np.ndarray) for a in args)
    assert _counts(backward.update_block_default, *args) <= 2 * arrays


def test_block_step_compiles_into_the_hexagon_loop():
    """The per-block weight step is compiled into its hexagon's loop: a call would count
    each of its 12 array arguments on entry and exit, per block and row (docs/engine.md,
    Time per sample, nineteenth round)."""
    c = Cluster(line_template(), seed=11)
    x, y = np.linspace(0, 1, 8, dtype=F32)[:, None], np.zeros((8, 1), F32)
    c.train(x, y)
    ref, hidden = K.as_ref(c._state), 1
    deltas = np.zeros(c._state.s_w.shape[2], F32)
    stepped = _code(backward.update_hexagon_default, ref, c._params, hidden, deltas)
    called = re.findall(r"call [^\n]*?@(\S+?)\(", stepped)
    assert not [name for name in called if "update_block_default" in name]


def test_stream_walk_and_its_splits_compile_into_the_hexagon_loop():
    """With ``inline_walks`` (the stream profile) the training walk is compiled into the
    hexagon's loop, and the split's parts into the walk: each call copied its array
    arguments onto the stack and counted them (docs/engine.md, Time per sample,
    twenty-second round). The synapse creation stays a call."""
    c = Cluster(line_template(profile="stream"), seed=11)
    x, y = np.linspace(0, 1, 8, dtype=F32)[:, None], np.zeros((8, 1), F32)
    c.train(x, y)
    assert c._params.inline_walks
    walked = _code(walks.walk_sections_default, K.as_ref(c._state), c._params, 1, True)
    called = re.findall(r"call [^\n]*?@(\S+?)\(", walked)
    assert [name for name in called if "create_synapse" in name]  # the walk's own call
    assert not [name for name in called if "split_room" in name or "share_weight" in name]


def _increfs(body: str) -> list[str]:
    return re.findall(r"@NRT_incref\(([^)]*)\)", body)


def test_block_views_of_the_walk_and_the_step_are_borrowed():
    """The hexagon loops hand each block's views to the walk and the step without a
    meminfo (``borrow.borrowed``), so none is counted per block and row: main counted 43
    references in ``walk_sections_default`` and 20 in ``update_hexagon_default``
    (docs/engine.md, Time per sample, twenty-fourth round)."""
    c = Cluster(line_template(profile="stream"), seed=11)
    x, y = np.linspace(0, 1, 8, dtype=F32)[:, None], np.zeros((8, 1), F32)
    c.train(x, y)
    ref, deltas = K.as_ref(c._state), np.zeros(c._state.s_w.shape[2], F32)
    stepped = _code(backward.update_hexagon_default, ref, c._params, 1, deltas)
    assert all(a.startswith("ptr %arg.") for a in _increfs(stepped))  # S and deltas only
    walked = _increfs(_code(walks.walk_sections_default, ref, c._params, 1, True))
    assert len(walked) <= 2  # S and the random state


def test_request_walks_count_no_block_or_synapse_views():
    """The request walk and the lanes' walk hand each block's views, and ``_walk_block``
    its rows of ``lanes`` per section, lane and synapse, over borrowed: main counted the
    request walk's six views per block in ``walk_sections_default``, five in
    ``_walk_lanes`` and three views of ``lanes`` in ``_walk_block`` (docs/engine.md, Time
    per sample, twenty-fifth round)."""
    c = Cluster(line_template(), seed=11)
    x, y = np.linspace(0, 1, 8, dtype=F32)[:, None], np.zeros((8, 1), F32)
    c.train(x, y)
    ref, s = K.as_ref(c._state), c._state
    assert len(_increfs(_code(walks.walk_sections_default, ref, c._params, 1, False))) <= 2
    scratch, q = np.zeros((s.n_in.shape[0], lanes.LANES), F32), np.zeros(lanes.LANES, F32)
    walked = _increfs(_code(lanes._walk_lanes, ref, c._params, 1, scratch, q))
    assert all(a.startswith("ptr %arg.") for a in walked)  # S, lanes and q only
    block = (s.c_src[0], s.c_low[0], s.s_w[0], s.s_b[0], s.s_t[0], 4, 0, scratch, q, F32(0.1))
    stepped = _increfs(_code(lanes._walk_block, *block))
    assert len(stepped) == len(set(stepped))  # each argument once


def test_lanes_step_compiles_into_the_block_walk():
    """``lanes._step`` runs per synapse of a section walked in lanes: compiled into
    ``_walk_block``, not called (docs/engine.md, Time per sample, twenty-fifth round)."""
    c = Cluster(line_template(), seed=11)
    c.train(np.linspace(0, 1, 8, dtype=F32)[:, None], np.zeros((8, 1), F32))
    s = c._state
    scratch, q = np.zeros((s.n_in.shape[0], lanes.LANES), F32), np.zeros(lanes.LANES, F32)
    block = (s.c_src[0], s.c_low[0], s.s_w[0], s.s_b[0], s.s_t[0], 4, 0, scratch, q, F32(0.1))
    called = re.findall(r"call [^\n]*?@(\S+?)\(", _code(lanes._walk_block, *block))
    assert not [name for name in called if "5_step" in name]


def test_a_borrowed_view_is_the_array_without_its_meminfo():
    @numba.njit
    def write(a):
        v = borrow.borrowed(a[1])
        v[2] = 7.0
        return v.shape[0], v.strides[0]

    a = np.zeros((3, 4), F32)
    assert write(a) == (4, 4)
    assert a[1, 2] == 7.0 and a.sum() == 7.0

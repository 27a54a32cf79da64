"""Cluster state as structure-of-arrays NumPy buffers that grow by blocks.

There is no Python object per neuron, section or synapse. A cluster is:

* hexagons (``hx_*``), in template order, each with a list of neuron blocks and a list of
  connection blocks;
* neuron blocks of ``NPB`` neurons; neuron arrays are flat, a neuron's global id is
  ``block * NPB + slot``;
* connection blocks of ``SPB`` connections (one connection = one synapse section), each
  feeding one neuron block (``cb_nb``); synapses are ``[block, section, SYN]`` arrays;
* internal outputs (``o_*``) with the sparse read-out links of the classic profile.

Every buffer has spare capacity; :func:`grow` enlarges the buffers in Python between kernel
calls, and the kernels never allocate. Scalars the kernels update live in ``meta``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba.core import types
from numba.experimental import structref

UNUSED_TARGET = 255
TARGET_LIST_LEN = 86
OUTPUT_LINKS = 7

# meta slots
M_NB = 0  # neuron blocks in use
M_CB = 1  # connection blocks in use
M_SECTIONS = 2  # sections in use
M_CAPACITY_HIT = 3  # a structure change was skipped for lack of capacity
M_SAMPLES = 4  # training samples seen (drives the reduction interval)
M_PENDING = 5  # neurons waiting for a new section (default profile)
M_CREATED = 6  # synapses created (lifetime counter)
M_REMOVED = 7  # synapses removed by reduction (lifetime counter)
M_SPLITS = 8  # sections created by splits or chaining (lifetime counter)
META_LEN = 9

# hexagon flags
HX_INPUT = 1
HX_OUTPUT = 2
HX_BINARY = 4
HX_MATCH = 8

State = namedtuple(
    "State",
    [
        # hexagons
        "hx_flags", "hx_io", "hx_nnb", "hx_nb", "hx_ncb", "hx_cb", "hx_free", "hx_targets",
        # neuron blocks and neurons (flat, gid = nb * NPB + slot)
        "nb_hex", "nb_size",
        "n_in", "n_pot", "n_delta", "n_refr", "n_act", "n_use", "n_new", "n_newoff",
        # connection blocks and connections
        "cb_hex", "cb_nb", "cb_used", "cb_hi", "cb_nlist",
        "c_src", "c_list", "c_kind", "c_pos", "c_next", "c_stop",
        "c_low", "c_range", "c_tol", "c_split", "c_pot",
        # synapses
        "s_w", "s_b", "s_t", "s_cnt",
        # inputs and outputs
        "in_hex", "in_off", "in_n",
        "o_hex", "o_idx", "o_val", "o_exp", "o_link", "o_w",
        # bookkeeping
        "pending", "meta", "rng", "stats",
    ],
)  # fmt: skip



@structref.register
class StateRefType(types.StructRef):
    """Numba type of :class:`StateRef`."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class StateRef(structref.StructRefProxy):
    """The kernels' view of a :class:`State`: the same buffers behind one pointer.

    Kernels pass this between each other instead of the named tuple, whose every buffer
    would otherwise be an argument of every call (slow to compile, slow to call). Build it
    with ``kernels.as_ref(state)`` right before a kernel call: it holds the buffers of that
    moment, and :func:`grow` replaces buffers.
    """


structref.define_constructor(StateRef, StateRefType, State._fields)
structref.define_boxing(StateRefType, StateRef)

_NB_FIELDS = ("nb_hex", "nb_size")
_NEURON_FIELDS = ("n_in", "n_pot", "n_delta", "n_refr", "n_act", "n_use", "n_new", "n_newoff")
_CB_FIELDS = ("cb_hex", "cb_nb", "cb_used", "cb_hi", "cb_nlist")
_CONN_FIELDS = (
    "c_src", "c_list", "c_kind", "c_pos", "c_next", "c_stop",
    "c_low", "c_range", "c_tol", "c_split", "c_pot",
)  # fmt: skip
_SYN_FIELDS = ("s_w", "s_b", "s_t", "s_cnt")
_OUT_FIELDS = ("o_hex", "o_idx", "o_val", "o_exp", "o_link", "o_w")
_HEX_BLOCK_FIELDS = ("hx_nb", "hx_cb")

FLT_MAX = np.float32(np.finfo(np.float32).max)
INITIAL_TOLERANCE = np.float32(0.49)


def _fill(name: str) -> float | int:
    """Value of a fresh (never used) slot of a buffer."""
    return {
        "c_src": -1, "nb_hex": -1, "cb_hex": -1, "cb_nb": -1, "o_link": -1, "o_hex": -1,
        "s_t": UNUSED_TARGET, "c_range": FLT_MAX, "c_tol": INITIAL_TOLERANCE, "n_refr": 1,
        "pending": -1,
    }.get(name, 0)  # fmt: skip


def allocate(
    n_hex: int, npb: int, spb: int, syn: int, nb_cap: int, cb_cap: int, hex_cap: int
) -> State:
    """Empty buffers for a cluster of ``n_hex`` hexagons with the given capacities."""
    f32, i32, u8 = np.float32, np.int32, np.uint8
    shapes: dict[str, tuple[tuple[int, ...], type]] = {
        "hx_flags": ((n_hex,), u8), "hx_io": ((n_hex,), i32), "hx_nnb": ((n_hex,), i32),
        "hx_nb": ((n_hex, hex_cap), i32), "hx_ncb": ((n_hex,), i32),
        "hx_cb": ((n_hex, hex_cap), i32), "hx_free": ((n_hex,), np.int64),
        "hx_targets": ((n_hex, TARGET_LIST_LEN), i32),
        "nb_hex": ((nb_cap,), i32), "nb_size": ((nb_cap,), i32),
        "n_in": ((nb_cap * npb,), f32), "n_pot": ((nb_cap * npb,), f32),
        "n_delta": ((nb_cap * npb,), f32), "n_refr": ((nb_cap * npb,), u8),
        "n_act": ((nb_cap * npb,), u8), "n_use": ((nb_cap * npb,), u8),
        "n_new": ((nb_cap * npb,), u8), "n_newoff": ((nb_cap * npb,), f32),
        "cb_hex": ((cb_cap,), i32), "cb_nb": ((cb_cap,), i32), "cb_used": ((cb_cap,), i32),
        "cb_hi": ((cb_cap,), i32), "cb_nlist": ((cb_cap,), i32),
        "c_list": ((cb_cap, spb), i32),
        "c_src": ((cb_cap, spb), i32), "c_kind": ((cb_cap, spb), u8),
        "c_pos": ((cb_cap, spb), u8), "c_next": ((cb_cap, spb), u8),
        "c_stop": ((cb_cap, spb), u8),
        "c_low": ((cb_cap, spb), f32), "c_range": ((cb_cap, spb), f32),
        "c_tol": ((cb_cap, spb), f32), "c_split": ((cb_cap, spb), f32),
        "c_pot": ((cb_cap, spb), f32),
        "s_w": ((cb_cap, spb, syn), f32), "s_b": ((cb_cap, spb, syn), f32),
        "s_t": ((cb_cap, spb, syn), u8), "s_cnt": ((cb_cap, spb, syn), u8),
        "in_hex": ((0,), i32), "in_off": ((0,), i32), "in_n": ((0,), i32),
        "o_hex": ((0,), i32), "o_idx": ((0,), i32), "o_val": ((0,), f32), "o_exp": ((0,), f32),
        "o_link": ((0, OUTPUT_LINKS), i32), "o_w": ((0, OUTPUT_LINKS), f32),
        "pending": ((nb_cap * npb,), i32), "meta": ((META_LEN,), np.int64),
        "rng": ((1,), np.uint64), "stats": ((2,), np.float64),
    }  # fmt: skip
    arrays = {}
    for name, (shape, dtype) in shapes.items():
        arrays[name] = np.full(shape, _fill(name), dtype=dtype)
    arrays["hx_io"][:] = -1
    arrays["hx_targets"][:] = -1
    return State(**arrays)


def _grown(array: np.ndarray, length: int, name: str) -> np.ndarray:
    """``array`` with its first axis extended to ``length`` fresh slots."""
    if array.shape[0] >= length:
        return array
    out = np.full((length, *array.shape[1:]), _fill(name), dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


def grow(state: State, npb: int, nb_cap: int, cb_cap: int, hex_cap: int) -> State:
    """Return ``state`` with capacities of at least the given sizes (nothing is copied twice)."""
    changes: dict[str, np.ndarray] = {}
    if nb_cap > state.nb_hex.shape[0]:
        for name in _NB_FIELDS:
            changes[name] = _grown(getattr(state, name), nb_cap, name)
        for name in (*_NEURON_FIELDS, "pending"):
            changes[name] = _grown(getattr(state, name), nb_cap * npb, name)
    if cb_cap > state.cb_hex.shape[0]:
        for name in (*_CB_FIELDS, *_CONN_FIELDS, *_SYN_FIELDS):
            changes[name] = _grown(getattr(state, name), cb_cap, name)
    if hex_cap > state.hx_nb.shape[1]:
        for name in _HEX_BLOCK_FIELDS:
            old = getattr(state, name)
            new = np.full((old.shape[0], hex_cap), -1, dtype=old.dtype)
            new[:, : old.shape[1]] = old
            changes[name] = new
    return state._replace(**changes) if changes else state


def resize_outputs(state: State, length: int) -> State:
    """Extend the internal output buffers to ``length`` outputs."""
    changes = {name: _grown(getattr(state, name), length, name) for name in _OUT_FIELDS}
    return state._replace(**changes)


def trimmed(state: State) -> dict[str, np.ndarray]:
    """The used part of every buffer, for checkpoints (capacity is not part of the state)."""
    nb = int(state.meta[M_NB])
    cb = int(state.meta[M_CB])
    npb = state.n_in.shape[0] // max(state.nb_hex.shape[0], 1)
    hex_used = int(max(state.hx_nnb.max(initial=0), state.hx_ncb.max(initial=0)))
    out: dict[str, np.ndarray] = {}
    for name in State._fields:
        array = getattr(state, name)
        if name in _NB_FIELDS:
            array = array[:nb]
        elif name in _NEURON_FIELDS or name == "pending":
            array = array[: nb * npb]
        elif name in (*_CB_FIELDS, *_CONN_FIELDS, *_SYN_FIELDS):
            array = array[:cb]
        elif name in _HEX_BLOCK_FIELDS:
            array = array[:, :hex_used]
        out[name] = np.ascontiguousarray(array)
    return out


def nbytes(state: State) -> int:
    """Bytes allocated by all buffers of the cluster."""
    return int(sum(getattr(state, name).nbytes for name in State._fields))

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

:data:`FIELDS` is the one list of buffers: :class:`State`, :class:`StateRef`, allocation,
growth and checkpoints (:func:`trimmed`, in this order) are all derived from it.
"""

from __future__ import annotations

import functools
import math
import mmap
from collections import namedtuple
from typing import NamedTuple

import numpy as np
from numba.core import types
from numba.experimental import structref

from hanami.core._jit import njit

UNUSED_TARGET = 255
TARGET_LIST_LEN = 86
OUTPUT_LINKS = 7
FLT_MAX = np.float32(np.finfo(np.float32).max)
INITIAL_TOLERANCE = np.float32(0.49)

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


class Field(NamedTuple):
    """One buffer: its dtype, its shape in named sizes (see :func:`allocate`) or fixed
    numbers, and the value of a fresh slot."""

    name: str
    dtype: type
    shape: tuple[str | int, ...]
    fill: float | int


_u8, _u32, _i32, _i64, _f32 = np.uint8, np.uint32, np.int32, np.int64, np.float32

FIELDS = (
    # hexagons, in template order
    Field("hx_flags", _u8, ("hexagons",), 0),  # HX_* flags
    Field("hx_io", _i32, ("hexagons",), -1),  # its input or output interface, -1 for none
    Field("hx_nnb", _i32, ("hexagons",), 0),  # neuron blocks in use
    Field("hx_nb", _i32, ("hexagons", "hex_cap"), 0),  # its neuron blocks (see grow)
    Field("hx_ncb", _i32, ("hexagons",), 0),  # connection blocks in use
    Field("hx_cb", _i32, ("hexagons", "hex_cap"), 0),  # its connection blocks (see grow)
    Field("hx_free", _i64, ("hexagons",), 0),  # free connections in its connection blocks
    Field("hx_targets", _i32, ("hexagons", TARGET_LIST_LEN), -1),  # where new sections go
    # input gain (default rules, docs/engine.md, Input gain): rows with a positive value seen,
    # running mean and first value of their log level, the factor new rows are scaled by
    Field("hx_rows", _i64, ("hexagons",), 0),
    Field("hx_level", np.float64, ("hexagons",), 0),
    Field("hx_ref", np.float64, ("hexagons",), 0),
    Field("hx_gain", _f32, ("hexagons",), 1),
    # neuron blocks
    Field("nb_hex", _i32, ("nb_cap",), -1),  # hexagon of the block
    Field("nb_size", _i32, ("nb_cap",), 0),  # neurons in use (new synapses target these)
    # neurons, flat: gid = block * NPB + slot
    Field("n_in", _f32, ("neurons",), 0),  # synaptic input gathered in this pass
    Field("n_pot", _f32, ("neurons",), 0),  # potential: raw input, log2(1 + p) or sigmoid
    Field("n_delta", _f32, ("neurons",), 0),  # error term of the backward pass
    Field("n_refr", _u8, ("neurons",), 1),  # refractory counter (takes input at 0)
    Field("n_act", _u8, ("neurons",), 0),  # fired in this pass
    Field("n_use", _u32, ("neurons",), 0),  # has a section (default: root and chain bits)
    Field("n_new", _u8, ("neurons",), 0),  # queued in `pending` for a new section
    Field("n_newoff", _f32, ("neurons",), 0),  # potential the queued section starts at
    # connection blocks
    Field("cb_hex", _i32, ("cb_cap",), -1),  # hexagon of the block
    Field("cb_nb", _i32, ("cb_cap",), -1),  # neuron block its synapses target
    Field("cb_used", _i32, ("cb_cap",), 0),  # connections in use
    Field("cb_hi", _i32, ("cb_cap",), 0),  # one past the highest slot ever used
    Field("cb_nlist", _i32, ("cb_cap",), 0),  # sections walked in this pass (in c_list)
    # connections: one synapse section each
    Field("c_src", _i32, ("cb_cap", "spb"), -1),  # source neuron, -1 for a free slot
    Field("c_list", _i32, ("cb_cap", "spb"), 0),  # slots of the sections walked in this pass
    Field("c_kind", _u8, ("cb_cap", "spb"), 0),  # source: 0 hidden, 1 input, 2 binary, 3 match
    Field("c_pos", _u8, ("cb_cap", "spb"), 0),  # position in its neuron's chain (default)
    Field("c_next", _u8, ("cb_cap", "spb"), 0),  # a chained section was requested (default)
    Field("c_stop", _u8, ("cb_cap", "spb"), 0),  # synapses walked in this pass (default)
    Field("c_low", _f32, ("cb_cap", "spb"), 0),  # potential below the section (chains, splits)
    Field("c_range", _f32, ("cb_cap", "spb"), FLT_MAX),  # potential it covers (classic splits)
    Field("c_tol", _f32, ("cb_cap", "spb"), INITIAL_TOLERANCE),  # classic tolerance window
    Field("c_split", _f32, ("cb_cap", "spb"), 0),  # classic: split requested here (0: none)
    Field("c_pot", _f32, ("cb_cap", "spb"), 0),  # source potential in this pass (0: silent)
    # synapses
    Field("s_w", _f32, ("cb_cap", "spb", "syn"), 0),  # weight
    Field("s_b", _f32, ("cb_cap", "spb", "syn"), 0),  # border: the potential it consumes
    Field("s_t", _u8, ("cb_cap", "spb", "syn"), UNUSED_TARGET),  # target neuron in the block
    Field("s_cnt", _u8, ("cb_cap", "spb", "syn"), 0),  # activity counter (reduction)
    Field("s_v", _f32, ("cb_cap", "spb", "syn"), 0),  # running squared step (adaptive)
    # input interfaces
    Field("in_hex", _i32, ("inputs",), 0),  # hexagon
    Field("in_off", _i32, ("inputs",), 0),  # first column in the kernels' input rows
    Field("in_n", _i32, ("inputs",), 0),  # width: input neurons in use
    # internal outputs
    Field("o_hex", _i32, ("outputs",), -1),  # hexagon
    Field("o_idx", _i32, ("outputs",), 0),  # its neuron in the hexagon (default)
    Field("o_val", _f32, ("outputs",), 0),  # value after the last pass
    Field("o_exp", _f32, ("outputs",), 0),  # expected value of the current sample
    Field("o_link", _i32, ("outputs", OUTPUT_LINKS), -1),  # classic: output-layer links
    Field("o_w", _f32, ("outputs", OUTPUT_LINKS), 0),  # classic: their weights
    # bookkeeping
    Field("pending", _i32, ("neurons",), -1),  # neurons queued for a section, in order
    Field("meta", _i64, (META_LEN,), 0),  # the M_* counters
    Field("rng", np.uint64, (1,), 0),  # the cluster's random state (kernels.random.rand)
    Field("stats", np.float64, (2,), 0),  # squared error and hits of the current train call
)
_BY_NAME = {f.name: f for f in FIELDS}
OUTPUT_FIELDS = tuple(f.name for f in FIELDS if f.shape[0] == "outputs")

State = namedtuple("State", [f.name for f in FIELDS])
State.__doc__ = "The buffers of a cluster, one per entry of :data:`FIELDS`."


@structref.register
class StateRefType(types.StructRef):
    """Numba type of :class:`StateRef`."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class StateRef(structref.StructRefProxy):
    """The kernels' view of a :class:`State`: the same buffers behind one pointer.

    Kernels pass this between each other instead of the named tuple, whose every buffer
    would otherwise be an argument of every call (slow to compile, slow to call). Build it
    with :func:`as_ref` right before a kernel call: it holds the buffers of that moment,
    and :func:`grow` replaces buffers.
    """


structref.define_constructor(StateRef, StateRefType, State._fields)
structref.define_boxing(StateRefType, StateRef)


@njit
def as_ref(S):
    """The :class:`StateRef` over the buffers of ``S`` (a :class:`State`).

    Compiled (and cached) because building a structref from Python compiles a constructor
    in every process.
    """
    return StateRef(*S)


def fill_value(name: str) -> float | int:
    """Value of a fresh (never used) slot of buffer ``name``."""
    return _BY_NAME[name].fill


def allocate(
    n_hex: int, npb: int, spb: int, syn: int, nb_cap: int, cb_cap: int, hex_cap: int
) -> State:
    """Empty buffers for a cluster of ``n_hex`` hexagons with the given capacities.

    The large zero buffers of one leading size (the synapse arrays, say) are views of one
    mapping, which :func:`grow` replaces with all of them together; every new estimator
    pays this, so the layout is worked out once per set of capacities (docs/engine.md,
    Time per sample, Sixth round).
    """
    buffers, mapped = _layout(n_hex, npb, spb, syn, nb_cap, cb_cap, hex_cap)
    pages = {size: _mapping(nbytes) for size, nbytes in mapped}
    return State(*(_fresh(b, pages) for b in buffers))


class _Buffer(NamedTuple):
    """How :func:`allocate` makes one buffer: its shape, dtype and fill value, for a
    mapped one the leading size whose mapping holds it and its byte offset there, and
    for a small one a read-only prototype that it copies."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fill: float | int
    mapped: str | int | None
    offset: int
    prototype: np.ndarray | None = None


@functools.lru_cache(maxsize=16)
def _layout(
    n_hex: int, npb: int, spb: int, syn: int, nb_cap: int, cb_cap: int, hex_cap: int
) -> tuple[tuple[_Buffer, ...], tuple[tuple[str | int, int], ...]]:
    """Every field's :class:`_Buffer`, and the bytes of each leading size's mapping."""
    sizes = {"hexagons": n_hex, "hex_cap": hex_cap, "nb_cap": nb_cap, "neurons": nb_cap * npb,
             "cb_cap": cb_cap, "spb": spb, "syn": syn, "inputs": 0, "outputs": 0}  # fmt: skip
    buffers, mapped = [], {}  # mapped: bytes so far per leading size
    for f in FIELDS:
        shape, dtype = tuple(sizes.get(n, n) for n in f.shape), np.dtype(f.dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < _MAPPED_BYTES:  # a copy of one array: np.full was about 1 µs a call,
            prototype = _full(shape, dtype, f.fill)  # most of the 52 (docs/engine.md,
            prototype.setflags(write=False)  # Time per sample, Eighth round)
            buffers.append(_Buffer(shape, dtype, f.fill, None, 0, prototype))
            continue
        if f.fill != 0:
            buffers.append(_Buffer(shape, dtype, f.fill, None, 0))
            continue
        offset = mapped.get(f.shape[0], 0)
        buffers.append(_Buffer(shape, dtype, 0, f.shape[0], offset))
        mapped[f.shape[0]] = offset + -(-nbytes // 64) * 64  # next view on a cache line
    return tuple(buffers), tuple(mapped.items())


def _fresh(buffer: _Buffer, pages: dict[str | int, mmap.mmap]) -> np.ndarray:
    """The buffer :func:`allocate` hands out for ``buffer`` (``pages``: the mappings)."""
    if buffer.prototype is not None:
        return buffer.prototype.copy()
    if buffer.mapped is not None:
        count = math.prod(buffer.shape)
        return np.frombuffer(pages[buffer.mapped], buffer.dtype, count,
                             buffer.offset).reshape(buffer.shape)  # fmt: skip
    return _full(buffer.shape, buffer.dtype, buffer.fill)


def _filled(shape: tuple[int, ...], name: str) -> np.ndarray:
    """A fresh buffer of ``shape`` for field ``name``."""
    return _full(shape, _BY_NAME[name].dtype, fill_value(name))


def _full(shape: tuple[int, ...], dtype: np.dtype | type, fill: float | int) -> np.ndarray:
    """``shape`` of ``fill``; zero-filled buffers come from :func:`_zeros`, so their
    spare capacity costs nothing until it is used."""
    return _zeros(shape, dtype) if fill == 0 else np.full(shape, fill, dtype=dtype)


_MAPPED_BYTES = 1 << 18  # zero buffers from this size on are mapped by the OS (_zeros)


def _zeros(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Zeros whose pages the OS maps on first touch, however large.

    ``np.zeros`` maps fresh pages only while the allocator has no freed memory to reuse;
    in a process that has freed clusters before, it clears the reused memory up front,
    which for the spare synapse blocks of a new cluster (megabytes, mostly never used on
    a small stream) was about half a millisecond (docs/engine.md, Time per sample). A
    private anonymous mapping is always zero and untouched.
    """
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes < _MAPPED_BYTES:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(_mapping(nbytes), dtype=dtype).reshape(shape)


def _mapping(nbytes: int) -> mmap.mmap:
    """``nbytes`` of private anonymous memory: zero, and untouched until used."""
    return mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def _grown(array: np.ndarray, length: int, name: str, used: int | None = None) -> np.ndarray:
    """``array`` with its first axis extended to ``length`` fresh slots; only its first
    ``used`` entries (all by default) are copied, the rest are fresh anyway."""
    if array.shape[0] >= length:
        return array
    out = _filled((length, *array.shape[1:]), name)
    used = array.shape[0] if used is None else used
    out[:used] = array[:used]
    return out


def grow(state: State, npb: int, nb_cap: int, cb_cap: int, hex_cap: int) -> State:
    """Return ``state`` with capacities of at least the given sizes (nothing is copied twice).

    Only the blocks in use are copied (kernels never touch the others, as :func:`trimmed`
    relies on too), so growing costs what the network holds, not what it could hold.
    The block lists ``hx_nb`` and ``hx_cb`` are widened with -1, although they are allocated
    with 0: only their first ``hx_nnb`` / ``hx_ncb`` entries are read, and checkpoints keep
    the used columns as they are.
    """
    lengths: dict[str | int, int] = {}
    if nb_cap > state.nb_hex.shape[0]:
        lengths.update(nb_cap=nb_cap, neurons=nb_cap * npb)
    if cb_cap > state.cb_hex.shape[0]:
        lengths["cb_cap"] = cb_cap
    nb, cb = int(state.meta[M_NB]), int(state.meta[M_CB])
    used = {"nb_cap": nb, "neurons": nb * npb, "cb_cap": cb}
    changes = {f.name: _grown(getattr(state, f.name), lengths[f.shape[0]], f.name,
                              used[f.shape[0]])
               for f in FIELDS if f.shape[0] in lengths}  # fmt: skip
    if hex_cap > state.hx_nb.shape[1]:
        for f in FIELDS:
            if f.shape[1:2] == ("hex_cap",):
                old = getattr(state, f.name)
                new = np.full((old.shape[0], hex_cap), -1, dtype=old.dtype)
                new[:, : old.shape[1]] = old
                changes[f.name] = new
    return state._replace(**changes) if changes else state


def lengthen(state: State, syn: int) -> State:
    """Return ``state`` with room for ``syn`` synapses per section; the new positions are
    free, so every section computes what it did and may grow into them (docs/engine.md,
    Longer sections for a cluster that has learned a while)."""
    cb = int(state.meta[M_CB])
    changes = {}
    for f in FIELDS:
        if f.shape[2:] == ("syn",):
            old = getattr(state, f.name)
            new = _filled((*old.shape[:2], syn), f.name)
            new[:cb, :, : old.shape[2]] = old[:cb]
            changes[f.name] = new
    return state._replace(**changes)


def resize_outputs(state: State, length: int) -> State:
    """Extend the internal output buffers to ``length`` outputs."""
    changes = {name: _grown(getattr(state, name), length, name) for name in OUTPUT_FIELDS}
    return state._replace(**changes)


def trimmed(state: State) -> dict[str, np.ndarray]:
    """The used part of every buffer, for checkpoints (capacity is not part of the state)."""
    nb = int(state.meta[M_NB])
    cb = int(state.meta[M_CB])
    npb = state.n_in.shape[0] // max(state.nb_hex.shape[0], 1)
    hex_used = int(max(state.hx_nnb.max(initial=0), state.hx_ncb.max(initial=0)))
    used = {"nb_cap": nb, "neurons": nb * npb, "cb_cap": cb}
    out: dict[str, np.ndarray] = {}
    for f in FIELDS:
        array = getattr(state, f.name)
        if f.shape[0] in used:
            array = array[: used[f.shape[0]]]
        elif f.shape[1:2] == ("hex_cap",):
            array = array[:, :hex_used]
        out[f.name] = np.ascontiguousarray(array)
    return out


def nbytes(state: State, **sizes: int) -> int:
    """Bytes allocated by all buffers of the cluster; with named ``sizes`` (``nb_cap``,
    ``neurons``, ``cb_cap``, ``hex_cap``, ``syn``), what they would take at those sizes."""
    total = 0
    for f in FIELDS:
        array = getattr(state, f.name)
        named = zip(f.shape, array.shape, strict=True)
        dims = [sizes.get(n, d) if isinstance(n, str) else d for n, d in named]
        total += math.prod(dims) * array.itemsize
    return total

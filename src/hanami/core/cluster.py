"""A growing Hanami network: the Python face of the kernels.

>>> import numpy as np
>>> from hanami.core import Cluster
>>> cluster = Cluster('''version: 1
... settings:
...     seed: 7
... hexagons:
...     1,1,1
...     2,1,1
...     3,1,1
... inputs:
...     x: 1,1,1
... outputs:
...     y: 3,1,1
... ''')
>>> rng = np.random.default_rng(0)
>>> labels = rng.integers(0, 2, size=400)
>>> centers = np.array([[30.0, 220.0, 40.0], [200.0, 20.0, 180.0]])
>>> X = centers[labels] + rng.normal(0, 10, size=(400, 3))  # raw values, no scaling
>>> for epoch in range(3):
...     stats = cluster.train(X, np.eye(2)[labels])  # how the epoch went while learning
>>> stats.accuracy > 0.9
True
>>> float((cluster.request(X).argmax(axis=1) == labels).mean()) > 0.9
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hanami.core import checkpoint
from hanami.core import kernels as K
from hanami.core import state as st
from hanami.core.capacity import Capacity
from hanami.core.interfaces import (
    Data,
    TrainStats,
    as_columns,
    split_outputs,
)
from hanami.core.profiles import PROFILES, make_params
from hanami.core.template import Template, parse_template
from hanami.core.topology import target_lists
from hanami.core.widths import Widths


def _plain_rows(data: Data, name: str, width: int, check_input: bool) -> np.ndarray | None:
    """``data`` as a 2-D array for :meth:`Cluster._plain_step`, or None when it is not
    float32 C-contiguous rows ``width`` wide (alone or as the dict's one value), finite
    unless the caller vouches for that (``check_input=False``)."""
    a = data.get(name) if type(data) is dict and len(data) == 1 else data
    if type(a) is not np.ndarray or a.dtype != np.float32 or not a.flags.c_contiguous:
        return None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != width or width == 0:
        return None
    return a if not check_input or np.isfinite(a).all() else None


_ONE_ROW = np.zeros(1, dtype=np.int64)
"""The rows of a one-row step (:meth:`Cluster.train_row`): row 0; the kernels only read it."""
_NO_OUTPUTS = np.zeros((0, 0), dtype=np.float32)
"""No outputs kept: the kernels only read its row count."""

# what a forward pass changes besides its outputs: the neurons' step-to-step state
_DYNAMIC_STATE = ("n_in", "n_pot", "n_act", "n_refr", "c_pot", "o_val")


class Cluster(Capacity, Widths):
    """A network laid out on a template of hexagons that grows while it learns.

    Parameters
    ----------
    template
        Template text or a parsed :class:`~hanami.core.template.Template`.
    seed
        Overrides the template's ``seed`` setting; same seed, template and data give the
        same network and outputs. Without any seed the cluster draws one.
    max_bytes
        The most memory its buffers may take (None: no limit); see :attr:`max_bytes`.
    """

    def __init__(
        self, template: Template | str, *, seed: int | None = None, max_bytes: int | None = None
    ) -> None:
        if isinstance(template, str):
            template = parse_template(template)
        if seed is not None:
            template = template.with_settings(seed=seed)
        if template.settings.seed is None:
            template = template.with_settings(seed=int(np.random.SeedSequence().entropy % 2**63))
        self.template = template
        self.profile = PROFILES[template.settings.profile]
        self._params = make_params(self.profile, template)
        self._init_state()
        self.max_bytes = max_bytes

    @classmethod
    def _restored(
        cls, template: Template, state: st.State, out_n: np.ndarray, rng: np.random.Generator
    ) -> Cluster:
        """A cluster around buffers read back from a checkpoint (:func:`checkpoint.restore`
        checks them): nothing is drawn or initialised, capacity is re-created."""
        self = cls.__new__(cls)
        self.template = template
        self.profile = PROFILES[template.settings.profile]
        self._params = make_params(self.profile, template, int(state.in_n.sum()),
                                   int(out_n.sum()))  # fmt: skip
        self._rng = rng
        npb = self.profile.neurons_per_block
        self._state = st.grow(state, npb, nb_cap=max(state.nb_hex.shape[0], 1),
                              cb_cap=max(state.cb_hex.shape[0], 1),
                              hex_cap=max(state.hx_nb.shape[1], 1))  # fmt: skip
        self._out_n = out_n
        self._grow()
        return self

    # ------------------------------------------------------------------ construction

    def _init_state(self) -> None:
        t, p = self.template, self.profile
        n_hex = len(t.hexagons)
        self._rng = np.random.default_rng(t.settings.seed)
        # blocks: what the first _grow asks for anyway; the hexagons' block lists stay
        # small, as their unused columns (never read) are part of the state's digest
        cap = self._params.reserve_blocks * 3 // 2
        s = st.allocate(n_hex, p.neurons_per_block, p.sections_per_block,
                        p.synapses_per_section, nb_cap=cap, cb_cap=cap, hex_cap=8)  # fmt: skip
        s.rng[0] = np.uint64(self._rng.integers(0, 2**63))
        for k, spec in enumerate(t.inputs):
            flags = st.HX_INPUT
            flags |= st.HX_BINARY if spec.kind == "binary" else 0
            flags |= st.HX_MATCH if spec.kind == "match" else 0
            s.hx_flags[spec.hexagon] = flags
            s.hx_io[spec.hexagon] = k
        for k, spec in enumerate(t.outputs):
            s.hx_flags[spec.hexagon] = st.HX_OUTPUT
            s.hx_io[spec.hexagon] = k
        s = s._replace(
            in_hex=np.array([i.hexagon for i in t.inputs], dtype=np.int32),
            in_off=np.zeros(len(t.inputs), dtype=np.int32),
            in_n=np.zeros(len(t.inputs), dtype=np.int32),
        )
        self._state = s
        self._out_n = np.zeros(len(t.outputs), dtype=np.int64)  # values per output interface
        self._refresh_targets()

    def _refresh_targets(self) -> None:
        t = self.template
        axon = list(range(len(t.hexagons)))
        for src, dst in t.axons:
            axon[src] = dst
        is_input = [bool(f & st.HX_INPUT) for f in self._state.hx_flags]
        self._state.hx_targets[:] = target_lists(
            t.neighbors(), axon, is_input, t.settings.max_connection_distance, self._rng,
            faithful=self.profile.rules == "classic",
        )  # fmt: skip

    # ------------------------------------------------------------------ names and shapes

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.template.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.template.outputs]

    @property
    def input_sizes(self) -> dict[str, int]:
        return dict(zip(self.input_names, self._state.in_n.tolist(), strict=True))

    @property
    def output_sizes(self) -> dict[str, int]:
        return dict(zip(self.output_names, self._out_n.tolist(), strict=True))

    # ------------------------------------------------------------------ kernel view

    @property
    def _kernels(self) -> K.ProfileKernels:
        """The compiled entry points of this cluster's profile."""
        return K.KERNELS[self.profile.rules]

    def _ref(self) -> st.StateRef:
        """The kernels' view of ``self._state``, rebuilt only when the state was replaced.

        Building it is a compiled call of its own, which a step-by-step client (direct I/O,
        one row per call) would otherwise pay on every step.
        """
        state = self._state
        if self.__dict__.get("_ref_of") is not state:
            self._ref_cache, self._ref_of = st.as_ref(state), state
        return self._ref_cache

    def __getstate__(self) -> dict[str, Any]:
        # the view is a compiled object that does not pickle; it is rebuilt on demand
        return {k: v for k, v in self.__dict__.items() if k not in ("_ref_cache", "_ref_of")}

    # ------------------------------------------------------------------ learning

    def train(
        self,
        inputs: Data,
        expected: Data,
        *,
        order: np.ndarray | None = None,
        return_outputs: bool = False,
        check_input: bool = True,
    ) -> TrainStats:
        """Learn the rows one sample at a time, in order (or in ``order``), inside compiled code.

        Returns how the cluster did on these rows while it learned them (each row scored
        before its own weight update): what a live training curve shows. With
        ``return_outputs`` the stats also hold the outputs each row had before it was
        learned, in the order the rows were visited.

        ``check_input=False`` (as scikit-learn's ``fit(..., check_input=False)``) skips the
        check that every value is finite, for a caller that has checked them already (a
        server that checks each message as it parses it). Only that check, and only
        on the short path of :meth:`_plain_step`: names, dtypes and widths are checked as
        always, and rows that need converting are checked whatever the flag. A NaN or inf
        passed this way raises nothing and cannot touch memory outside the state (the
        kernels never turn a value into an index: the one float-to-int conversion,
        ``positive_log``, takes only values below 256 that are above 0), but it spreads
        into the potentials and weights it reaches: the cluster may never learn well again.
        Results on finite values are the same, bit for bit.
        """
        step = self._plain_step(inputs, expected, check_input)
        if step is None:
            cols_in = as_columns(inputs, self.input_names, "input")
            cols_out = as_columns(expected, self.output_names, "output")
            n_in, n_out = cols_in[0].shape[0], cols_out[0].shape[0]
            if n_in != n_out:  # checked before anything widens
                raise ValueError(f"inputs have {n_in} rows but expected values {n_out}")
            step = self._prepare_inputs(cols_in), self._prepare_outputs(cols_out)
        X, Y = step
        rows = np.arange(X.shape[0], dtype=np.int64) if order is None else np.asarray(order)
        self._state.stats[:] = 0.0
        total = self._state.o_val.shape[0]
        seen = np.zeros((len(rows) if return_outputs else 0, total), dtype=np.float32)
        self._train_rows(X, Y, rows.astype(np.int64, copy=False), seen)
        n = max(len(rows), 1)
        outputs = None
        if return_outputs:
            outputs = split_outputs(seen, self.template.outputs, self._out_n)
        return TrainStats(len(rows), float(self._state.stats[0] / n),
                          float(self._state.stats[1] / n), outputs)  # fmt: skip

    def train_row(self, x: np.ndarray, y: np.ndarray) -> bool:
        """``train({input: x}, {output: y}, check_input=False)`` of one row, without the
        :class:`TrainStats` nobody reads and the checks of :meth:`_plain_step`'s dict and
        2-D forms: a step-by-step server's entry (docs/performance.md, "Direct I/O: a
        one-row engine entry, frames parsed ahead"). False, having done nothing (then
        :meth:`train`), unless the cluster has one input and one ``plain`` output and ``x``
        and ``y`` are float32 rows (1-D) exactly its widths. As with ``check_input=False``,
        the caller vouches that the values are finite. The state changes as :meth:`train`'s,
        bit for bit."""
        s = self._state
        if (
            x.ndim != 1 or y.ndim != 1 or x.dtype != np.float32 or y.dtype != np.float32
            or x.shape[0] == 0 or x.shape[0] != s.in_n[0] or y.shape[0] != self._out_n[0]
            or not self._one_plain_output()
        ):  # fmt: skip
            return False
        s.stats[:] = 0.0
        self._train_rows(x[None, :], y[None, :], _ONE_ROW, _NO_OUTPUTS)
        return True

    def _one_plain_output(self) -> bool:
        """One input and one ``plain`` output: what the short paths of :meth:`train_row`
        and :meth:`_plain_step` take."""
        t = self.template
        return len(t.inputs) == 1 and len(t.outputs) == 1 and t.outputs[0].type == "plain"

    def _plain_step(
        self, inputs: Data, expected: Data, check_input: bool
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The kernels' inputs and expected values as they are, when they need nothing of
        :func:`as_columns` and the ``_prepare_*`` methods but the check of their values: one
        input and one ``plain`` output, float32 C-contiguous rows of the widths the cluster
        has, alone or in a dict by name. What a direct-I/O client sends on every step, where
        that general path cost about a third of a one-row step's time (docs/performance.md,
        The engine's one-row step). None: the general path, which also raises the errors."""
        if not self._one_plain_output():
            return None
        t = self.template
        X = _plain_rows(inputs, t.inputs[0].name, int(self._state.in_n[0]), check_input)
        Y = _plain_rows(expected, t.outputs[0].name, int(self._out_n[0]), check_input)
        if X is None or Y is None or X.shape[0] != Y.shape[0]:
            return None
        return X, Y

    def _train_rows(self, X: np.ndarray, Y: np.ndarray, rows: np.ndarray,
                    seen: np.ndarray) -> None:  # fmt: skip
        i, n, grown = 0, rows.shape[0], False
        while i < n:
            end = self._lengthen(i, n)
            # the kernel stops before a row short of spare capacity, by the test of
            # _grow (has_reserve): grow only then, not before every call (3 µs a call)
            stop = self._kernels.train_rows(self._ref(), self._params, X, Y, rows, i, end,
                                            seen)  # fmt: skip
            if stop == i:
                if grown:  # the two tests disagree: fail rather than spin for ever
                    raise RuntimeError("growing left less spare capacity than a row needs")
                self._grow()
                grown = True
                continue
            i, grown = stop, False
            if self._state.meta[st.M_CAPACITY_HIT]:
                # a structure change found no room and was skipped (it is retried when its
                # neuron fires again): keep a larger reserve from now on
                self._state.meta[st.M_CAPACITY_HIT] = 0
                reserve = max(1, 2 * self._params.reserve_blocks)
                self._params = self._params._replace(reserve_blocks=reserve)

    def request(
        self, inputs: Data, *, stateless: bool = False
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Outputs for each input row, without learning.

        Returns a ``[rows, outputs]`` array for a single output, else a dict by name.
        Neurons carry state from step to step (cooldown, refractory time), so by default a
        request is part of the stream the cluster sees, as in the original. With
        ``stateless=True`` the neurons are put back as they were afterwards, so a prediction
        leaves no trace on later learning.
        """
        X = self._prepare_inputs(inputs)
        if not self._out_n.any():
            raise ValueError("the cluster has no outputs yet: train it first")
        total = self._state.o_val.shape[0]
        raw = np.zeros((X.shape[0], total), dtype=np.float32)
        s = self._state
        saved = [getattr(s, name).copy() for name in _DYNAMIC_STATE] if stateless else None
        self._kernels.request_rows(self._ref(), self._params, X, raw)
        if saved is not None:
            for name, array in zip(_DYNAMIC_STATE, saved, strict=True):
                getattr(s, name)[:] = array
        return split_outputs(raw, self.template.outputs, self._out_n)

    # ------------------------------------------------------------------ checkpoints

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint file (atomic); :meth:`load` restores an identical cluster."""
        return checkpoint.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cluster:
        """Restore a cluster from a checkpoint file; raises ``CheckpointError`` if damaged."""
        return checkpoint.load(path)

    def to_bytes(self) -> bytes:
        """The checkpoint file's bytes, for storage elsewhere (database, object store)."""
        return checkpoint.to_bytes(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Cluster:
        """Inverse of :meth:`to_bytes`."""
        return checkpoint.from_bytes(data)

    # ------------------------------------------------------------------ inspection

    def metrics(self) -> dict[str, int]:
        """Size of the network: blocks, sections, synapses, neurons in use, bytes allocated."""
        s = self._state
        cb = int(s.meta[st.M_CB])
        nb = int(s.meta[st.M_NB])
        npb = self.profile.neurons_per_block
        return {
            "neuron_blocks": nb,
            "connection_blocks": cb,
            "sections": int(s.meta[st.M_SECTIONS]),
            "synapses": int(np.count_nonzero(s.s_t[:cb] != st.UNUSED_TARGET)),
            "neurons_in_use": int(np.count_nonzero(s.n_use[: nb * npb])),
            "synapse_slots": int(s.s_t.size),
            "bytes": st.nbytes(s),
            "max_bytes": self.max_bytes or 0,
            "at_memory_limit": int(self.at_memory_limit),
            "synapses_created": int(s.meta[st.M_CREATED]),
            "synapses_removed": int(s.meta[st.M_REMOVED]),
            "sections_chained": int(s.meta[st.M_SPLITS]),
            "samples_trained": int(s.meta[st.M_SAMPLES]),
        }

    def __repr__(self) -> str:
        m = self.metrics()
        return (f"Cluster(profile={self.profile.name!r}, hexagons={len(self.template.hexagons)}, "
                f"sections={m['sections']}, synapses={m['synapses']})")  # fmt: skip

"""How a cluster follows the widths of its data: the kernels' matrices, and the neurons,
outputs and parameters added when wider inputs or expected values arrive.

A part of :class:`~hanami.core.cluster.Cluster` (its base class), kept apart because it is
one job: the network itself never shrinks, so every width it has seen stays.
"""

from __future__ import annotations

import numpy as np

from hanami.core import kernels as K
from hanami.core import state as st
from hanami.core.interfaces import OUTPUT_WIDTH, Columns, Data, as_columns, encode
from hanami.core.profiles import Params, Profile, shape_fields
from hanami.core.template import Template


class Widths:
    """Widening of the inputs and outputs (methods of :class:`~hanami.core.cluster.Cluster`)."""

    template: Template
    profile: Profile
    _state: st.State
    _params: Params
    _out_n: np.ndarray

    def _prepare_inputs(self, data: Data | Columns) -> np.ndarray:
        """The kernels' input matrix; ``data`` may be columns already checked by
        :meth:`_as_columns`. Wider data widens the inputs first."""
        cols = data if isinstance(data, Columns) else as_columns(data, self.input_names,
                                                                        "input")  # fmt: skip
        for k, a in enumerate(cols):
            if a.shape[1] > self._state.in_n[k]:
                self._resize_input(k, a.shape[1])
        if len(cols) == 1 and cols[0].shape[1] == self._state.in_n[0]:
            return np.ascontiguousarray(cols[0])  # no copy for the common case
        X = np.zeros((cols[0].shape[0], int(self._state.in_n.sum())), dtype=np.float32)
        for k, a in enumerate(cols):
            off = int(self._state.in_off[k])
            X[:, off : off + a.shape[1]] = a
        return X

    def _prepare_outputs(self, data: Data | Columns) -> np.ndarray:
        """The kernels' expected-value matrix (internal outputs), like :meth:`_prepare_inputs`."""
        cols = data if isinstance(data, Columns) else as_columns(data, self.output_names,
                                                                        "output")  # fmt: skip
        for k, a in enumerate(cols):
            if a.shape[1] > self._out_n[k]:
                self._resize_output(k, a.shape[1])
        plain = self.template.outputs[0].type == "plain"
        if plain and len(cols) == 1 and cols[0].shape[1] == self._out_n[0]:
            return np.ascontiguousarray(cols[0])
        parts = []
        for k, a in enumerate(cols):
            width = int(self._out_n[k])
            padded = np.zeros((a.shape[0], width), dtype=np.float32)
            padded[:, : a.shape[1]] = a
            parts.append(encode(padded, self.template.outputs[k].type))
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def _resize_input(self, k: int, width: int) -> None:
        """Wider input data arrived: add input neurons (blocks of NPB, as the original)."""
        s = self._state
        npb = self.profile.neurons_per_block
        h = int(s.in_hex[k])
        need = width // npb + 1
        self._grow(extra_nb=need, extra_hex=need)
        s = self._state
        ref = self._ref()
        while s.hx_nnb[h] < need:
            K.add_neuron_block(ref, h, npb)
        s.in_n[k] = width
        s.in_off[:] = np.concatenate(([0], np.cumsum(s.in_n)[:-1])).astype(np.int32)
        self._fit_params()

    def _fit_params(self) -> None:
        """The parameters that follow the widths of the inputs and outputs seen so far."""
        fields = shape_fields(self.profile, int(self._state.in_n.sum()), int(sum(self._out_n)),
                              self.template.settings.input_gain)  # fmt: skip
        self._params = self._params._replace(**fields)

    def _resize_output(self, k: int, width: int) -> None:
        """Wider expected values arrived: add outputs (and output neurons by default)."""
        spec = self.template.outputs[k]
        internal = width * OUTPUT_WIDTH[spec.type]
        old_total = int(sum(self._out_n[j] * OUTPUT_WIDTH[o.type]
                            for j, o in enumerate(self.template.outputs)))  # fmt: skip
        old_internal = int(self._out_n[k] * OUTPUT_WIDTH[spec.type])
        offset = int(sum(self._out_n[j] * OUTPUT_WIDTH[o.type]
                         for j, o in enumerate(self.template.outputs) if j < k))  # fmt: skip
        added = internal - old_internal
        s = st.resize_outputs(self._state, old_total + added)
        # insert the new outputs after the existing ones of interface k
        at = offset + old_internal
        for name in st.OUTPUT_FIELDS:
            a = getattr(s, name)
            a[at + added :] = a[at:old_total].copy()
            a[at : at + added] = st.fill_value(name)
        s.o_hex[at : at + added] = spec.hexagon
        s.o_idx[at : at + added] = np.arange(old_internal, internal)
        self._state = s
        self._out_n[k] = width
        self._fit_params()
        if self.profile.rules == "default":
            self._resize_output_neurons(spec.hexagon, internal)
            self._widen_hidden_blocks()

    def _widen_hidden_blocks(self) -> None:
        """Hidden blocks kept narrow while the classes were few use all their neurons once
        they are many (``Params.hidden_size`` 0; docs/engine.md, Wider hidden blocks for many
        classes); the River adapter adds its outputs as labels arrive."""
        if self._params.hidden_size:
            return
        s = self._state
        hidden = (s.hx_flags & (st.HX_INPUT | st.HX_OUTPUT)) == 0
        blocks = (s.nb_hex >= 0) & hidden[np.maximum(s.nb_hex, 0)]
        s.nb_size[blocks] = self.profile.neurons_per_block

    def _resize_output_neurons(self, h: int, internal: int) -> None:
        npb = self.profile.neurons_per_block
        blocks = -(-internal // npb)
        self._grow(extra_nb=blocks, extra_hex=blocks)
        s = self._state
        ref = self._ref()
        while s.hx_nnb[h] < blocks:
            K.add_neuron_block(ref, h, 0)
        for i in range(blocks):
            s.nb_size[s.hx_nb[h, i]] = min(npb, internal - i * npb)

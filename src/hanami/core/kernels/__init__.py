"""Numba kernels: forward pass, growth, output layer, backpropagation and reduction.

One module per step of a training step (docs/engine.md, A training step):

* ``random``: the cluster's random draws and the per-synapse hash chain;
* ``structure``: blocks, connections (sections) and synapses being added;
* ``walks``: how sections turn source potentials into synaptic input, and grow;
* ``forward``: the forward pass over all hexagons, neuron updates, output layers;
* ``growth``: which neurons get sections, pending sections, classic splits;
* ``backward``: backpropagation and the weight step;
* ``reduction``: removing synapses that stopped being used;
* ``rows``: one training step, and the loops over rows that ``Cluster`` calls;
* ``lanes``: requests of many rows, each section walked for 64 rows at once.

The two profiles share this skeleton and differ in their rules (docs/engine.md,
Profiles). Every rule that differs has one kernel per profile (``..._classic``,
``..._default``), and :data:`KERNELS` gives ``Cluster`` the entry points of its profile,
so compiled code never tests the profile. Parameters come in one typed record,
:class:`hanami.core.profiles.Params`.

All state is float32 as in the original, because thresholds such as ``1e-5`` and the
tolerance window depend on it. Kernels never allocate state (a request's scratch lanes
are its own): when a structure change finds no spare capacity it is skipped and
``meta[M_CAPACITY_HIT]`` is set; the Python side keeps enough reserve that this does not
happen in practice (``Cluster._grow``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from hanami.core.kernels.backward import backward_classic, backward_default
from hanami.core.kernels.forward import forward_classic, forward_default, update_neurons
from hanami.core.kernels.growth import create_pending_sections, update_cluster_classic
from hanami.core.kernels.reduction import reduce_classic, reduce_default
from hanami.core.kernels.rows import (
    request_rows_classic,
    request_rows_default,
    train_one_classic,
    train_one_default,
    train_rows_classic,
    train_rows_default,
)
from hanami.core.kernels.structure import add_neuron_block
from hanami.core.state import as_ref


class ProfileKernels(NamedTuple):
    """The compiled entry points of one profile; all take ``(S, P, ...)``, with ``S`` a
    :class:`~hanami.core.state.StateRef` and ``P`` the cluster's ``Params``."""

    forward: Any  # (S, P, x, train): one pass over all hexagons for input row x
    grow: Any  # (S, P): the structure changes requested during a training pass
    backward: Any  # (S, P): backpropagation and weight step
    reduce: Any  # (S, P): one reduction cycle
    train_one: Any  # (S, P, x, y): one training step
    train_rows: Any  # (S, P, X, Y, rows, start, stop, seen) -> where it stopped
    request_rows: Any  # (S, P, X, out): forward passes without learning


KERNELS = {
    "classic": ProfileKernels(
        forward_classic, update_cluster_classic, backward_classic, reduce_classic,
        train_one_classic, train_rows_classic, request_rows_classic,
    ),
    "default": ProfileKernels(
        forward_default, create_pending_sections, backward_default, reduce_default,
        train_one_default, train_rows_default, request_rows_default,
    ),
}  # fmt: skip

__all__ = ["KERNELS", "ProfileKernels", "add_neuron_block", "as_ref", "update_neurons"]

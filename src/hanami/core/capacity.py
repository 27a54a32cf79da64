"""How a cluster's buffers grow, and where they stop growing (:attr:`Capacity.max_bytes`).

A part of :class:`~hanami.core.cluster.Cluster` (its base class), kept apart because it is
one job. A cluster grows while it learns (blocks, sections, longer sections), so a stream
can make it as large as memory allows; a server holding many users' clusters needs a bound
on each. With ``max_bytes`` set, the buffers never grow past it: the cluster keeps learning
with the structure it has, and a structure change that finds no room is skipped, as the
kernels do when the spare reserve runs short (docs/engine.md, A memory limit per cluster).
"""

from __future__ import annotations

from hanami.core import state as st
from hanami.core.profiles import Params, Profile


class Capacity:
    """Growing the buffers (methods of :class:`~hanami.core.cluster.Cluster`)."""

    profile: Profile
    _state: st.State
    _params: Params
    _max_bytes: int | None = None

    @property
    def max_bytes(self) -> int | None:
        """The most bytes the cluster's buffers may take (None: no limit). Not part of a
        checkpoint: whoever holds the cluster sets it (a server, from its settings)."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, limit: int | None) -> None:
        if limit is not None and limit <= 0:
            raise ValueError(f"max_bytes must be positive or None, not {limit}")
        self._max_bytes = limit
        # the next row short of room asks _grow again, which applies the new limit
        self._params = self._params._replace(grows=True)

    @property
    def at_memory_limit(self) -> bool:
        """Whether growing stopped at :attr:`max_bytes` (the cluster still learns)."""
        return not self._params.grows

    def _grow(self, extra_nb: int = 0, extra_cb: int = 0, extra_hex: int = 0) -> None:
        """Make room for the reserve the kernels want before a row, plus ``extra`` blocks
        (wider inputs or outputs: always granted, their widths are the data's). Growth for
        learning alone stops at :attr:`max_bytes`."""
        s = self._state
        nb = int(s.meta[st.M_NB])
        reserve = self._params.reserve_blocks + nb // 2
        cb = int(s.meta[st.M_CB])
        hex_used = int(max(s.hx_nnb.max(initial=0), s.hx_ncb.max(initial=0)))
        want = {"nb_cap": nb + extra_nb + reserve, "cb_cap": cb + extra_cb + reserve,
                "hex_cap": hex_used + extra_hex + reserve}  # fmt: skip
        have = {"nb_cap": s.nb_hex.shape[0], "cb_cap": s.cb_hex.shape[0],
                "hex_cap": s.hx_nb.shape[1]}  # fmt: skip
        if all(want[k] <= have[k] for k in want):
            return
        roomy = {k: max(have[k], want[k] * 3 // 2) if want[k] > have[k] else have[k] for k in want}
        caps = roomy
        if self._max_bytes is not None and not (extra_nb or extra_cb or extra_hex):
            tight = {k: max(have[k], want[k]) for k in want}
            caps = next((c for c in (roomy, tight) if self._fits(**c)), None)
            if caps is None:
                self._params = self._params._replace(grows=False)
                return
        self._state = st.grow(s, self.profile.neurons_per_block, **caps)

    def _fits(self, **sizes: int) -> bool:
        """Whether the buffers at these sizes stay within :attr:`max_bytes`."""
        if "nb_cap" in sizes:
            sizes["neurons"] = sizes["nb_cap"] * self.profile.neurons_per_block
        return self._max_bytes is None or st.nbytes(self._state, **sizes) <= self._max_bytes

    def _lengthen(self, i: int, n: int) -> int:
        """Where training from row ``i`` of ``n`` must pause for the sections to lengthen
        (``Params.long_synapses`` after ``long_after`` samples); lengthens them when due,
        unless that would pass :attr:`max_bytes` (then they keep their length)."""
        p, s = self._params, self._state
        if p.long_synapses <= s.s_w.shape[2]:
            return n
        due = p.long_after - int(s.meta[st.M_SAMPLES])
        if due > 0:
            return min(n, i + due)
        if self._fits(syn=p.long_synapses):
            self._state = st.lengthen(s, p.long_synapses)
        else:
            self._params = p._replace(long_synapses=s.s_w.shape[2])
        return n

"""Views that Numba does not count.

Numba counts a reference to an array's memory (an atomic add on its meminfo) for every
view made and every variable it is bound to, and drops it again when the variable dies;
its pruning pass removes such a pair only within one basic block or simple diamond, so
the views handed to a walk per block and row stayed counted (docs/engine.md, Time per
sample, twenty-fourth round). A *borrowed* view is the same array without the meminfo:
Numba's ``NRT_incref``/``NRT_decref`` return at once on a null meminfo, and once they are
inlined LLVM removes them. It is safe only while the parent array is alive and is not
replaced: a borrowed view must not outlive the kernel call that made it, nor be returned
or stored.
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


@intrinsic
def borrowed(typingctx, ary):
    """``ary`` as a view without a meminfo (see the module's docstring)."""
    if not isinstance(ary, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = make_array(ary)(context, builder, args[0])
        out = make_array(ary)(context, builder)
        populate_array(out, data=src.data, shape=src.shape, strides=src.strides,
                       itemsize=src.itemsize, meminfo=None)  # fmt: skip
        return out._getvalue()

    return ary(ary), codegen

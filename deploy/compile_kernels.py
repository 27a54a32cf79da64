"""Compile every engine kernel into the Numba cache (``NUMBA_CACHE_DIR``) while the image is
built, so that a container's first task does not wait for the compiler.

One tiny cluster per profile trains and answers two rows: that runs every kernel the service
calls (the kernels are chosen by profile, and all profiles share the same argument types).
"""

from __future__ import annotations

from hanami.cli.bench import warm_up
from hanami.core.profiles import PROFILES

TEMPLATE = """\
version: 1
settings:
    profile: {profile}
hexagons:
    1,1,1
    2,1,1
inputs:
    x: 1,1,1
outputs:
    y: 2,1,1
"""

if __name__ == "__main__":
    for name in PROFILES:
        print(f"{name}: {warm_up(TEMPLATE.format(profile=name)):.1f} s", flush=True)

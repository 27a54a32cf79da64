"""The value walks' one-test check of a fully covered synapse (``walks._bar``) against the
two tests it replaces, on the edges: a potential at the threshold or just above it, a border
equal to the potential, below the threshold, zero, and NaNs."""

from __future__ import annotations

import numpy as np

from hanami.core.kernels import walks
from hanami.core.state import UNUSED_TARGET

f32 = np.float32
THR = f32(0.01)
ABOVE = np.nextafter(THR, f32(np.inf))
NAN = f32(np.nan)
# one section per row: potential q, then its borders (the walks stop before a free position)
CASES = [
    (THR, [f32(0.005), f32(1.0)]),
    (ABOVE, [f32(0.005), f32(1.0)]),
    (ABOVE, [ABOVE, f32(1.0)]),
    (f32(0.3), [f32(0.1), f32(0.1), f32(0.1), f32(0.1)]),
    (f32(0.3), [f32(0.3), f32(0.2)]),
    (f32(0.3), [f32(0.0), f32(0.29), f32(0.5)]),
    (f32(0.3), [f32(0.0095), f32(0.2905), f32(0.5)]),
    (f32(0.3), [NAN, f32(0.1), f32(0.5)]),
    (f32(0.005), [NAN, f32(0.1)]),
    (NAN, [f32(0.1), f32(0.2)]),
    (f32(4.0), [f32(0.5)] * 6),  # a full section, potential left (chained already)
]


def _sections(syn: int = 6) -> tuple[np.ndarray, ...]:
    """Borders, weights and targets of the cases, unused positions past each one's borders."""
    n = len(CASES)
    sb = np.zeros((n, syn), dtype=f32)
    sw = np.zeros((n, syn), dtype=f32)
    st_ = np.full((n, syn), UNUSED_TARGET, dtype=np.uint8)
    for slot, (_, borders) in enumerate(CASES):
        sb[slot, : len(borders)] = borders
        sw[slot, : len(borders)] = np.arange(1, len(borders) + 1, dtype=f32) * f32(0.25)
        st_[slot, : len(borders)] = np.arange(len(borders)) + slot
    return sb, sw, st_


def _request_reference(sw, sb, st_, slot, q, n_in):
    """``walk_value`` as it was: a threshold test, then a border test."""
    for k in range(sw.shape[1]):
        t = st_[slot, k]
        if q <= THR or t == UNUSED_TARGET:
            break
        b = sb[slot, k]
        if q < b:
            n_in[t] += sw[slot, k] * (q / b)
            break
        n_in[t] += sw[slot, k]
        q = f32(q - b)


def test_the_request_walk_adds_what_the_two_tests_added():
    sb, sw, st_ = _sections()
    for slot, (q, _) in enumerate(CASES):
        got = np.zeros(32, dtype=f32)
        want = np.zeros(32, dtype=f32)
        walks.walk_value(sw, sb, st_, slot, q, got, THR)
        _request_reference(sw, sb, st_, slot, q, want)
        assert got.tobytes() == want.tobytes(), slot


def test_the_training_walk_stops_where_the_two_tests_stopped():
    """Sections without free positions on the way and no growth rule (no split, no
    halving): the training walk adds and stops as its loop with the two tests did (which
    stopped at once on a NaN potential, unlike the request walk)."""
    sb, sw, st_ = _sections()
    n, syn = sb.shape
    lst = np.arange(n, dtype=np.int64)
    c_pot = np.array([q for q, _ in CASES], dtype=f32)
    zeros_u8, ones_u8 = np.zeros(n, dtype=np.uint8), np.ones(n, dtype=np.uint8)
    c_stop = np.zeros(n, dtype=np.uint8)
    n_in = np.zeros(32, dtype=f32)
    walks.walk_train_default(
        lst, n, np.zeros(n, dtype=np.int32), ones_u8, np.zeros(n, dtype=f32), c_pot, ones_u8,
        c_stop, sw, sb.copy(), st_, zeros_u8.repeat(syn).reshape(n, syn),
        np.zeros((n, syn), dtype=f32), n_in, np.zeros(4, dtype=np.int32),
        np.zeros(4, dtype=np.int32), np.zeros((4, 4), dtype=np.float32),
        np.zeros(16, dtype=np.int64), 0, 0, 8, THR, 0.0125, 0, 0, f32(0.1), 1, False, syn, True,
    )  # fmt: skip
    want = np.zeros(32, dtype=f32)
    stops = []
    for slot, (q, _) in enumerate(CASES):
        k = 0
        while k < syn and q > THR and st_[slot, k] != UNUSED_TARGET:
            b = sb[slot, k]
            if q < b:
                want[st_[slot, k]] += sw[slot, k] * (q / b)
                k += 1
                break
            want[st_[slot, k]] += sw[slot, k]
            q = f32(q - b)
            k += 1
        stops.append(k)
    assert n_in.tobytes() == want.tobytes()
    assert c_stop.tolist() == stops

"""Checkpoints: one versioned file per cluster, written atomically and verified on load.

Layout (all integers little-endian)::

    0   8  magic  b"HNMCKPT\\0"
    8   4  format version (1)
    12  4  header length H
    16  8  payload length L
    24 32  SHA-256 of header + payload
    56  H  header: UTF-8 JSON (template text, output sizes, RNG state, array index)
    56+H L payload: the used part of every state buffer, raw, in header order

The payload holds everything that decides future outputs, target lists and RNG states
included, so a restored cluster continues exactly like the saved one. Capacity is not
saved; it is re-created on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hanami.core import state as st
from hanami.core.profiles import PROFILES
from hanami.core.template import parse_template

if TYPE_CHECKING:
    from hanami.core.cluster import Cluster

MAGIC = b"HNMCKPT\0"
VERSION = 1
_PREFIX = struct.Struct("<8sIIQ32s")
_ADDED_FIELDS = {
    "s_v": "s_w",  # adaptive steps: none taken yet
    **dict.fromkeys(("hx_rows", "hx_level", "hx_ref", "hx_gain"), "hx_flags"),  # input gain
}
"""State fields added since the first checkpoints, each with an older field of its shape:
a file written before one was added loads with that field fresh (its fill value)."""


class CheckpointError(ValueError):
    """The file is not a readable Hanami checkpoint (foreign, corrupt, truncated, newer)."""


def to_bytes(cluster: Cluster) -> bytes:
    """Serialise ``cluster`` into the checkpoint format."""
    arrays = st.trimmed(cluster._state)
    index, chunks, offset = [], [], 0
    for name, array in arrays.items():
        data = array.tobytes()
        index.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape),
                      "offset": offset, "size": len(data)})  # fmt: skip
        chunks.append(data)
        offset += len(data)
    header = json.dumps({
        "template": cluster.template.to_text(),
        "output_sizes": [int(n) for n in cluster._out_n],
        "python_rng": cluster._rng.bit_generator.state,
        "arrays": index,
    }).encode()  # fmt: skip
    payload = b"".join(chunks)
    digest = hashlib.sha256(header + payload).digest()
    return _PREFIX.pack(MAGIC, VERSION, len(header), len(payload), digest) + header + payload


def save(cluster: Cluster, path: str | os.PathLike[str]) -> Path:
    """Write a checkpoint atomically: a reader sees the old file or the new one, never half."""
    path = Path(path)
    data = to_bytes(cluster)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_digest(path: str | os.PathLike[str]) -> bytes:
    """The SHA-256 a checkpoint file names in its prefix: which state it holds, unread."""
    with open(path, "rb") as f:
        prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
        raise CheckpointError(f"{path}: not a Hanami checkpoint")
    return _PREFIX.unpack(prefix)[4]


def load(path: str | os.PathLike[str]) -> Cluster:
    """Read a checkpoint file written by :func:`save`."""
    return from_bytes(Path(path).read_bytes(), source=str(path))


def from_bytes(data: bytes, *, source: str = "checkpoint") -> Cluster:
    """Rebuild a cluster from checkpoint bytes, verifying size, checksum and contents."""
    if len(data) < _PREFIX.size:
        raise CheckpointError(f"{source}: {len(data)} bytes is too short for a checkpoint")
    magic, version, hlen, plen, digest = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CheckpointError(f"{source}: not a Hanami checkpoint (bad magic {magic!r})")
    if version != VERSION:
        raise CheckpointError(f"{source}: checkpoint format {version} is not supported "
                              f"(this version reads {VERSION})")  # fmt: skip
    expected = _PREFIX.size + hlen + plen
    if len(data) != expected:
        raise CheckpointError(f"{source}: truncated or padded: {len(data)} bytes, "
                              f"header says {expected}")  # fmt: skip
    body = data[_PREFIX.size :]
    if hashlib.sha256(body).digest() != digest:
        raise CheckpointError(f"{source}: checksum mismatch, the file is corrupt")
    try:
        header = json.loads(body[:hlen])
        payload = memoryview(body)[hlen:]
        arrays = {}
        for entry in header["arrays"]:
            start, size = entry["offset"], entry["size"]
            if start < 0 or start + size > plen:
                raise CheckpointError(f"{source}: array {entry['name']} lies outside the file")
            arrays[entry["name"]] = (
                np.frombuffer(payload[start : start + size], dtype=np.dtype(entry["dtype"]))
                .reshape(entry["shape"])
                .copy()
            )
        cluster = restore(header["template"], header["output_sizes"], header["python_rng"],
                          arrays)  # fmt: skip
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: inconsistent checkpoint contents ({exc})") from exc
    return cluster


def restore(template_text: str, output_sizes: list[int], rng_state: dict,
            arrays: dict[str, np.ndarray]) -> Cluster:  # fmt: skip
    """A cluster with the saved buffers, once they fit the template and its profile."""
    from hanami.core.cluster import Cluster

    template = parse_template(template_text)
    profile = PROFILES[template.settings.profile]
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    for name, like in _ADDED_FIELDS.items():
        if name not in arrays and like in arrays:
            arrays[name] = np.full(arrays[like].shape, st.fill_value(name))
    missing = set(st.State._fields) - set(arrays)
    if missing:
        raise ValueError(f"missing arrays {sorted(missing)}")
    state = st.State(**{f.name: arrays[f.name].astype(f.dtype, copy=False)
                        for f in st.FIELDS})  # fmt: skip
    if state.hx_flags.shape[0] != len(template.hexagons):
        raise ValueError("hexagon count differs from the template")
    if state.n_in.shape[0] != state.nb_hex.shape[0] * profile.neurons_per_block:
        raise ValueError("neuron buffers do not match the profile's block size")
    return Cluster._restored(template, state, np.asarray(output_sizes, dtype=np.int64), rng)

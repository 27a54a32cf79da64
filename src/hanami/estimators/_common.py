"""Pieces shared by the scikit-learn and River adapters (NumPy and the engine only).

Feature encoding
    The engine takes raw input values and only a value above 0 activates an input neuron.
    Each feature ``x`` therefore becomes two input columns, ``max(x, 0) * input_scale`` and
    ``max(-x, 0) * input_scale`` (positive and negative part, interleaved: feature ``j`` owns
    columns ``2j`` and ``2j + 1``), so that negative values carry information and new features
    can be appended on the right without moving the old ones. The profiles' ``input_quantiles``
    apply this to ``x - c`` for several running quantiles ``c`` of each feature
    (``hanami.estimators._coding``); without them, to ``x`` itself.

    ``input_scale`` mostly decides which small values still count: a walk stops below the
    profile's threshold (0.01 for "default"), so with ``input_scale=1`` a feature of magnitude
    below 0.01 is invisible. Beyond that the default profile is nearly scale-free (the first
    synapse of a section takes the whole first potential as its border). Measured on
    standardised data (5 seeds): two blobs 0.989-0.991 accuracy for every scale from 0.1 to
    1000; sin R² 0.92-0.95; iris (20 epochs) 0.97 at 1, 0.95-0.97 at 10-1000 but 0.91 at 0.1.
    100 is the default.

Target scaling (regression)
    Outputs are sigmoids in (0, 1). Targets are mapped linearly from the observed
    ``[min, max]`` of each output onto ``[TARGET_LOW, TARGET_HIGH]`` and predictions back.
    A constant target maps to the middle of that interval. When a later batch widens the
    range, the range is widened (never narrowed): what the network learned so far is then
    read in the new range until further training corrects it.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable

import numpy as np

from hanami.core import Cluster, Template, parse_template

__all__ = [
    "DEFAULT_INPUT_SCALE",
    "ML_EXTRA_HINT",
    "TARGET_HIGH",
    "TARGET_LOW",
    "build_template",
    "encode_features",
    "generated_template_text",
    "ordered_new_keys",
    "request",
    "scale_targets",
    "unscale_outputs",
]

DEFAULT_INPUT_SCALE = 100.0
# Regression targets are learned inside [TARGET_LOW, TARGET_HIGH]: the sigmoid outputs reach
# the ends of (0, 1) only with very large inputs, so a margin keeps the extremes learnable.
TARGET_LOW = 0.1
TARGET_HIGH = 0.9
_F32_MAX = float(np.finfo(np.float32).max)

ML_EXTRA_HINT = (
    "the Hanami estimators need scikit-learn and River; install them with "
    "`pip install 'hanami[ml]'`"
)


def generated_template_text(profile: str, hidden_hexagons: int) -> str:
    """A line of hexagons: input, ``hidden_hexagons`` hidden ones, output."""
    n = int(hidden_hexagons) + 2
    hexagons = "\n".join(f"    {i},1,1" for i in range(1, n + 1))
    return (
        "version: 1\n"
        "settings:\n"
        f"    profile: {profile}\n"
        "hexagons:\n"
        f"{hexagons}\n"
        "inputs:\n"
        "    x: 1,1,1\n"
        "outputs:\n"
        f"    y: {n},1,1\n"
    )


def build_template(template: str | None, profile: str, hidden_hexagons: int) -> Template:
    """The parsed template of an estimator: ``template`` text if given, else generated.

    A user template must have exactly one input and one output of the plain type.
    """
    if template is None:
        return _generated_template(profile, int(hidden_hexagons))
    parsed = parse_template(template)
    if len(parsed.inputs) != 1 or len(parsed.outputs) != 1:
        raise ValueError(
            "a template for the Hanami estimators needs exactly one input and one output, "
            f"found inputs {[i.name for i in parsed.inputs]} and "
            f"outputs {[o.name for o in parsed.outputs]}"
        )
    if parsed.outputs[0].type != "plain":
        raise ValueError(
            f"the template's output {parsed.outputs[0].name!r} must be plain (no type suffix), "
            f"found {parsed.outputs[0].type!r}"
        )
    return parsed


@functools.lru_cache(maxsize=64)
def _generated_template(profile: str, hidden_hexagons: int) -> Template:
    """The parsed generated template, parsed once per process and setting (bounded: the
    hidden hexagon count is the user's): templates are immutable, and parsing cost about
    80 µs of every new estimator (docs/engine.md, Time per sample)."""
    return parse_template(generated_template_text(profile, hidden_hexagons))


def encode_features(X: np.ndarray, input_scale: float) -> np.ndarray:
    """``[n, d]`` features -> ``[n, 2d]`` float32 engine inputs (positive, negative part).

    Both parts are computed in one scratch array, in place: a fresh temporary per step
    (six of them) was several times slower on a large batch, its pages faulted in anew
    (phishing's 1,250 x 27 values: 377 → 100 µs; docs/engine.md, Time per sample)."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty((X.shape[0], 2 * X.shape[1]), dtype=np.float32)
    scale = float(input_scale)
    part = np.maximum(X, 0.0)
    part *= scale
    out[:, 0::2] = np.minimum(part, _F32_MAX, out=part)
    np.negative(X, out=part)
    np.maximum(part, 0.0, out=part)
    part *= scale
    out[:, 1::2] = np.minimum(part, _F32_MAX, out=part)
    return out


def request(cluster: Cluster, inputs: np.ndarray) -> np.ndarray:
    """Outputs as float64; a prediction leaves no trace on later learning."""
    return np.asarray(cluster.request(inputs, stateless=True), dtype=np.float64)


def scale_targets(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map targets from ``[low, high]`` (per column) onto ``[TARGET_LOW, TARGET_HIGH]``."""
    span = high - low
    safe = np.where(span > 0, span, 1.0)
    unit = np.where(span > 0, (y - low) / safe, 0.5)
    return (TARGET_LOW + np.clip(unit, 0.0, 1.0) * (TARGET_HIGH - TARGET_LOW)).astype(np.float32)


def unscale_outputs(
    out: np.ndarray, low: np.ndarray, high: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Inverse of :func:`scale_targets`; an output of exactly 0 (nothing reached the output
    neuron) becomes ``fallback`` (the mean target seen in training)."""
    unit = (out - TARGET_LOW) / (TARGET_HIGH - TARGET_LOW)
    values = low + unit * (high - low)
    return np.where(out == 0.0, fallback, values)


def ordered_new_keys(keys: Iterable[Hashable], known: dict) -> list:
    """Keys not yet in ``known``, in a deterministic order that ignores the dict's order.

    Features are mapped to columns in first-seen order; several features first seen in the
    same sample are ordered by type name and text, so the same stream gives the same network
    whatever the order of the keys inside each dict.
    """
    new = [k for k in keys if k not in known]
    return sorted(new, key=lambda k: (type(k).__name__, str(k), repr(k)))

"""River (online learning) estimators on a growing Hanami network.

Features are mapped to input columns in the order they are first seen (features first seen
in the same sample are ordered by name, so the order of keys in the dicts does not matter);
a new feature widens the network's input on demand. A missing feature, ``None`` or NaN
counts as 0 (in the plain coding, that activates nothing). New labels (classifier) widen
the output on demand.

>>> import random
>>> from hanami.estimators import HanamiRiverClassifier
>>> rng = random.Random(0)
>>> model = HanamiRiverClassifier(seed=0)
>>> for _ in range(200):
...     label = rng.random() < 0.5
...     centre = 2.0 if label else -2.0
...     model.learn_one({"a": rng.gauss(centre, 1.0), "b": rng.gauss(centre, 1.0)}, label)
>>> model.predict_one({"a": 1.5, "b": 2.0}), model.predict_one({"a": -2.0, "b": -1.5})
(True, False)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hanami.estimators._common import ML_EXTRA_HINT

try:
    from river import base
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"{ML_EXTRA_HINT} ({exc})") from exc

from hanami.core import PROFILES, Cluster
from hanami.estimators._coding import FeatureCoder
from hanami.estimators._common import (
    DEFAULT_INPUT_SCALE,
    build_template,
    ordered_new_keys,
    request,
    scale_targets,
    unscale_outputs,
)
from hanami.estimators._signal import SignalWatch

__all__ = ["HanamiRiverClassifier", "HanamiRiverRegressor"]


class _HanamiRiverBase:
    """Feature mapping, lazy cluster and pickling shared by both River estimators."""

    def __init__(
        self,
        profile: str | None = None,
        hidden_hexagons: int = 1,
        input_scale: float = DEFAULT_INPUT_SCALE,
        seed: int | None = None,
        template: str | None = None,
    ) -> None:
        # River converts parameters here by convention; they are kept verbatim so that
        # clone/repr round-trip, and validated (once) when the network is built.
        self.profile = profile
        self.hidden_hexagons = hidden_hexagons
        self.input_scale = input_scale
        self.seed = seed
        self.template = template
        self._features: dict[Any, int] = {}
        self._cluster: Cluster | None = None
        self._signal = SignalWatch(self._min_outputs)

    @classmethod
    def _unit_test_params(cls):
        # unseeded (adds River's seeding check) and the other profile without hidden hexagon
        yield {}
        yield {"profile": "classic", "hidden_hexagons": 0, "seed": 7}

    def _unit_test_skips(self) -> set[str]:
        # Every River check passes; a check that had to be skipped would be named here.
        return set()

    def _validate_params(self) -> None:
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {self.profile!r}")
        if isinstance(self.hidden_hexagons, bool) or not isinstance(self.hidden_hexagons, int):
            raise TypeError(f"hidden_hexagons must be an int, got {self.hidden_hexagons!r}")
        if self.hidden_hexagons < 0:
            raise ValueError(f"hidden_hexagons must be >= 0, got {self.hidden_hexagons}")
        if not (isinstance(self.input_scale, (int, float)) and self.input_scale > 0):
            raise ValueError(f"input_scale must be a positive number, got {self.input_scale!r}")
        if self.seed is not None and not (isinstance(self.seed, int) and self.seed >= 0):
            raise ValueError(f"seed must be None or an int >= 0, got {self.seed!r}")

    def _ensure_cluster(self) -> Cluster:
        if self._cluster is None:
            self._validate_params()
            profile = self.profile or self._default_profile
            template = build_template(self.template, profile, self.hidden_hexagons)
            self._cluster = Cluster(template, seed=self.seed)
            self._coder = FeatureCoder(PROFILES[template.settings.profile].input_quantiles,
                                       self.input_scale)  # fmt: skip
        return self._cluster

    def _register(self, x: dict) -> None:
        for key in ordered_new_keys(x.keys(), self._features):
            self._features[key] = len(self._features)

    def _inputs(self, x: dict, learn: bool) -> np.ndarray:
        """Engine inputs of ``x`` (``hanami.estimators._coding``); unknown features are
        ignored; ``learn``: ``x`` is a training row."""
        row = np.zeros((1, len(self._features)), dtype=np.float64)
        for key, value in x.items():
            col = self._features.get(key)
            if col is None or value is None:
                continue
            try:
                v = float(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"feature {key!r} has the non-numeric value {value!r}; encode it first "
                    "(e.g. river.preprocessing.OneHotEncoder)"
                ) from exc
            row[0, col] = v if math.isfinite(v) else 0.0
        return self._coder.encode(row, learn)

    def _outputs(self, x: dict) -> np.ndarray | None:
        """Outputs for ``x`` (1-D float64), or None before any feature was learned;
        followed by the dead-network check."""
        if self._cluster is None or not self._features:
            return None
        inputs = self._inputs(x, learn=False)
        out = request(self._cluster, inputs)
        self._signal.answers(inputs, out)
        return out[0]

    def _learn(self, x: dict, target: np.ndarray) -> None:
        cluster = self._ensure_cluster()
        self._register(x)
        if not self._features:  # an empty dict: nothing to learn from
            return
        inputs = self._inputs(x, learn=True)
        expected = target.reshape(1, -1).astype(np.float32)
        seen = cluster.train(inputs, expected, return_outputs=True).outputs
        self._signal.answers(inputs, seen[:, : expected.shape[1]])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        cluster = state.pop("_cluster")
        state["_cluster_checkpoint"] = None if cluster is None else cluster.to_bytes()
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        data = state.pop("_cluster_checkpoint", None)
        state["_cluster"] = None if data is None else Cluster.from_bytes(data)
        self.__dict__.update(state)


class HanamiRiverClassifier(_HanamiRiverBase, base.Classifier):
    """Online classifier: one output neuron per label, labels in first-seen order.

    ``predict_proba_one`` normalises the outputs over the labels seen so far; where nothing
    reaches the outputs it is the frequencies of the labels learned so far (the best guess
    without evidence), with a ``NoSignalWarning``, and before any learning it is ``{}`` (so
    ``predict_one`` returns None). A network that answers the same for different inputs
    raises a ``DeadNetworkWarning`` (``hanami.estimators._signal`` has both).

    Parameters
    ----------
    profile
        Engine profile of the generated template: "stream", "default" or "classic"; None
        is "stream" here and "default" for the regressor (docs/engine.md has why).
    hidden_hexagons
        Hexagons between the input and the output hexagon of the generated template.
    input_scale
        Factor applied to the positive and negative part of each feature.
    seed
        Seeds the network; None draws one.
    template
        Template text used instead of the generated one (one input, one plain output).
    """

    _default_profile = "stream"  # profile=None
    _min_outputs = 2  # answers judged by the dead-network check (see SignalWatch)

    def __init__(
        self,
        profile: str | None = None,
        hidden_hexagons: int = 1,
        input_scale: float = DEFAULT_INPUT_SCALE,
        seed: int | None = None,
        template: str | None = None,
    ) -> None:
        super().__init__(profile, hidden_hexagons, input_scale, seed, template)
        self._classes: list = []
        self._counts: list[int] = []  # rows learned per label: the prior

    @property
    def _multiclass(self) -> bool:
        return True

    def learn_one(self, x: dict, y: Any) -> None:
        if y not in self._classes:
            self._classes.append(y)
            self._counts.append(0)
        k = self._classes.index(y)
        self._counts[k] += 1
        target = np.zeros(len(self._classes), dtype=np.float32)
        target[k] = 1.0
        self._learn(x, target)

    def predict_proba_one(self, x: dict, **kwargs: Any) -> dict:
        if not self._classes:
            return {}
        n = len(self._classes)
        out = self._outputs(x)
        values = np.zeros(n) if out is None else np.clip(out[:n], 0.0, None)
        if values.size < n:
            values = np.concatenate([values, np.zeros(n - values.size)])
        total = float(values.sum())
        self._signal.no_signal(np.array([total <= 0.0]), "the label frequencies learned so far")
        if total <= 0.0:
            values, total = np.asarray(self._counts, dtype=np.float64), float(sum(self._counts))
        return {c: float(v) / total for c, v in zip(self._classes, values, strict=True)}


class HanamiRiverRegressor(_HanamiRiverBase, base.Regressor):
    """Online regressor: one output neuron, target scaled by its running range.

    The target is mapped from the running ``[min, max]`` seen so far onto ``[0.1, 0.9]``
    (the range only widens; the first sample maps to the middle), and predictions are mapped
    back, so they stay within the range seen. Before any learning the prediction is 0.0;
    where nothing reaches the output neuron it is the running mean of the targets, with a
    ``NoSignalWarning``.

    Parameters are those of :class:`HanamiRiverClassifier`.
    """

    _default_profile = "default"  # profile=None
    _min_outputs = 1

    def __init__(
        self,
        profile: str | None = None,
        hidden_hexagons: int = 1,
        input_scale: float = DEFAULT_INPUT_SCALE,
        seed: int | None = None,
        template: str | None = None,
    ) -> None:
        super().__init__(profile, hidden_hexagons, input_scale, seed, template)
        self._y_min = math.inf
        self._y_max = -math.inf
        self._y_mean = 0.0
        self._n = 0

    def learn_one(self, x: dict, y: float) -> None:
        y = float(y)
        if not math.isfinite(y):
            raise ValueError(f"the target must be finite, got {y!r}")
        self._y_min = min(self._y_min, y)
        self._y_max = max(self._y_max, y)
        self._n += 1
        self._y_mean += (y - self._y_mean) / self._n
        target = scale_targets(np.array([y]), np.array([self._y_min]), np.array([self._y_max]))
        self._learn(x, target)

    def predict_one(self, x: dict) -> float:
        out = self._outputs(x)
        if self._n:
            silent = out is None or out[0] == 0.0
            self._signal.no_signal(np.array([silent]), "the mean target learned so far")
        if out is None:
            return float(self._y_mean)
        pred = unscale_outputs(out[:1], np.array([self._y_min]), np.array([self._y_max]),
                               np.array([self._y_mean]))  # fmt: skip
        return float(pred[0])

"""What both scikit-learn estimators share: parameters, the cluster, training and pickling.

The classifier and the regressor (:mod:`hanami.estimators._sklearn`) differ only in how
targets become outputs and outputs become answers; everything around the engine is here.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from hanami.estimators._common import ML_EXTRA_HINT

try:
    from sklearn.base import BaseEstimator
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"{ML_EXTRA_HINT} ({exc})") from exc

from hanami.core import PROFILES, Cluster
from hanami.estimators._coding import FeatureCoder
from hanami.estimators._common import DEFAULT_INPUT_SCALE, build_template, request
from hanami.estimators._signal import SignalWatch

__all__ = ["HanamiBase"]

_SEED_BOUND = 2**31 - 1


class HanamiBase(BaseEstimator):
    """Parameters, cluster life cycle, training loop and pickling shared by both estimators."""

    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's convention
        "profile": [StrOptions(set(PROFILES)), None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "input_scale": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "hidden_hexagons": [Interval(Integral, 0, None, closed="left")],
        "template": [str, None],
    }

    def __init__(
        self,
        *,
        profile: str | None = None,
        epochs: int = 1,
        shuffle: bool = False,
        input_scale: float = DEFAULT_INPUT_SCALE,
        random_state=None,
        hidden_hexagons: int = 1,
        template: str | None = None,
    ) -> None:
        self.profile = profile
        self.epochs = epochs
        self.shuffle = shuffle
        self.input_scale = input_scale
        self.random_state = random_state
        self.hidden_hexagons = hidden_hexagons
        self.template = template

    # ------------------------------------------------------------------ cluster

    def _new_cluster(self) -> None:
        """A fresh, untrained cluster, its coder and the seed of its shuffling."""
        profile = self.profile or self._default_profile
        template = build_template(self.template, profile, self.hidden_hexagons)
        rs = self.random_state
        if isinstance(rs, Integral) and not isinstance(rs, bool):
            seed = int(rs)  # the network of HanamiRiverClassifier(seed=rs), and Cluster(seed=rs)
        else:
            seed = int(check_random_state(rs).randint(0, _SEED_BOUND))
        self.cluster_ = Cluster(template, seed=seed)
        self._coder = FeatureCoder(PROFILES[template.settings.profile].input_quantiles,
                                   self.input_scale)  # fmt: skip
        self._seed = seed
        self._shuffler: np.random.Generator | None = None  # made on the first shuffle
        self._signal = SignalWatch(self._min_outputs)

    def _train(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> np.ndarray:
        """Train ``epochs`` passes; returns the outputs ``[n, width]`` of the last pass's
        rows before each was learned (in visiting order), which also feed the dead-network
        check."""
        for _ in range(epochs):
            order = self._order(X.shape[0])
            rows = X if order is None else X[order]
            inputs = self._coder.encode(rows, learn=True)
            expected = np.ascontiguousarray(Y if order is None else Y[order], dtype=np.float32)
            seen = self.cluster_.train(inputs, expected, return_outputs=True).outputs
        seen = seen[:, : Y.shape[1]]
        self._signal.answers(inputs, seen)
        return seen

    def _order(self, n: int) -> np.ndarray | None:
        """A pass's visiting order: as given (None) unless ``shuffle``. The generator is
        seeded on the first shuffle, as a new estimator's first pass rarely shuffles
        (``default_rng`` was 7.5 µs of each; docs/engine.md, Time per sample, Eighth
        round)."""
        if not self.shuffle:
            return None
        if self._shuffler is None:
            self._shuffler = np.random.default_rng(self._seed)
        return self._shuffler.permutation(n)

    def _outputs(self, X) -> np.ndarray:
        """Outputs ``[n, width]`` (float64) for validated ``X``, followed by the
        dead-network check."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        inputs = self._coder.encode(X, learn=False)
        out = request(self.cluster_, inputs)[:, : self._width]
        self._signal.answers(inputs, out)
        return out

    # ------------------------------------------------------------------ pickling

    def __getstate__(self):
        state = dict(super().__getstate__())
        cluster = state.pop("cluster_", None)
        if cluster is not None:
            state["_cluster_checkpoint"] = cluster.to_bytes()
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_cluster_checkpoint", None)
        if data is not None:
            state["cluster_"] = Cluster.from_bytes(data)
        super().__setstate__(state)

"""scikit-learn estimators on a growing Hanami network.

>>> import numpy as np
>>> from hanami.estimators import HanamiClassifier
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 200)
>>> X = rng.normal(size=(200, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
>>> model = HanamiClassifier(random_state=0).fit(X, y)
>>> model.predict([[-2.0, -1.5], [1.5, 2.0]]).tolist()
[0, 1]
"""

from __future__ import annotations

import warnings

import numpy as np

from hanami.estimators._common import ML_EXTRA_HINT

try:
    from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import validate_data
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"{ML_EXTRA_HINT} ({exc})") from exc

from hanami.estimators._common import scale_targets, unscale_outputs
from hanami.estimators._sklearn_base import HanamiBase

__all__ = ["HanamiClassifier", "HanamiRegressor", "prequential"]


def _validate_plain(
    estimator, X, y, reset: bool, numeric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``validate_data(estimator, X, y, reset=reset)`` for a classifier, or with
    ``numeric`` the regressor's ``validate_data(..., multi_output=True, y_numeric=True)``.

    Plain arrays, which its ``check_X_y`` would return as they are (a native float32 or
    float64 ``X`` of at least one row and column and finite values; 1-D integer or
    boolean labels, one per row, or with ``numeric`` 1-D or 2-D integer, boolean or
    finite native float32/float64 targets, one row per row and at least one column),
    need no check: where no feature names are known and the number of features is new
    (``reset``) or the same, all it would do is record that number. That took 127 µs on
    wine's rows, and 19 µs with ``skip_check_array``, which still looks for feature names
    in ``X`` (docs/engine.md, Time per sample, Eighth round), a part of every new
    estimator; a regressor's took 125 µs (eighteenth round). Anything else it checks
    itself."""
    kinds, dims = ("biuf", (1, 2)) if numeric else ("biu", (1,))
    plain = (
        type(X) is np.ndarray and type(y) is np.ndarray and X.ndim == 2 and y.ndim in dims
        and X.dtype.kind == "f" and X.dtype.itemsize in (4, 8) and X.dtype.isnative
        and y.dtype.kind in kinds and X.size > 0 and X.shape[0] == y.shape[0]
        and y.size > 0 and (y.dtype.kind != "f" or _finite_float(y))
        and not hasattr(estimator, "feature_names_in_")
        and (reset or getattr(estimator, "n_features_in_", None) == X.shape[1])
        and bool(np.isfinite(X).all())
    )  # fmt: skip
    if not plain:
        targets = {"multi_output": True, "y_numeric": True} if numeric else {}
        return validate_data(estimator, X, y, reset=reset, **targets)
    if reset:
        estimator.n_features_in_ = X.shape[1]
    return X, y


def _finite_float(y: np.ndarray) -> bool:
    """A native float32 or float64 array of finite values (what ``check_array`` returns
    as it is)."""
    return y.dtype.itemsize in (4, 8) and y.dtype.isnative and bool(np.isfinite(y).all())


def _check_labels(y: np.ndarray, classes: bool = False) -> None:
    """``check_classification_targets(y)`` for 1-D labels, or for the list of every class.

    Integer and boolean labels are of the types "binary" or "multiclass", which it
    accepts, and it warns for them only when more than half of more than 20 labels are
    distinct: such labels need no check of their own, which validated ``y`` again (about
    0.2 ms of every new estimator; docs/engine.md, Time per sample, Sixth and Eighth
    rounds). Any other labels, and the ones it would warn about, it checks itself. A list
    of distinct ``classes`` always has more than half of its labels distinct, so the warning,
    which is about samples, is never given for it (``classes=range(50)`` would warn on every
    first call)."""
    n = y.shape[0]
    if (
        y.ndim == 1
        and y.dtype.kind in "biu"
        and (classes or n <= 20 or len(np.unique(y)) <= round(0.5 * n))
    ):
        return
    with warnings.catch_warnings():
        if classes:
            warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)
        check_classification_targets(y)


class HanamiClassifier(ClassifierMixin, HanamiBase):
    """Classifier: one output neuron per class, trained per sample on one-hot targets.

    Parameters
    ----------
    profile : {"stream", "default", "classic"} or None, default=None
        Engine profile of the generated template; None is "stream", the profile measured
        best on one-pass classification streams (docs/engine.md). "classic" (OpenHanami's
        rules) grows its sparse output layer slowly and needs several epochs.
    epochs : int, default=1
        Passes over the data in :meth:`fit`. :meth:`partial_fit` always makes one pass.
    shuffle : bool, default=False
        Visit the samples of each pass in a random order (seeded by ``random_state``).
    input_scale : float, default=100.0
        Factor applied to the positive and negative part of each feature before it reaches
        the engine (see ``hanami.estimators._common``).
    random_state : int, RandomState instance or None, default=None
        Seeds the network (its growth and initial weights) and the shuffling.
    hidden_hexagons : int, default=1
        Hexagons between the input and the output hexagon of the generated template.
    template : str or None, default=None
        Template text used instead of the generated one (then ``profile`` and
        ``hidden_hexagons`` are ignored); it needs exactly one input and one plain output.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_count_ : ndarray of shape (n_classes,)
        Training rows seen per class (once per row, whatever ``epochs``): the prior that
        :meth:`predict_proba` answers for a row without signal.
    cluster_ : hanami.core.Cluster
        The trained network.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Warns
    -----
    DeadNetworkWarning
        When the network answers the same for different inputs (``hanami.estimators._signal``
        defines it), in training or prediction; once until it recovers.
    NoSignalWarning
        When :meth:`predict_proba` or :meth:`predict` answers the prior for a row that
        reached no output neuron; once until an answer has signal on every row.
    """

    _default_profile = "stream"  # profile=None
    _min_outputs = 2  # answers judged by the dead-network check (see SignalWatch)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train a fresh network for ``epochs`` passes over ``(X, y)``."""
        X, y = _validate_plain(self, X, y, reset=True)
        _check_labels(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.class_count_ = np.zeros(len(self.classes_))
        self._new_cluster()
        self._learn(X, codes, self.epochs)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One pass over ``(X, y)``, continuing the current network.

        ``classes`` (all labels that will ever appear) is required on the first call and,
        when given later, must equal the first one.
        """
        self._learn_pass(X, y, classes)
        return self

    def _learn_pass(self, X, y, classes) -> np.ndarray:
        """:meth:`partial_fit`'s pass; returns the outputs each row had before it was learned."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = _validate_plain(self, X, y, reset=first)
        _check_labels(y)
        if first:
            all_classes = np.unique(np.asarray(classes))
            _check_labels(all_classes, classes=True)
            self.classes_ = all_classes
            self.class_count_ = np.zeros(len(self.classes_))
            self._new_cluster()
        elif classes is not None and not np.array_equal(self.classes_, np.unique(classes)):
            raise ValueError(
                f"`classes={np.unique(classes)!r}` is not the same as on the first call to "
                f"partial_fit, which was {self.classes_!r}"
            )
        # the labels' places in the sorted classes also tell the unknown ones (np.setdiff1d
        # sorted y again for it, docs/engine.md, Time per sample, Sixth round)
        codes = np.searchsorted(self.classes_, y)
        known = self.classes_[np.minimum(codes, len(self.classes_) - 1)] == y
        if not known.all():
            raise ValueError(
                f"y contains labels {np.unique(y[~known]).tolist()} not in classes "
                f"{self.classes_.tolist()}"
            )
        return self._learn(X, codes, 1)

    def _learn(self, X: np.ndarray, codes: np.ndarray, epochs: int) -> np.ndarray:
        """Count the classes (the prior) and train on one-hot targets; returns the outputs
        of the last pass (see :meth:`HanamiBase._train`)."""
        self.class_count_ = self.class_count_ + np.bincount(codes, minlength=self._width)
        Y = np.zeros((codes.shape[0], self._width), dtype=np.float32)
        Y[np.arange(codes.shape[0]), codes] = 1.0
        return self._train(X, Y, epochs)

    @property
    def _width(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        """Outputs normalised per row.

        A row where nothing reached the outputs gets the class frequencies seen in training
        (``class_count_``, the best guess without evidence) and a :class:`NoSignalWarning`.
        """
        out = np.clip(self._outputs(X), 0.0, None)
        total = out.sum(axis=1, keepdims=True)
        self._signal.no_signal(total[:, 0] <= 0, "the class frequencies seen in training")
        prior = self.class_count_ / self.class_count_.sum()
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), prior)

    def predict(self, X) -> np.ndarray:
        """The class of the largest output (the first class on ties)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class HanamiRegressor(RegressorMixin, HanamiBase):
    """Regressor: one output neuron per target, targets scaled into the sigmoid's range.

    Each target column is mapped from the ``[min, max]`` seen in training onto
    ``[0.1, 0.9]`` and predictions are mapped back, so predictions stay within the training
    range. :meth:`fit` takes the range of its data; :meth:`partial_fit` widens a running
    range with every batch (earlier learning is then read in the wider range until more
    training corrects it, so a first batch that spans the range helps). Where nothing
    reaches an output neuron the prediction is the mean target seen in training, with a
    :class:`NoSignalWarning`.

    Parameters and warnings are those of :class:`HanamiClassifier`.

    Attributes
    ----------
    n_outputs_ : int
    y_min_, y_max_, y_mean_ : ndarray of shape (n_outputs_,)
        Running range and mean of the targets.
    n_samples_seen_ : int
    cluster_ : hanami.core.Cluster
    n_features_in_ : int
    """

    _default_profile = "default"  # profile=None
    _min_outputs = 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        # Measured: R² is about 0 on scikit-learn's reference problem (make_regression with
        # 10 features of which 1 informative, noise 20), far below its 0.5 bar; 1-D smooth
        # targets are learned well (R² > 0.9, see tests/estimators).
        tags.regressor_tags.poor_score = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train a fresh network for ``epochs`` passes over ``(X, y)``."""
        X, y = _validate_plain(self, X, y, reset=True, numeric=True)
        Y = self._start(y)
        self._new_cluster()
        self._update_targets(Y)
        self._train(X, scale_targets(Y, self.y_min_, self.y_max_), self.epochs)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One pass over ``(X, y)``, continuing the current network (running target range)."""
        X, Y = self._continue(X, y)
        self._update_targets(Y)
        self._train(X, scale_targets(Y, self.y_min_, self.y_max_), 1)
        return self

    def _continue(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """Validated ``X`` and 2-D ``Y`` for a pass that continues the network (a fresh one
        on the first call)."""
        first = not hasattr(self, "n_outputs_")
        X, y = _validate_plain(self, X, y, reset=first, numeric=True)
        if first:
            Y = self._start(y)
            self._new_cluster()
            return X, Y
        Y = np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)
        if Y.shape[1] != self.n_outputs_ or (y.ndim == 1) != self._y_1d:
            raise ValueError(
                f"y has {Y.shape[1]} output(s) ({y.ndim}-D) but the model was trained on "
                f"{self.n_outputs_} ({1 if self._y_1d else 2}-D)"
            )
        return X, Y

    def _learn_pass(self, X, y) -> np.ndarray:
        """One pass in one engine call; returns what each row was predicted before it was
        learned, exactly as a :meth:`predict` then :meth:`partial_fit` per row would scale
        it: row ``i`` learns its target in the range of the targets up to and including
        its own, and its prediction is read in the range (and falls back to the mean) of
        the targets before it. Before any target there is no range: the prediction is 0."""
        X, Y = self._continue(X, y)
        n, seen = Y.shape[0], self.n_samples_seen_
        low = np.minimum.accumulate(np.vstack([self.y_min_, Y]), axis=0)
        high = np.maximum.accumulate(np.vstack([self.y_max_, Y]), axis=0)
        count = seen + np.arange(n + 1)[:, None]
        total = np.vstack([self.y_mean_ * seen, Y]).cumsum(axis=0)
        mean = total / np.maximum(count, 1)
        out = self._train(X, scale_targets(Y, low[1:], high[1:]), 1)
        known = count[:-1] > 0
        with np.errstate(invalid="ignore"):  # rows without a range are masked below
            pred = unscale_outputs(out, low[:-1], high[:-1], mean[:-1])
        pred = np.where(known, pred, 0.0)
        self.y_min_, self.y_max_, self.y_mean_ = low[-1], high[-1], mean[-1]
        self.n_samples_seen_ = seen + n
        return pred[:, 0] if self._y_1d else pred

    def _start(self, y: np.ndarray) -> np.ndarray:
        """Reset the target statistics for a new network; return y as a 2-D float array."""
        self._y_1d = y.ndim == 1
        Y = np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)
        self.n_outputs_ = Y.shape[1]
        self.y_min_ = np.full(self.n_outputs_, np.inf)
        self.y_max_ = np.full(self.n_outputs_, -np.inf)
        self.y_mean_ = np.zeros(self.n_outputs_)
        self.n_samples_seen_ = 0
        return Y

    def _update_targets(self, Y: np.ndarray) -> None:
        Y = np.asarray(Y, dtype=np.float64)
        self.y_min_ = np.minimum(self.y_min_, Y.min(axis=0))
        self.y_max_ = np.maximum(self.y_max_, Y.max(axis=0))
        total = self.n_samples_seen_ + Y.shape[0]
        self.y_mean_ = self.y_mean_ + (Y.sum(axis=0) - Y.shape[0] * self.y_mean_) / total
        self.n_samples_seen_ = total

    @property
    def _width(self) -> int:
        return self.n_outputs_

    def predict(self, X) -> np.ndarray:
        """Predictions of shape ``(n,)`` for 1-D training targets, else ``(n, n_outputs_)``;
        an output that nothing reached gives the mean target and a :class:`NoSignalWarning`."""
        out = self._outputs(X)
        self._signal.no_signal((out == 0.0).any(axis=1), "the mean target seen in training")
        pred = unscale_outputs(out, self.y_min_, self.y_max_, self.y_mean_)
        return pred[:, 0] if self._y_1d else pred


def prequential(estimator, X, y, **partial_fit_params) -> np.ndarray:
    """What ``estimator`` predicted for each row of ``(X, y)`` just before learning it.

    Test-then-train over one pass, continuing ``estimator`` (call it on a fresh one for a
    prequential score from the first sample on). The whole pass runs inside the engine, at
    training speed: the outputs are those each row had in training before its weight update
    (a regressor scales each row with the target range known up to it, as a loop of
    ``predict`` and ``partial_fit`` would). ``partial_fit_params`` go to ``partial_fit``
    (``classes`` on a classifier's first call).

    >>> import numpy as np
    >>> from hanami.estimators import HanamiClassifier, prequential
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> X = rng.normal(size=(500, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
    >>> seen = prequential(HanamiClassifier(random_state=0), X, y, classes=[0, 1])
    >>> float((seen[250:] == y[250:]).mean()) > 0.9
    True
    """
    if isinstance(estimator, HanamiClassifier):
        outputs = estimator._learn_pass(X, y, partial_fit_params.get("classes"))
        return estimator.classes_[np.argmax(outputs, axis=1)]
    if not isinstance(estimator, HanamiRegressor):
        raise TypeError(f"expected a Hanami estimator, got {type(estimator).__name__}")
    return estimator._learn_pass(X, y, **partial_fit_params)

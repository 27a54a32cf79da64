"""scikit-learn and River estimators backed by a growing Hanami network.

* :class:`HanamiClassifier`, :class:`HanamiRegressor`: scikit-learn estimators
  (``fit``, ``partial_fit``, ``predict``, ``predict_proba``, ``score``).
* :class:`HanamiRiverClassifier`, :class:`HanamiRiverRegressor`: River estimators
  (``learn_one``, ``predict_one``, ``predict_proba_one``).
* :func:`prequential`: what an estimator predicted for each row just before it learned it.
* :class:`DeadNetworkWarning`, :class:`NoSignalWarning`: raised when an answer carries no
  information (a network that answers the same whatever the input; a row that reaches no
  output and is answered the training prior or mean). They need neither library.

They need the ``ml`` extra (``pip install 'hanami[ml]'``). Importing this package is cheap
and always works; scikit-learn or River is imported when one of its estimators is first
used, and a missing one raises an ImportError that names the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "DeadNetworkWarning",
    "HanamiClassifier",
    "HanamiRegressor",
    "HanamiRiverClassifier",
    "HanamiRiverRegressor",
    "NoSignalWarning",
    "prequential",
]

_HOMES = {
    "DeadNetworkWarning": "hanami.estimators._signal",
    "NoSignalWarning": "hanami.estimators._signal",
    "HanamiClassifier": "hanami.estimators._sklearn",
    "HanamiRegressor": "hanami.estimators._sklearn",
    "HanamiRiverClassifier": "hanami.estimators._river",
    "HanamiRiverRegressor": "hanami.estimators._river",
    "prequential": "hanami.estimators._sklearn",
}

if TYPE_CHECKING:
    from hanami.estimators._river import HanamiRiverClassifier, HanamiRiverRegressor
    from hanami.estimators._signal import DeadNetworkWarning, NoSignalWarning
    from hanami.estimators._sklearn import HanamiClassifier, HanamiRegressor, prequential


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

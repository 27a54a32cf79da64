"""scikit-learn's own estimator checks for HanamiClassifier and HanamiRegressor."""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from hanami.estimators import HanamiClassifier, HanamiRegressor

pytestmark = pytest.mark.slow  # "estimator checks", see pyproject markers

ESTIMATORS = [
    HanamiClassifier(),
    HanamiRegressor(),
    # the other code paths: shuffling, no hidden hexagon, several epochs, classic profile
    HanamiClassifier(shuffle=True, hidden_hexagons=0, epochs=2),
    HanamiRegressor(profile="classic", epochs=2),
]


def expected_failed_checks(estimator):
    """The one place that lists the scikit-learn checks expected to fail, with reasons.

    None at present: every check passes. Note one tag instead of a skip:
    ``HanamiRegressor`` sets ``regressor_tags.poor_score = True`` because on
    check_regressors_train's problem (make_regression, 10 features of which 1 informative,
    noise 20) its R² is about 0, far from the 0.5 bar; the rest of that check still runs.
    Environment-dependent skips (pandas missing, SCIPY_ARRAY_API unset) come from scikit-learn
    itself.
    """
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)

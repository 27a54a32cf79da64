"""River's own estimator checks (river.checks.yield_checks) for the River adapters."""

import pytest

pytest.importorskip("river")

from river.checks import yield_checks

from hanami.estimators import HanamiRiverClassifier, HanamiRiverRegressor

pytestmark = pytest.mark.slow  # "estimator checks", see pyproject markers


def _cases():
    for cls in (HanamiRiverClassifier, HanamiRiverRegressor):
        for params in cls._unit_test_params():
            model = cls(**params)
            for check in yield_checks(model):
                dataset = getattr(check, "keywords", {}).get("dataset")
                label = f"{cls.__name__}({params})-{check.__name__}"
                if dataset is not None:
                    label += f"-{type(dataset).__name__}"
                yield pytest.param(model, check, id=label)


@pytest.mark.parametrize(("model", "check"), list(_cases()))
def test_river_compatible(model, check):
    # The one place for River skips is each class's _unit_test_skips (empty at present).
    if check.__name__ in model._unit_test_skips():
        pytest.skip(f"{check.__name__} is listed in _unit_test_skips")
    check(model.clone())

"""paribus.learners: tuned nuisance models pick the cross-validated best and plug into DML."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import cross_val_score

from paribus import PLR
from paribus.effects._base import learner_allows_nan
from paribus.errors import ParameterError
from paribus.learners import tuned_classifier, tuned_regressor


def test_tuned_regressor_picks_the_lowest_cross_validated_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = np.sin(3 * X[:, 0]) + 0.3 * rng.normal(size=600)
    grid = {"max_iter": [10, 200], "max_depth": [1, 3]}
    base = HistGradientBoostingRegressor(learning_rate=0.1, random_state=0)
    search = tuned_regressor(base, grid).fit(X, y)
    mse = {
        k: -cross_val_score(
            base.set_params(max_iter=k[0], max_depth=k[1]),
            X,
            y,
            cv=3,
            scoring="neg_mean_squared_error",
        ).mean()
        for k in [(it, d) for it in grid["max_iter"] for d in grid["max_depth"]]
    }
    best = min(mse, key=mse.get)
    assert (search.best_params_["max_iter"], search.best_params_["max_depth"]) == best
    assert best != (10, 1)  # the sine needs more than 10 stumps: the search matters


def test_tuned_learners_plug_into_double_ml():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 3))
    d = (rng.random(800) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    y = 0.5 * d + np.sin(2 * x[:, 0]) + x[:, 1] + rng.normal(size=800)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(d=d, y=y)
    est = PLR(
        outcome_model=tuned_regressor(cv=2),
        treatment_model=tuned_classifier(cv=2),
        folds=3,
        random_state=0,
    ).fit(frame, "d", "y", ["a", "b", "c"])
    effect = est.result_
    assert abs(effect.estimate - 0.5) < 3 * effect.std_error
    assert effect.diagnostics["outcome_model"] == "GridSearchCV"
    assert learner_allows_nan(tuned_regressor()) and learner_allows_nan(tuned_classifier())


def test_tuning_refusals():
    with pytest.raises(ParameterError, match="cv=1 is invalid"):
        tuned_regressor(cv=1)
    with pytest.raises(ParameterError, match=r"grid names \['depth'\]"):
        tuned_classifier(grid={"depth": [2, 3]})

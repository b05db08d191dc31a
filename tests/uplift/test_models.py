"""Uplift models: recovery of a known CATE, class-transformation identities, the CATE
adapter, scikit-learn conformance and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from paribus.effects.meta.t_learner import TLearner
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.uplift.metrics import qini_coefficient
from paribus.uplift.models import ClassTransformation, TwoModel, as_uplift_model, cross_predict


def _linear_rct(seed: int, n: int = 2000):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = rng.integers(0, 2, n)
    tau = X[:, 0]
    y = X[:, 1] + t * tau + rng.normal(size=n)
    return X, y, t, tau


@pytest.mark.parametrize(
    "model",
    [TwoModel(LinearRegression()), ClassTransformation(LinearRegression())],
    ids=["two-model", "transformed-outcome"],
)
def test_recovers_known_cate_and_qini_beats_random(model) -> None:
    X, y, t, tau = _linear_rct(0)
    pred = cross_predict(model, X, y, t, folds=3)
    assert np.corrcoef(pred, tau)[0, 1] > 0.95
    q_model = qini_coefficient(y, t, pred, normalize=False)
    q_oracle = qini_coefficient(y, t, tau, normalize=False)
    rng = np.random.default_rng(1)
    q_random = [qini_coefficient(y, t, rng.normal(size=y.size), normalize=False) for _ in range(20)]
    assert q_model > 0.9 * q_oracle
    assert q_model > max(q_random) + 5 * np.std(q_random)


def _balanced_cells(share: float, seed: int = 0):
    """One categorical feature; in every cell exactly ``share`` of the units are treated."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell in range(4):
        n_cell = 100
        n_t = int(share * n_cell)
        t = np.r_[np.ones(n_t), np.zeros(n_cell - n_t)]
        p = 0.2 + 0.15 * cell * t
        rows.append(
            pd.DataFrame({"x": cell, "t": t, "y": (rng.uniform(size=n_cell) < p).astype(int)})
        )
    d = pd.concat(rows, ignore_index=True)
    truth = d.groupby("x").apply(
        lambda g: g.y[g.t == 1].mean() - g.y[g.t == 0].mean(), include_groups=False
    )
    return d[["x"]].to_numpy(float), d.y.to_numpy(), d.t.to_numpy(), d.x.map(truth).to_numpy()


@pytest.mark.parametrize("share", [0.5, 0.3])
def test_class_transformation_equals_arm_difference(share: float) -> None:
    """2 P(Z = 1 | x) - 1 is the within-cell arm difference (reweighted when unbalanced)."""
    X, y, t, diff = _balanced_cells(share)
    ct = ClassTransformation(DecisionTreeClassifier(), method="class").fit(X, y, t)
    assert ct.method_ == "class"
    np.testing.assert_allclose(ct.predict(X), diff, atol=1e-12)
    to = ClassTransformation(DecisionTreeRegressor(), method="transformed").fit(X, y, t)
    np.testing.assert_allclose(to.predict(X), diff, atol=1e-12)
    two = TwoModel(DecisionTreeRegressor()).fit(X, y, t)
    np.testing.assert_allclose(two.predict(X), diff, atol=1e-12)


def test_several_arms() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    X = rng.normal(size=(n, 2))
    t = rng.integers(0, 3, n)
    y = X[:, 1] + (t == 1) * X[:, 0] + (t == 2) * (1 - X[:, 0]) + rng.normal(size=n)
    m = TwoModel(LinearRegression()).fit(X, y, t)
    np.testing.assert_array_equal(m.treatment_levels_, [1, 2])
    assert np.corrcoef(m.predict(X, treatment=1), X[:, 0])[0, 1] > 0.99
    assert np.corrcoef(m.predict(X, treatment=2), -X[:, 0])[0, 1] > 0.99
    table = m.predict_table(X[:5])
    assert list(table.columns) == ["1 vs 0", "2 vs 0"]
    with pytest.raises(ParameterError, match="pass treatment=<level>"):
        m.predict(X)
    with pytest.raises(ParameterError, match="not a treated level"):
        m.predict(X, treatment=7)


def test_cate_learner_adapter_matches_two_model() -> None:
    X, y, t, _ = _linear_rct(3, n=400)
    adapter = as_uplift_model(TLearner(outcome_model=LinearRegression(), n_bootstrap=0))
    got = adapter.fit(X, y, t).predict(X)
    ref = TwoModel(LinearRegression()).fit(X, y, t).predict(X)
    np.testing.assert_allclose(got, ref, atol=1e-8)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    got_frame = as_uplift_model(TLearner(outcome_model=LinearRegression(), n_bootstrap=0))
    np.testing.assert_allclose(got_frame.fit(frame, y, t).predict(frame), ref, atol=1e-8)
    with pytest.raises(ParameterError, match="no effect"):
        as_uplift_model(LinearRegression()).fit(X, y, t)


def test_sklearn_contract_and_refusals() -> None:
    X, y, t, _ = _linear_rct(4, n=200)
    for model in (TwoModel(LinearRegression()), ClassTransformation(method="transformed")):
        twin = clone(model)
        assert twin.get_params()["random_state"] is None
        with pytest.raises(NotFittedError, match="not fitted"):
            model.predict(X)
        assert model.fit(X, y, t) is model
    with pytest.raises(ParameterError, match="method="):
        ClassTransformation(method="z").fit(X, y, t)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs a 0/1 outcome"):
        ClassTransformation(method="class").fit(X, y, t)
    with pytest.raises(DataError, match="0/1 with both values"):
        ClassTransformation().fit(X, y, t + 1)
    with pytest.raises(DataError, match="X has 200 rows"):
        TwoModel().fit(X, y[:-1], t)
    with pytest.raises(DataError, match="control level"):
        TwoModel(control=5).fit(X, y, t)
    with pytest.raises(ParameterError, match="folds=1"):
        cross_predict(TwoModel(), X, y, t, folds=1)

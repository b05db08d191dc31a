"""Tests of paribus.scm.mechanisms: each structural equation, abduction, selection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict

from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.scm.mechanisms import (
    AdditiveNoiseModel,
    ClassifierMechanism,
    EmpiricalDistribution,
    PostNonlinearModel,
    select_mechanism,
)


@pytest.fixture
def linear_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2000, 2))
    y = 1.0 + 2.0 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(size=2000)
    return x, y


def test_empirical_noise_is_the_value_and_samples_the_support() -> None:
    values = np.array([1.0, 2.0, 2.0, 5.0])
    mech = EmpiricalDistribution().fit(np.empty((4, 0)), values)
    assert np.array_equal(mech.noise(np.empty((4, 0)), values), values)
    assert np.array_equal(mech.evaluate(np.empty((4, 0)), values), values)
    draws = mech.sample_noise(500, np.random.default_rng(0))
    assert set(np.unique(draws)) <= {1.0, 2.0, 5.0}
    assert mech.invertible and mech.kind == "empirical"


def test_additive_noise_matches_least_squares_and_inverts_exactly(linear_data) -> None:
    x, y = linear_data
    mech = AdditiveNoiseModel(LinearRegression()).fit(x, y)
    design = np.column_stack([np.ones(len(y)), x])
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(mech.predict(x), design @ beta, atol=1e-8)
    noise = mech.noise(x, y)
    np.testing.assert_allclose(noise, y - design @ beta, atol=1e-8)
    np.testing.assert_allclose(mech.evaluate(x, noise), y, atol=1e-12)
    # sampled noise is drawn from the residuals
    draws = mech.sample_noise(100, np.random.default_rng(1))
    assert np.all(np.isin(draws, mech.residuals_))


def test_post_nonlinear_exp_link_fits_log_scale_and_inverts() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1500, 1))
    y = np.exp(0.5 + 0.8 * x[:, 0] + 0.3 * rng.normal(size=1500))
    mech = PostNonlinearModel(LinearRegression(), link="exp").fit(x, y)
    design = np.column_stack([np.ones(len(y)), x])
    beta = np.linalg.lstsq(design, np.log(y), rcond=None)[0]
    np.testing.assert_allclose(mech.predict(x), design @ beta, atol=1e-8)
    np.testing.assert_allclose(mech.evaluate(x, mech.noise(x, y)), y, rtol=1e-12)
    assert mech.invertible


def test_post_nonlinear_custom_link_pair() -> None:
    x = np.linspace(-1, 1, 50).reshape(-1, 1)
    y = (2 * x[:, 0] + 0.1 * np.sin(7 * x[:, 0])) ** 3
    mech = PostNonlinearModel(LinearRegression(), link=(lambda v: v**3, np.cbrt)).fit(x, y)
    np.testing.assert_allclose(mech.evaluate(x, mech.noise(x, y)), y, atol=1e-10)


def test_classifier_abduction_reproduces_the_observed_class() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 1))
    p = np.column_stack([np.full(3000, 0.2), 0.4 + 0.2 * np.tanh(x[:, 0])])
    u = rng.random(3000)
    y = np.where(u < p[:, 0], 0.0, np.where(u < p[:, 0] + p[:, 1], 1.0, 2.0))
    mech = ClassifierMechanism(LogisticRegression(max_iter=1000)).fit(x, y)
    assert not mech.invertible
    noise = mech.noise(x, y, np.random.default_rng(4))
    assert np.all((noise >= 0) & (noise < 1))
    np.testing.assert_array_equal(mech.evaluate(x, noise), y)


def test_classifier_sampling_has_the_predicted_law() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 1))
    y = (rng.random(2000) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    mech = ClassifierMechanism(LogisticRegression()).fit(x, y)
    x0 = np.zeros((40_000, 1))
    draws = mech.evaluate(x0, mech.sample_noise(40_000, np.random.default_rng(6)))
    p1 = mech.predict_proba(x0[:1])[0, 1]
    se = np.sqrt(p1 * (1 - p1) / 40_000)
    assert abs(draws.mean() - p1) < 4 * se


def test_classifier_refuses_unseen_class() -> None:
    x = np.arange(20.0).reshape(-1, 1)
    y = (x[:, 0] > 9).astype(float)
    mech = ClassifierMechanism(LogisticRegression()).fit(x, y)
    with pytest.raises(DataError, match="not among the classes"):
        mech.noise(x[:2], np.array([0.0, 3.0]))


def test_selection_cv_score_matches_sklearn_cross_validation(linear_data) -> None:
    x, y = linear_data
    mech = select_mechanism(x, y, categorical=False, cv=5, random_state=9)
    folds = KFold(5, shuffle=True, random_state=9)
    pred = cross_val_predict(LinearRegression(), x, y, cv=folds)
    r2 = 1 - np.mean((y - pred) ** 2) / np.var(y)
    assert mech.fit_quality["selected"] == "linear"
    assert mech.fit_quality["candidates"]["linear"] == pytest.approx(r2, abs=1e-10)
    assert mech.fit_quality["cv_score"] == pytest.approx(r2, abs=1e-10)


def test_selection_prefers_a_flexible_model_for_a_nonlinear_node() -> None:
    rng = np.random.default_rng(12)
    x = rng.uniform(-3, 3, size=(2000, 1))
    y = np.sin(2 * x[:, 0]) + 0.2 * rng.normal(size=2000)
    mech = select_mechanism(x, y, categorical=False, random_state=0)
    assert mech.fit_quality["selected"] == "boosting"
    scores = mech.fit_quality["candidates"]
    assert scores["boosting"] > scores["linear"] + 0.5


def test_selection_of_a_categorical_node_gives_a_classifier() -> None:
    rng = np.random.default_rng(13)
    x = rng.normal(size=(600, 1))
    y = (x[:, 0] + rng.normal(size=600) > 0).astype(float)
    mech = select_mechanism(x, y, categorical=True, random_state=0)
    assert isinstance(mech, ClassifierMechanism)
    assert mech.fit_quality["metric"] == "cv_log_loss"
    assert set(mech.fit_quality["candidates"]) == {"logistic", "boosting"}


def test_refusals() -> None:
    with pytest.raises(ParameterError, match="link='sqrt' is unknown"):
        PostNonlinearModel(link="sqrt")
    with pytest.raises(ParameterError, match=r"link=.* is invalid"):
        PostNonlinearModel(link=(np.exp,))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="cv=1 is invalid"):
        select_mechanism(np.ones((5, 1)), np.arange(5.0), categorical=False, cv=1)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AdditiveNoiseModel().sample_noise(3, np.random.default_rng(0))
    with pytest.raises(DataError, match="inverse link 'exp' is not finite"):
        PostNonlinearModel(LinearRegression(), "exp").fit(np.ones((3, 1)), np.array([1.0, -1, 2]))
    with pytest.raises(DataError, match="values are empty"):
        EmpiricalDistribution().fit(np.empty((0, 0)), np.array([]))

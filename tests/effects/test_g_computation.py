"""GComputation: simulated truth, agreement with regression adjustment and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer
from statsmodels.treatment.treatment_effects import TreatmentEffect
from threadpoolctl import threadpool_limits

from _sim import COVARIATES, simulate
from paribus import GComputation, RegressionAdjustment
from paribus.errors import DataError, ParameterError, ParibusWarning

GROUP = {"ATE": "all", "ATT": 1, "ATC": 0}
ESTIMANDS = ["ATE", "ATT", "ATC"]


@pytest.fixture(scope="module")
def sim():
    return simulate(n=3000, seed=5)


@pytest.fixture(scope="module")
def small():
    frame = simulate(n=500, seed=3).frame
    frame["cluster"] = np.random.default_rng(0).integers(0, 40, size=len(frame))
    return frame


def fit(frame, **settings):
    settings = {"n_bootstrap": 50, "random_state": 0} | settings
    return GComputation(**settings).fit(frame, "t", "y", COVARIATES).result_


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_linear_model_recovers_simulated_effect(sim, estimand):
    """Linear arm models are correctly specified for the linear simulation: no bias."""
    result = fit(sim.frame, estimand=estimand)
    sample_truth = {"ATE": sim.sate, "ATT": sim.satt, "ATC": sim.satc}[estimand]
    assert abs(result.estimate - sim.truth(estimand)) < 3 * result.std_error
    assert abs(result.estimate - sample_truth) < 3 * result.std_error
    assert result.inference == "bootstrap"
    assert result.method == "g-computation"
    assert result.scores is None
    assert result.ci_lower < result.estimate < result.ci_upper


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_equals_interacted_regression_adjustment(small, estimand):
    """Separate linear models per arm are Lin's interacted regression: the same estimator."""
    ours = fit(small, estimand=estimand, n_bootstrap=20)
    ref = RegressionAdjustment(estimand=estimand, interactions=True).fit(
        small, "t", "y", COVARIATES
    )
    assert ours.estimate == pytest.approx(ref.result_.estimate, abs=1e-8)


def test_single_linear_model_equals_constant_effect_regression(small):
    """One linear model with the treatment as a feature gives the OLS treatment coefficient."""
    ours = fit(small, separate_models=False, n_bootstrap=20)
    ref = RegressionAdjustment(interactions=False).fit(small, "t", "y", COVARIATES)
    assert ours.estimate == pytest.approx(ref.result_.estimate, abs=1e-8)
    assert ours.diagnostics["separate_models"] is False


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_equals_statsmodels_regression_adjustment(small, estimand):
    X = sm.add_constant(small[COVARIATES].to_numpy())
    t = small["t"].to_numpy()
    selection = sm.Logit(t, X).fit(disp=0)
    te = TreatmentEffect(sm.OLS(small["y"].to_numpy(), X), t.astype(int), results_select=selection)
    ref = te.ra(effect_group=GROUP[estimand]).summary_frame().iloc[0]
    ours = fit(small, estimand=estimand, n_bootstrap=300)
    assert ours.estimate == pytest.approx(ref.iloc[0], abs=1e-6)
    # the bootstrap estimates the same sampling variance as statsmodels' GMM sandwich; with
    # 300 replicates its own relative error is about 4%, so 20% is a loose, stable bound
    assert ours.std_error == pytest.approx(ref.iloc[1], rel=0.2)


def test_same_seed_same_bits_for_any_n_jobs(small):
    learner = ExtraTreesRegressor(n_estimators=10, min_samples_leaf=10, n_jobs=1)
    serial = fit(small, outcome_model=learner, n_bootstrap=20, random_state=11)
    parallel = fit(small, outcome_model=learner, n_bootstrap=20, random_state=11, n_jobs=2)
    assert serial == parallel  # every field, bit for bit
    again = fit(small, outcome_model=learner, n_bootstrap=20, random_state=11)
    assert again == serial


def test_different_seeds_give_different_bootstraps(small):
    a = fit(small, random_state=1)
    b = fit(small, random_state=2)
    assert a.estimate == b.estimate  # the linear point estimate uses no randomness
    assert a.std_error != b.std_error


def test_estimator_exposes_bootstrap_draws(small):
    est = GComputation(n_bootstrap=25, random_state=0).fit(small, "t", "y", COVARIATES)
    draws = est.bootstrap_draws_
    assert draws.shape == (25,)
    assert est.result_.std_error == pytest.approx(np.std(draws, ddof=1), rel=1e-12)
    diag = est.result_.diagnostics
    assert diag["n_bootstrap"] == 25 and diag["n_failed"] == 0
    assert diag["outcome_model"] == "Pipeline(StandardScaler, LinearRegression)"
    assert 0 < diag["r_squared_treated"] < 1 and 0 < diag["r_squared_control"] < 1
    assert diag["rmse_treated"] > 0 and diag["rmse_control"] > 0


def test_cluster_bootstrap(small):
    est = GComputation(n_bootstrap=30, random_state=0).fit(
        small, "t", "y", COVARIATES, cluster="cluster"
    )
    assert est.result_.diagnostics["n_clusters"] == 40
    assert np.isfinite(est.result_.std_error) and est.result_.std_error > 0


def test_native_missing_values_allowed_only_for_models_that_handle_them(small):
    frame = small.copy()
    frame.loc[frame.index[::7], "x3"] = np.nan
    hgb = HistGradientBoostingRegressor(max_iter=10, max_leaf_nodes=8, random_state=0)
    # one OpenMP thread: spinning threads slow tiny fits a hundredfold on a loaded machine
    with threadpool_limits(limits=1, user_api="openmp"):
        result = fit(frame, outcome_model=hgb, n_bootstrap=20)
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error)
    with pytest.raises(DataError, match="'x3'"):
        fit(frame, outcome_model=LinearRegression())
    with pytest.raises(DataError, match="'x3'"):
        fit(frame)  # the default model is linear


def test_binary_outcome_with_classifier_gives_risk_difference(small):
    frame = small.assign(y=(small["y"] > small["y"].median()).astype(float))
    result = fit(frame, outcome_model=LogisticRegression(), n_bootstrap=20)
    assert -1 < result.estimate < 1
    with pytest.raises(DataError, match="must be 0/1"):
        fit(small, outcome_model=LogisticRegression())


def test_translating_outcome_shifts_nothing(small):
    base = fit(small)
    moved = fit(small.assign(y=small["y"] + 1e3))
    assert moved.estimate == pytest.approx(base.estimate, abs=1e-8)
    assert moved.std_error == pytest.approx(base.std_error, rel=1e-6)


def test_row_order_does_not_change_the_point_estimate(small):
    shuffled = small.sample(frac=1.0, random_state=0)
    assert fit(shuffled).estimate == pytest.approx(fit(small).estimate, abs=1e-10)


def test_no_covariates_gives_difference_in_means(small):
    est = GComputation(n_bootstrap=20, random_state=0).fit(small, "t", "y")
    y, t = small["y"], small["t"]
    assert est.result_.estimate == pytest.approx(y[t == 1].mean() - y[t == 0].mean(), abs=1e-10)


class _FailsOnDuplicates(RegressorMixin, BaseEstimator):
    """Linear regression that refuses training rows with many duplicates (as in resamples)."""

    def __init__(self, min_unique: float = 1.0) -> None:
        self.min_unique = min_unique

    def fit(self, X, y):
        if np.unique(X[:, 0]).size < self.min_unique * len(X):
            raise ValueError("too many duplicated rows")
        self.model_ = LinearRegression().fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_failed_replicates_are_counted_and_warned(small):
    # a resample keeps about 63% distinct rows, so about half the replicates fail
    with pytest.warns(ParibusWarning, match="bootstrap replicates could not be fitted"):
        result = fit(small, outcome_model=_FailsOnDuplicates(0.632), n_bootstrap=40)
    assert 0 < result.diagnostics["n_failed"] < 40
    assert np.isfinite(result.std_error)


def test_all_replicates_failing_is_an_error(small):
    with pytest.raises(DataError, match="bootstrap replicates could be fitted"):
        fit(small, outcome_model=_FailsOnDuplicates(1.0), n_bootstrap=20)


@pytest.mark.parametrize(
    "setting",
    [
        {"n_bootstrap": 0},
        {"n_bootstrap": 19},
        {"n_bootstrap": 50.0},
        {"outcome_model": "ols"},
        {"separate_models": "yes"},
        {"estimand": "LATE"},
        {"level": 95},
        {"random_state": -1},
        {"n_jobs": 0},
        {"show_progress": "auto"},
    ],
)
def test_bad_settings_are_refused_at_fit(small, setting):
    est = GComputation(**setting)  # the constructor only stores settings
    with pytest.raises(ParameterError, match=next(iter(setting))):
        est.fit(small, "t", "y", COVARIATES)


@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_flexible_pipeline_recovers_effect_on_nonlinear_surface(estimand):
    """Additive splines fit the nonlinear-in-x1 surface; any fit/predict pipeline works."""
    sim = simulate(n=3000, seed=3, linear=False)
    splines = make_pipeline(SplineTransformer(n_knots=8), LinearRegression())
    with threadpool_limits(limits=1):  # small BLAS calls: threads only contend
        result = fit(sim.frame, estimand=estimand, outcome_model=splines, n_bootstrap=30)
    assert abs(result.estimate - sim.truth(estimand)) < 3 * result.std_error
    assert result.diagnostics["outcome_model"] == "Pipeline(SplineTransformer, LinearRegression)"


@pytest.mark.slow
def test_bootstrap_interval_coverage():
    """95% intervals cover the population ATE about 95% of the time (100 simulated data sets)."""
    truth = simulate(n=10, seed=0).truth("ATE")
    covered = []
    for seed in range(100):
        frame = simulate(n=1000, seed=1000 + seed).frame
        result = fit(frame, n_bootstrap=100, random_state=seed)
        covered.append(result.ci_lower <= truth <= result.ci_upper)
    # 100 replications: the binomial standard deviation at 95% is about 2.2 points
    assert 0.88 <= np.mean(covered) <= 1.0

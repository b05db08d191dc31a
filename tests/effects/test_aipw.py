"""AIPW: statsmodels agreement (no cross-fitting), simulated truth, double robustness, clusters."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from statsmodels.treatment.treatment_effects import TreatmentEffect

from _sim import COVARIATES, simulate
from paribus import AIPW, Logit
from paribus.errors import DataError, OverlapWarning, ParameterError


@pytest.fixture(scope="module")
def data():
    return simulate(n=800, seed=6).frame


def test_classical_aipw_equals_statsmodels(data):
    """folds=1 with OLS outcome and logit propensity is statsmodels' aipw (point to 1e-6)."""
    X = sm.add_constant(data[COVARIATES].to_numpy())
    t = data["t"].to_numpy().astype(int)
    ref = TreatmentEffect(
        sm.OLS(data["y"].to_numpy(), X), t, results_select=sm.Logit(t, X).fit(disp=0)
    )
    row = ref.aipw().summary_frame().iloc[0]
    effect = (
        AIPW(outcome_model=LinearRegression(), propensity_model=Logit(), folds=1, clip=0)
        .fit(data, "t", "y", COVARIATES)
        .result_
    )
    assert effect.estimate == pytest.approx(row.iloc[0], abs=1e-6)
    # statsmodels' GMM SE also carries the nuisance-estimation terms, which vanish
    # asymptotically for AIPW; on n=800 they agree to a few percent
    assert effect.std_error == pytest.approx(row.iloc[1], rel=0.05)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_simulated_truth_within_three_se(estimand):
    sim = simulate(n=3000, seed=31, linear=False)
    effect = AIPW(estimand=estimand, random_state=0).fit(sim.frame, "t", "y", COVARIATES).result_
    assert abs(effect.estimate - sim.truth(estimand)) < 3 * effect.std_error
    assert effect.scores is not None
    assert effect.std_error == pytest.approx(np.std(effect.scores) / np.sqrt(3000), rel=1e-6)


@pytest.mark.parametrize("wrong", ["outcome", "propensity"])
def test_double_robustness(wrong):
    """Consistent when either nuisance is replaced by a constant (misspecified) model."""
    sim = simulate(n=4000, seed=32)
    settings = {"outcome_model": LinearRegression(), "propensity_model": Logit()}
    if wrong == "outcome":
        settings["outcome_model"] = DummyRegressor()
    else:
        settings["propensity_model"] = DummyClassifier(strategy="prior")
    effect = AIPW(random_state=1, **settings).fit(sim.frame, "t", "y", COVARIATES).result_
    naive = sim.frame.groupby("t")["y"].mean().diff().iloc[-1]
    assert abs(naive - sim.ate) > 0.5  # confounded
    assert abs(effect.estimate - sim.ate) < 3 * effect.std_error


def test_same_bits_serial_and_parallel(data):
    a = AIPW(random_state=3).fit(data, "t", "y", COVARIATES)
    b = AIPW(random_state=3, n_jobs=2).fit(data, "t", "y", COVARIATES)
    assert a.result_ == b.result_
    c = AIPW(random_state=4).fit(data, "t", "y", COVARIATES)
    assert c.result_.estimate != a.result_.estimate


def test_nuisances_are_out_of_fold(data):
    est = AIPW(outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0)
    est.fit(data, "t", "y", COVARIATES)
    full = LinearRegression().fit(data.loc[data.t == 1, COVARIATES], data.loc[data.t == 1, "y"])
    in_sample = full.predict(data[COVARIATES])
    assert not np.allclose(est.nuisance_["g1"], in_sample)
    assert np.corrcoef(est.nuisance_["g1"], in_sample)[0, 1] > 0.99


def test_missing_covariates_with_native_nan_learners():
    sim = simulate(n=1500, seed=4)
    frame = sim.frame.copy()
    frame.loc[frame.index[::10], "x4"] = np.nan
    effect = AIPW(random_state=0).fit(frame, "t", "y", COVARIATES).result_  # HGB defaults
    assert abs(effect.estimate - sim.ate) < 3 * effect.std_error
    with pytest.raises(DataError, match="'x4' has 150 missing values"):
        AIPW(outcome_model=LinearRegression(), propensity_model=Logit()).fit(
            frame, "t", "y", COVARIATES
        )


def test_cluster_robust_folds_keep_clusters_whole():
    sim = simulate(n=1200, seed=9)
    frame = sim.frame.assign(g=np.repeat(np.arange(60), 20))
    plain = AIPW(outcome_model=HistGradientBoostingRegressor(max_iter=30), random_state=0)
    effect = plain.fit(frame, "t", "y", COVARIATES, cluster="g").result_
    assert np.isfinite(effect.std_error)
    with pytest.raises(DataError, match="5 folds need at least 5 clusters"):
        AIPW(random_state=0).fit(
            frame.assign(g=np.arange(1200) % 3), "t", "y", COVARIATES, cluster="g"
        )


def test_poor_overlap_warns():
    sim = simulate(n=2000, seed=12, overlap=4.0)
    with pytest.warns(OverlapWarning, match="AIPW: poor overlap"):
        AIPW(
            outcome_model=LinearRegression(), propensity_model=Logit(), clip=0.001, random_state=0
        ).fit(sim.frame, "t", "y", COVARIATES)


def test_refusals(data):
    with pytest.raises(ParameterError, match="folds=0"):
        AIPW(folds=0).fit(data, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match=r"clip=0\.6"):
        AIPW(clip=0.6).fit(data, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="propensity_model=LinearRegression"):
        AIPW(propensity_model=LinearRegression()).fit(data, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="does not support sampling weights"):
        AIPW().fit(data.assign(w=1.0), "t", "y", COVARIATES, weights="w")

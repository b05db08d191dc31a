"""RegressionAdjustment against statsmodels (OLS sandwich, TreatmentEffect.ra) and the truth."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.treatment.treatment_effects import TreatmentEffect

from _sim import COVARIATES, simulate
from paribus import RegressionAdjustment
from paribus.errors import DataError, ParameterError

GROUP = {"ATE": "all", "ATT": 1, "ATC": 0}


@pytest.fixture(scope="module")
def data():
    frame = simulate(n=600, seed=3).frame
    frame["cluster"] = np.random.default_rng(0).integers(0, 30, size=len(frame))
    return frame


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_constant_effect_ols_equals_statsmodels(data, cov_type):
    est = RegressionAdjustment(interactions=False, cov_type=cov_type).fit(
        data, "t", "y", COVARIATES
    )
    design = sm.add_constant(data[["t", *COVARIATES]])
    ref = sm.OLS(data["y"], design).fit(cov_type=cov_type)
    assert est.result_.estimate == pytest.approx(ref.params["t"], abs=1e-8)
    assert est.result_.std_error == pytest.approx(ref.bse["t"], abs=1e-8)
    # slopes only: our covariates are centred, which moves the intercept
    np.testing.assert_allclose(
        est.coef_std_error_.to_numpy()[1:], ref.bse.to_numpy()[1:], atol=1e-8
    )


def test_cluster_robust_equals_statsmodels(data):
    est = RegressionAdjustment(interactions=False).fit(
        data, "t", "y", COVARIATES, cluster="cluster"
    )
    design = sm.add_constant(data[["t", *COVARIATES]])
    ref = sm.OLS(data["y"], design).fit(cov_type="cluster", cov_kwds={"groups": data["cluster"]})
    assert est.result_.std_error == pytest.approx(ref.bse["t"], abs=1e-8)
    assert est.result_.diagnostics["n_clusters"] == 30


def test_weighted_least_squares_equals_statsmodels(data):
    data = data.assign(w=np.random.default_rng(1).uniform(0.5, 2, size=len(data)))
    est = RegressionAdjustment(interactions=False, cov_type="HC0").fit(
        data, "t", "y", COVARIATES, weights="w"
    )
    design = sm.add_constant(data[["t", *COVARIATES]])
    ref = sm.WLS(data["y"], design, weights=data["w"]).fit(cov_type="HC0")
    assert est.result_.estimate == pytest.approx(ref.params["t"], abs=1e-8)
    assert est.result_.std_error == pytest.approx(ref.bse["t"], abs=1e-8)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_interacted_equals_statsmodels_ra(data, estimand):
    """Point and SE equal statsmodels' GMM regression adjustment (HC0, means estimated)."""
    X = sm.add_constant(data[COVARIATES].to_numpy())
    t = data["t"].to_numpy().astype(int)
    select = sm.Logit(t, X).fit(disp=0)
    ref = TreatmentEffect(sm.OLS(data["y"].to_numpy(), X), t, results_select=select)
    row = ref.ra(effect_group=GROUP[estimand]).summary_frame().iloc[0]
    est = RegressionAdjustment(estimand=estimand, cov_type="HC0").fit(data, "t", "y", COVARIATES)
    assert est.result_.estimate == pytest.approx(row.iloc[0], abs=1e-6)
    assert est.result_.std_error == pytest.approx(row.iloc[1], rel=1e-6)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_simulated_truth_within_three_se(estimand):
    sim = simulate(n=4000, seed=11)
    effect = RegressionAdjustment(estimand=estimand).fit(sim.frame, "t", "y", COVARIATES).result_
    assert abs(effect.estimate - sim.truth(estimand)) < 3 * effect.std_error
    assert effect.scores is not None and effect.scores.shape == (4000,)


def test_invariances(data):
    base = RegressionAdjustment().fit(data, "t", "y", COVARIATES).result_
    shifted = (
        RegressionAdjustment().fit(data.assign(y=data["y"] + 100), "t", "y", COVARIATES).result_
    )
    permuted = (
        RegressionAdjustment()
        .fit(data.sample(frac=1, random_state=0), "t", "y", COVARIATES)
        .result_
    )
    assert shifted.estimate == pytest.approx(base.estimate, abs=1e-9)
    assert shifted.std_error == pytest.approx(base.std_error, rel=1e-9)
    assert permuted.estimate == pytest.approx(base.estimate, abs=1e-9)


def test_no_covariates_is_difference_in_means(data):
    effect = RegressionAdjustment().fit(data, "t", "y", []).result_
    diff = data.loc[data.t == 1, "y"].mean() - data.loc[data.t == 0, "y"].mean()
    assert effect.estimate == pytest.approx(diff, abs=1e-10)


def test_refusals(data):
    with pytest.raises(ParameterError, match="cov_type='HC9'"):
        RegressionAdjustment(cov_type="HC9").fit(data, "t", "y", COVARIATES)
    with pytest.raises(DataError, match="collinear"):
        RegressionAdjustment().fit(data.assign(x5=data["x1"] * 2), "t", "y", [*COVARIATES, "x5"])

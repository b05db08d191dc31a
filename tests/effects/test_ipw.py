"""IPW against statsmodels' TreatmentEffect.ipw, the bootstrap, and simulated truth."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from statsmodels.treatment.treatment_effects import TreatmentEffect

from _sim import COVARIATES, simulate
from paribus import IPW
from paribus.errors import OverlapError, OverlapWarning, ParameterError

GROUP = {"ATE": "all", "ATT": 1, "ATC": 0}


@pytest.fixture(scope="module")
def data():
    return simulate(n=800, seed=5).frame


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_hajek_equals_statsmodels_ipw(data, estimand):
    """Point to 1e-6 and sandwich SE (estimated logit accounted for) to 1e-6 relative."""
    X = sm.add_constant(data[COVARIATES].to_numpy())
    t = data["t"].to_numpy().astype(int)
    ref = TreatmentEffect(
        sm.OLS(data["y"].to_numpy(), X), t, results_select=sm.Logit(t, X).fit(disp=0)
    )
    row = ref.ipw(effect_group=GROUP[estimand]).summary_frame().iloc[0]
    effect = IPW(estimand=estimand).fit(data, "t", "y", COVARIATES).result_
    assert effect.inference == "influence-function"
    assert effect.estimate == pytest.approx(row.iloc[0], abs=1e-6)
    assert effect.std_error == pytest.approx(row.iloc[1], rel=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_sandwich_agrees_with_bootstrap(data, estimand, normalize):
    """The analytic SE and a 400-draw bootstrap SE agree within 15% (bootstrap MC error ~4%)."""
    sandwich = IPW(estimand=estimand, normalize=normalize).fit(data, "t", "y", COVARIATES)
    boot = IPW(
        estimand=estimand,
        normalize=normalize,
        inference="bootstrap",
        n_bootstrap=400,
        random_state=0,
    ).fit(data, "t", "y", COVARIATES)
    assert boot.result_.estimate == sandwich.result_.estimate
    assert boot.result_.std_error == pytest.approx(sandwich.result_.std_error, rel=0.15)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_simulated_truth_within_three_se(estimand):
    sim = simulate(n=4000, seed=21)
    effect = IPW(estimand=estimand).fit(sim.frame, "t", "y", COVARIATES).result_
    assert abs(effect.estimate - sim.truth(estimand)) < 3 * effect.std_error


def test_horvitz_thompson_differs_but_is_unbiased():
    sim = simulate(n=4000, seed=22)
    ht = IPW(normalize=False).fit(sim.frame, "t", "y", COVARIATES).result_
    hajek = IPW().fit(sim.frame, "t", "y", COVARIATES).result_
    assert ht.estimate != hajek.estimate
    assert abs(ht.estimate - sim.ate) < 3 * ht.std_error


def test_stabilized_weights_average_one_per_arm(data):
    plain = IPW().fit(data, "t", "y", COVARIATES)
    stab = IPW(stabilized=True).fit(data, "t", "y", COVARIATES)
    t = data["t"].to_numpy()
    assert stab.result_.estimate == pytest.approx(plain.result_.estimate, abs=1e-12)
    for arm in (0, 1):
        assert stab.weights_[t == arm].mean() == pytest.approx(1.0, abs=0.15)


def test_trimming_and_crump_rule():
    sim = simulate(n=3000, seed=8, overlap=2.5)
    with pytest.warns(OverlapWarning, match="poor overlap"):
        untrimmed = IPW().fit(sim.frame, "t", "y", COVARIATES)
    trimmed = IPW(trim=0.05).fit(sim.frame, "t", "y", COVARIATES)
    crump = IPW(trim="crump").fit(sim.frame, "t", "y", COVARIATES)
    e = untrimmed.propensity_
    share = np.mean((e < 0.05) | (e > 0.95))
    assert trimmed.result_.diagnostics["share_trimmed"] == pytest.approx(share)
    alpha = crump.result_.diagnostics["trim_threshold"]
    assert 0.02 < alpha < 0.2  # Crump et al.: about 0.1 under typical designs
    assert crump.result_.std_error < untrimmed.result_.std_error
    assert (trimmed.weights_[(e < 0.05) | (e > 0.95)] == 0).all()


def test_overlap_warning_names_the_diagnostic():
    sim = simulate(n=2000, seed=2, overlap=4.0)
    with pytest.warns(OverlapWarning, match=r"% of units have a propensity outside"):
        IPW().fit(sim.frame, "t", "y", COVARIATES)


def test_other_propensity_models_use_bootstrap(data):
    est = IPW(propensity_model=LogisticRegression(C=0.5), n_bootstrap=50, random_state=0)
    effect = est.fit(data, "t", "y", COVARIATES).result_
    assert effect.inference == "bootstrap" and effect.scores is None
    again = (
        IPW(propensity_model=LogisticRegression(C=0.5), n_bootstrap=50, random_state=0, n_jobs=2)
        .fit(data, "t", "y", COVARIATES)
        .result_
    )
    assert again == effect  # the same bits serially and in parallel


def test_invariance_to_outcome_shift_and_weight_scale(data):
    base = IPW().fit(data, "t", "y", COVARIATES).result_
    shifted = IPW().fit(data.assign(y=data["y"] + 50), "t", "y", COVARIATES).result_
    assert shifted.estimate == pytest.approx(base.estimate, abs=1e-9)
    w = np.random.default_rng(0).uniform(0.5, 2, len(data))
    a = IPW().fit(data.assign(w=w), "t", "y", COVARIATES, weights="w").result_
    b = IPW().fit(data.assign(w=3 * w), "t", "y", COVARIATES, weights="w").result_
    assert a.estimate == pytest.approx(b.estimate, abs=1e-9)
    assert a.std_error == pytest.approx(b.std_error, rel=1e-9)


def test_refusals(data):
    with pytest.raises(ParameterError, match="sandwich"):
        IPW(propensity_model=LogisticRegression(), inference="sandwich").fit(
            data, "t", "y", COVARIATES
        )
    with pytest.raises(ParameterError, match=r"trim=0\.7"):
        IPW(trim=0.7).fit(data, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="n_bootstrap=5"):
        IPW(n_bootstrap=5).fit(data, "t", "y", COVARIATES)
    with pytest.raises(OverlapError, match="no treated or no control"):
        IPW(trim=0.4999).fit(data, "t", "y", COVARIATES)

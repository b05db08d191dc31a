"""Refuters without refits: equal to the scores they shortcut, close to the refitted ones."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from _sim import COVARIATES, simulate
from paribus import AIPW, PLR, RegressionAdjustment
from paribus.checks import refute
from paribus.checks.refit_free import placebo_estimates, pooled_outcome, subset_estimates
from paribus.effects.aipw import aipw_score_elements


@pytest.fixture(scope="module")
def data():
    return simulate(n=3000, seed=11).frame


@pytest.fixture(scope="module")
def aipw(data):
    linear = {"outcome_model": LinearRegression(), "propensity_model": LogisticRegression()}
    return AIPW(random_state=0, **linear).fit(data, "t", "y", COVARIATES)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_placebo_equals_the_aipw_score_with_the_known_placebo_nuisances(data, aipw, estimand):
    t, y = data["t"].to_numpy(float), data["y"].to_numpy(float)
    ell = pooled_outcome(aipw, len(data))
    assert ell is not None
    seeds = [3, 4, 5]
    fast = placebo_estimates(t, y, ell, seeds)
    for seed, value in zip(seeds, fast, strict=True):
        t_star = np.random.default_rng(seed).permutation(t - t.mean()) + t.mean()
        e = np.full_like(t, t.mean())
        psi_a, psi_b = aipw_score_elements(estimand, y, t_star, ell, ell, e)
        assert value == pytest.approx(-psi_b.mean() / psi_a.mean(), rel=1e-9, abs=1e-12)


def test_pooled_outcome_is_the_propensity_mix_of_the_arm_regressions(aipw, data):
    nu = aipw.nuisance_
    ell = pooled_outcome(aipw, len(data))
    np.testing.assert_allclose(ell, nu["e"] * nu["g1"] + (1 - nu["e"]) * nu["g0"])
    assert pooled_outcome(aipw, len(data) - 1) is None  # rows dropped: refit instead
    assert pooled_outcome(RegressionAdjustment(), len(data)) is None


def test_subset_of_the_aipw_ate_equals_the_subset_mean_of_its_score(aipw, data):
    t, y = data["t"].to_numpy(float), data["y"].to_numpy(float)
    nu = aipw.nuisance_
    _, psi_b = aipw_score_elements("ATE", y, t, nu["g0"], nu["g1"], nu["e"])
    (value,) = subset_estimates(aipw.result_, 0.8, [7])
    keep = np.random.default_rng(7).random(len(data)) < 0.8
    assert value == pytest.approx(psi_b[keep].mean(), rel=1e-12)


def test_reuse_matches_the_refitted_placebo_distribution(data, aipw):
    kwargs = {"refuters": ("placebo_treatment",), "n_repeats": 40, "random_state": 1}
    (fast,) = refute(aipw, data, "t", "y", COVARIATES, **kwargs)
    (slow,) = refute(aipw, data, "t", "y", COVARIATES, reuse=False, **kwargs)
    assert not fast.refit and slow.refit
    assert fast.passed and slow.passed  # the true effect is large
    # both centre on zero with the spread of an estimate under no effect: the standard
    # deviations of 40 draws agree within 35% (the sd of an sd estimate is about 11%)
    sd_fast, sd_slow = np.std(fast.estimates), np.std(slow.estimates)
    assert abs(np.mean(fast.estimates)) < 3 * sd_fast / np.sqrt(40)
    assert 0.65 < sd_fast / sd_slow < 1.35
    assert "no refit" in str(fast)


def test_plr_placebo_reuses_l_and_a_model_without_nuisances_refits(data):
    plr = PLR(
        outcome_model=LinearRegression(), treatment_model=LogisticRegression(), random_state=0
    ).fit(data, "t", "y", COVARIATES)
    (r,) = refute(
        plr,
        data,
        "t",
        "y",
        COVARIATES,
        refuters=("placebo_treatment",),
        n_repeats=20,
        random_state=0,
    )
    assert not r.refit and r.passed
    reg = RegressionAdjustment().fit(data, "t", "y", COVARIATES)
    placebo, common, subset = refute(reg, data, "t", "y", COVARIATES, n_repeats=5, random_state=0)
    assert placebo.refit and common.refit and not subset.refit


def test_subset_shortcut_scatters_like_the_refitted_subsets(data, aipw):
    kwargs = {"refuters": ("data_subset",), "n_repeats": 30, "random_state": 2}
    (fast,) = refute(aipw, data, "t", "y", COVARIATES, **kwargs)
    (slow,) = refute(aipw, data, "t", "y", COVARIATES, reuse=False, **kwargs)
    assert fast.passed and slow.passed and not fast.refit
    se = aipw.result_.std_error * np.sqrt(0.2 / 0.8)
    for r in (fast, slow):
        assert 0.5 < np.std(r.estimates) / se < 1.6


def test_refutation_plot_marks_the_original(data, aipw):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (r,) = refute(
        aipw,
        data,
        "t",
        "y",
        COVARIATES,
        refuters=("placebo_treatment",),
        n_repeats=20,
        random_state=0,
    )
    ax = r.plot()
    xs = sorted(line.get_xdata()[0] for line in ax.get_lines())
    assert xs == pytest.approx(sorted([0.0, r.original]))
    assert "passed" in ax.get_title()
    plt.close("all")

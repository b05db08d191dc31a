"""Pre-period checks of impact models: placebo dates, held-out forecasts, prior scales.

The mechanics are tested with a small Gaussian model whose calibration is known
(i.i.d. normal data: intervals are exact up to estimating the mean and sd), and with
InterruptedTimeSeries; tests/designs/test_impact_nile.py runs them on CausalImpact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator

from paribus.designs.impact.checks import holdout_check, placebo_dates, prior_sensitivity
from paribus.designs.impact.its import InterruptedTimeSeries
from paribus.errors import DataError, ParameterError
from paribus.results import Effect


class GaussianMean(BaseEstimator):
    """Counterfactual = pre-period mean; predictive sd = pre-period sd (a test model).

    ``prior_level_sd`` inflates the predictive sd by ``1 + prior_level_sd`` so prior
    sensitivity has something to show; ``random_state`` is recorded only.
    """

    def __init__(self, prior_level_sd=0.01, random_state=None, level=0.95):
        self.prior_level_sd = prior_level_sd
        self.random_state = random_state
        self.level = level

    def fit(self, data, *, outcome, pre_period, post_period, controls=()):
        y = data[outcome]
        pre, post = y.loc[pre_period[0] : pre_period[1]], y.loc[post_period[0] : post_period[1]]
        mean, sd = pre.mean(), pre.std(ddof=1) * (1 + self.prior_level_sd)
        z = stats.norm.ppf(0.5 + self.level / 2)
        n_pre, n_post = pre.size, post.size
        predicted = pd.Series(mean, index=y.index)
        self.series_ = pd.DataFrame(
            {
                "observed": y,
                "predicted": predicted,
                "predicted_lower": predicted - z * sd * np.sqrt(1 + 1 / n_pre),
                "predicted_upper": predicted + z * sd * np.sqrt(1 + 1 / n_pre),
            }
        )
        se = sd * np.sqrt(1 / n_post + 1 / n_pre)
        self.result_ = Effect.from_normal(
            estimand="ATT",
            estimate=post.mean() - mean,
            std_error=se,
            level=self.level,
            n_obs=y.size,
            method="gaussian-mean",
            inference="normal",
        )
        self.seen_seed_ = self.random_state
        return self


def _noise(n=200, seed=0, jump=0.0, at=150):
    rng = np.random.default_rng(seed)
    y = 10 + rng.normal(size=n)
    y[at:] += jump
    return pd.DataFrame({"y": y}, index=pd.RangeIndex(n))


def test_placebo_false_positive_rate_near_nominal_on_noise():
    # 40 placebo dates on 40 independent series: the share of intervals excluding 0
    # is Binomial(1600, 0.05)/1600 for a calibrated model (sd 0.0055)
    rates = []
    for seed in range(40):
        check = placebo_dates(
            GaussianMean(),
            _noise(seed=seed),
            outcome="y",
            pre_period=(0, 149),
            n_placebos=40,
            post_length=10,
            min_pre=30,
        )
        rates.append(check.false_positive_rate)
        assert len(check.effects) == 40
    assert abs(np.mean(rates) - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 1600) + 0.01


def test_placebo_finds_effects_that_are_there():
    # a level shift inside the "pre-period" makes later placebos significant: the check
    # flags a model/period that would produce false positives
    data = _noise(jump=3.0, at=100)
    check = placebo_dates(
        GaussianMean(),
        data,
        outcome="y",
        pre_period=(0, 149),
        n_placebos=5,
        post_length=10,
        min_pre=50,
    )
    frame = check.to_frame()
    late = frame[[int(lbl) >= 100 for lbl in frame.index]]
    assert late["excludes_zero"].all()
    assert check.false_positive_rate >= 0.6


def test_placebo_windows_use_pre_period_only_and_dates():
    data = _noise(jump=50.0, at=150)  # a huge real effect after the pre-period
    check = placebo_dates(
        GaussianMean(),
        data,
        outcome="y",
        pre_period=(0, 149),
        dates=[60, 100, 140],
        post_length=10,
    )
    assert list(check.effects.labels) == ["60", "100", "140"]
    # had any post-period row leaked in, the effects would be near 50
    assert all(abs(e.estimate) < 2 for e in check.effects)
    assert check.level == 0.95


def test_placebo_with_its_and_seeds():
    nile_like = _noise(n=100, seed=4)
    check = placebo_dates(
        InterruptedTimeSeries(trend=False),
        nile_like,
        outcome="y",
        pre_period=(0, 79),
        n_placebos=4,
        post_length=8,
    )
    assert len(check.effects) == 4
    assert check.effects[0].method == "interrupted-time-series"
    # random_state gives each refit its own child seed, reproducibly
    seen = []

    def factory():
        model = GaussianMean()
        seen.append(model)
        return model

    placebo_dates(factory, nile_like, outcome="y", pre_period=(0, 79), n_placebos=3, random_state=7)
    placebo_dates(factory, nile_like, outcome="y", pre_period=(0, 79), n_placebos=3, random_state=7)
    seeds = [m.seen_seed_ for m in seen]
    assert seeds[:3] == seeds[3:] and len(set(seeds[:3])) == 3


def test_holdout_coverage_near_nominal():
    covered, zs = [], []
    for seed in range(100):
        check = holdout_check(
            GaussianMean(prior_level_sd=0.0),
            _noise(seed=seed),
            outcome="y",
            pre_period=(0, 149),
            holdout=30,
        )
        covered.append(check.coverage)
        zs.append(check.series["z"].to_numpy())
    z = np.concatenate(zs)
    # pooled over 3000 forecasts (correlated within a series through the fitted mean)
    assert abs(np.mean(covered) - 0.95) < 0.02
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1
    assert check.share_outside == pytest.approx(1 - check.coverage)
    assert check.series.index[0] == 120 and len(check.series) == 30
    # MAPE by hand
    s = check.series
    expected = np.mean(np.abs((s["observed"] - s["predicted"]) / s["observed"])) * 100
    assert check.mape == pytest.approx(expected, rel=1e-12)


def test_holdout_detects_a_bad_model():
    # a trend the mean model ignores: forecasts miss, coverage collapses
    data = _noise(seed=1)
    data["y"] += np.arange(200) * 0.1
    check = holdout_check(GaussianMean(), data, outcome="y", pre_period=(0, 149), holdout=0.2)
    assert check.coverage < 0.5 and check.mean_z > 2
    assert check.effect.ci_lower > 0


def test_prior_sensitivity_table():
    table = prior_sensitivity(
        GaussianMean(),
        _noise(jump=1.0),
        outcome="y",
        pre_period=(0, 149),
        post_period=(150, 199),
        prior_level_sd=(0.001, 0.1, 1.0),
    )
    assert list(table.labels) == [
        "prior_level_sd=0.001",
        "prior_level_sd=0.1",
        "prior_level_sd=1",
    ]
    widths = [e.ci_upper - e.ci_lower for e in table]
    assert widths[0] < widths[1] < widths[2]
    assert len({e.estimate for e in table}) == 1


def test_refusals():
    data = _noise()
    with pytest.raises(ParameterError, match="no prior_level_sd"):
        prior_sensitivity(
            InterruptedTimeSeries(), data, outcome="y", pre_period=(0, 149), post_period=(150, 199)
        )
    with pytest.raises(ParameterError, match="positive numbers"):
        prior_sensitivity(
            GaussianMean(),
            data,
            outcome="y",
            pre_period=(0, 149),
            post_period=(150, 199),
            prior_level_sd=(0.0,),
        )
    with pytest.raises(ParameterError, match="predictive intervals"):
        holdout_check(InterruptedTimeSeries(trend=False), data, outcome="y", pre_period=(0, 149))
    with pytest.raises(ParameterError, match="holdout"):
        holdout_check(GaussianMean(), data, outcome="y", pre_period=(0, 149), holdout=1.5)
    with pytest.raises(DataError, match="leaves 1 to fit"):
        holdout_check(GaussianMean(), data, outcome="y", pre_period=(0, 9), holdout=9)
    with pytest.raises(DataError, match="too few"):
        placebo_dates(GaussianMean(), data, outcome="y", pre_period=(0, 5), post_length=5)
    with pytest.raises(DataError, match="choose dates from"):
        placebo_dates(
            GaussianMean(), data, outcome="y", pre_period=(0, 149), dates=[145], post_length=10
        )
    with pytest.raises(ParameterError, match="expected an unfitted"):
        placebo_dates("CausalImpact", data, outcome="y", pre_period=(0, 149))
    with pytest.raises(ParameterError, match=r"\(first, last\)"):
        placebo_dates(GaussianMean(), data, outcome="y", pre_period=149)
    with pytest.raises(DataError, match="increasing"):
        placebo_dates(GaussianMean(), data.iloc[::-1], outcome="y", pre_period=(0, 149))

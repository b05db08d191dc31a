"""Power, sample size, MDE and duration: statsmodels references, simulations, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from paribus.errors import DataError, ParameterError
from paribus.experiments.design import (
    Duration,
    RatioMoments,
    SampleSize,
    duration,
    minimum_detectable_effect,
    power,
    sample_size,
)

_SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize(("effect", "n", "ratio"), [(0.5, 30, 1.0), (-0.3, 80, 2.5), (1.2, 7, 0.5)])
def test_t_power_equals_statsmodels(effect, n, ratio, alternative):
    sd = 2.0
    got = power(effect, n=n, sd=sd, ratio=ratio, alternative=alternative)
    ref = TTestIndPower().power(effect / sd, n, 0.05, ratio=ratio, alternative=_SM_ALT[alternative])
    assert got == pytest.approx(ref, abs=1e-8)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize(("effect", "n", "ratio"), [(0.5, 30, 1.0), (-0.3, 80, 2.5)])
def test_normal_power_equals_statsmodels(effect, n, ratio, alternative):
    got = power(effect, n=n, sd=1.5, ratio=ratio, alternative=alternative, method="normal")
    ref = NormalIndPower().power(
        effect / 1.5, n, 0.05, ratio=ratio, alternative=_SM_ALT[alternative]
    )
    assert got == pytest.approx(ref, abs=1e-8)


@pytest.mark.parametrize(
    ("p_c", "delta", "n", "ratio"), [(0.1, 0.02, 1000, 1.0), (0.5, -0.05, 600, 3.0)]
)
def test_arcsine_power_equals_statsmodels(p_c, delta, n, ratio):
    got = power(delta, n=n, baseline=p_c, metric="proportion", method="arcsine", ratio=ratio)
    h = proportion_effectsize(p_c + delta, p_c)
    ref = NormalIndPower().power(h, n, 0.05, ratio=ratio)
    assert got == pytest.approx(ref, abs=1e-8)


def test_unpooled_power_matches_formula_and_simulation():
    p_c, p_t, n, ratio = 0.10, 0.12, 2500, 1.5
    got = power(p_t - p_c, n=n, baseline=p_c, metric="proportion", ratio=ratio)
    n_t = ratio * n
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n)
    z = stats.norm.isf(0.025)
    formula = stats.norm.cdf((p_t - p_c) / se - z) + stats.norm.cdf(-(p_t - p_c) / se - z)
    assert got == pytest.approx(formula, abs=1e-12)
    # known truth: the Wald test with unpooled variance, simulated
    rng = np.random.default_rng(7)
    reps = 20_000
    x_t = rng.binomial(int(n_t), p_t, reps) / n_t
    x_c = rng.binomial(n, p_c, reps) / n
    se_hat = np.sqrt(x_t * (1 - x_t) / n_t + x_c * (1 - x_c) / n)
    rate = np.mean(np.abs(x_t - x_c) / se_hat > z)
    assert abs(rate - got) < 3 * math.sqrt(got * (1 - got) / reps) + 0.005


def test_ratio_metric_delta_method_variance_by_simulation():
    # per-user page views X and clicks Y ~ Binomial(X, 0.3): ratio R = 0.3
    rng = np.random.default_rng(11)
    big_x = rng.poisson(4.0, 400_000) + 1
    big_y = rng.binomial(big_x, 0.3)
    m = RatioMoments.from_data(big_y, big_x)
    cov = np.cov(big_y, big_x)
    assert m.covariance == pytest.approx(cov[0, 1], rel=1e-12)
    assert m.ratio == pytest.approx(big_y.mean() / big_x.mean(), rel=1e-12)
    n, reps = 500, 4000
    idx = rng.integers(0, big_x.size, (reps, n))
    ratios = big_y[idx].mean(axis=1) / big_x[idx].mean(axis=1)
    sd_sim = ratios.std(ddof=1) * math.sqrt(n)
    # sd of a sample sd from 4000 reps is ~1.1%; 5% covers it and the O(1/n) delta bias
    assert m.sd == pytest.approx(sd_sim, rel=0.05)
    assert power(0.01, n=n, moments=m, metric="ratio") == pytest.approx(
        power(0.01, n=n, sd=m.sd, method="normal"), abs=1e-14
    )


def test_ratio_moments_formula():
    m = RatioMoments(2.0, 10.0, 3.0, 5.0, 4.0)
    r = 0.2
    assert m.sd == pytest.approx(math.sqrt((9 - 2 * r * 4 + r * r * 25) / 100), rel=1e-14)


def test_cuped_scales_variance():
    r2 = 0.36
    assert power(0.2, n=150, sd=1.0, cuped_r2=r2) == pytest.approx(
        power(0.2, n=150, sd=math.sqrt(1 - r2)), abs=1e-14
    )
    plain = sample_size(0.1, sd=1.0, method="normal").n_control_exact
    cuped = sample_size(0.1, sd=1.0, method="normal", cuped_r2=r2).n_control_exact
    assert cuped / plain == pytest.approx(1 - r2, rel=1e-8)


@pytest.mark.parametrize(("d", "cohen_n"), [(0.5, 64), (0.8, 26)])
def test_sample_size_cohen_table(d, cohen_n):
    # Cohen (1988), Table 2.4.1: n per group, two-sided alpha 0.05, power 0.80
    res = sample_size(d, sd=1.0)
    assert res.n_control == res.n_treated == cohen_n


@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_sample_size_solves_power_and_matches_statsmodels(ratio):
    res = sample_size(0.25, sd=1.0, ratio=ratio, power=0.9)
    assert isinstance(res, SampleSize)
    assert power(0.25, n=res.n_control_exact, sd=1.0, ratio=ratio) == pytest.approx(0.9, abs=1e-9)
    ref = TTestIndPower().solve_power(0.25, power=0.9, alpha=0.05, ratio=ratio)
    assert res.n_control_exact == pytest.approx(ref, rel=1e-6)
    assert power(0.25, n=res.n_control, sd=1.0, ratio=ratio) >= 0.9
    assert res.n_treated == math.ceil(ratio * res.n_control)
    assert res.n_total == res.n_control + res.n_treated
    assert "n_control=" in repr(res)


def test_sample_size_normal_closed_form():
    # the textbook n = 2 (z_{a/2} + z_b)^2 sd^2 / delta^2 ignores the far tail (< 1e-6 here)
    res = sample_size(0.1, sd=2.0, method="normal")
    closed = 2 * (stats.norm.isf(0.025) + stats.norm.isf(0.2)) ** 2 * 4 / 0.01
    assert res.n_control_exact == pytest.approx(closed, rel=1e-5)


def test_relative_effect_is_lift_over_baseline():
    a = power(0.1, n=5000, baseline=0.2, metric="proportion", relative=True)
    b = power(0.02, n=5000, baseline=0.2, metric="proportion")
    assert a == pytest.approx(b, abs=1e-14)
    assert power(0.05, n=100, sd=3.0, baseline=10.0, relative=True) == pytest.approx(
        power(0.5, n=100, sd=3.0), abs=1e-14
    )


def test_power_scale_invariance():
    assert power(0.7, n=40, sd=2.0) == pytest.approx(power(7.0, n=40, sd=20.0), abs=1e-13)


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"sd": 1.0},
        {"sd": 1.0, "method": "normal", "ratio": 3.0},
        {"baseline": 0.05, "metric": "proportion"},
        {"baseline": 0.05, "metric": "proportion", "method": "arcsine"},
    ],
)
def test_mde_inverts_power(kwargs):
    mde = minimum_detectable_effect(n=2000, power=0.8, **kwargs)
    assert mde > 0
    assert power(mde, n=2000, **kwargs) == pytest.approx(0.8, abs=1e-9)


def test_mde_matches_statsmodels_and_directions():
    mde = minimum_detectable_effect(n=1000, sd=1.0)
    ref = TTestIndPower().solve_power(None, nobs1=1000, power=0.8, alpha=0.05)
    assert mde == pytest.approx(ref, rel=1e-6)
    less = minimum_detectable_effect(n=1000, sd=1.0, alternative="less")
    greater = minimum_detectable_effect(n=1000, sd=1.0, alternative="greater")
    assert less == pytest.approx(-greater, rel=1e-10)
    rel = minimum_detectable_effect(n=3000, baseline=0.1, metric="proportion", relative=True)
    ab = minimum_detectable_effect(n=3000, baseline=0.1, metric="proportion")
    assert rel == pytest.approx(ab / 0.1, rel=1e-12)
    # round trip through sample_size
    assert sample_size(ab, baseline=0.1, metric="proportion").n_control_exact == pytest.approx(
        3000, rel=1e-7
    )


def test_duration():
    res = sample_size(0.01, baseline=0.1, metric="proportion")
    d = duration(2000, res, share=0.5)
    assert isinstance(d, Duration)
    assert d.days == math.ceil(res.n_total / 1000)
    assert d.days_exact == pytest.approx(res.n_total / 1000, rel=1e-14)
    assert duration(1000, 30_000).days == 30
    assert duration(1000, 30_001).days == 31
    assert "30 days" in repr(duration(1000, 30_000))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0, "sd": 1.0}, "alpha=0.0 is invalid"),
        ({"alpha": 1.2, "sd": 1.0}, "alpha=1.2 is invalid"),
        ({"sd": -1.0}, "sd=-1.0 is invalid"),
        ({"sd": None}, "sd=None is invalid"),
        ({"metric": "proportion", "baseline": 1.0}, "baseline=1.0 is invalid"),
        ({"metric": "proportion", "baseline": 0.0}, "baseline=0.0 is invalid"),
        ({"metric": "proportion"}, "baseline=None is invalid"),
        ({"metric": "proportion", "baseline": 0.95}, "outside \\(0, 1\\)"),
        ({"metric": "median", "sd": 1.0}, "metric='median' is invalid"),
        ({"sd": 1.0, "method": "arcsine"}, "method='arcsine' is invalid for metric='mean'"),
        ({"sd": 1.0, "cuped_r2": 1.0}, "cuped_r2=1.0 is invalid"),
        ({"sd": 1.0, "ratio": -2.0}, "ratio .* is invalid"),
        ({"sd": 1.0, "alternative": "larger"}, "alternative='larger' is invalid"),
        ({"sd": 1.0, "relative": True}, "relative=True needs a non-zero baseline"),
        ({"metric": "ratio"}, "metric='ratio' needs moments"),
    ],
)
def test_power_refusals(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        power(0.1, n=100, **kwargs)


def test_sample_size_and_mde_refusals():
    with pytest.raises(ParameterError, match=r"power=0\.04\ is\ invalid"):
        sample_size(0.1, sd=1.0, power=0.04)
    with pytest.raises(ParameterError, match=r"power=0\.05\ is\ invalid"):
        minimum_detectable_effect(n=100, sd=1.0, power=0.05)
    with pytest.raises(ParameterError, match="non-zero effect in the direction"):
        sample_size(0.0, sd=1.0)
    with pytest.raises(ParameterError, match="non-zero effect in the direction"):
        sample_size(-0.2, sd=1.0, alternative="greater")
    with pytest.raises(ParameterError, match="no effect on a baseline rate"):
        minimum_detectable_effect(n=3, baseline=0.5, metric="proportion", power=0.99)
    with pytest.raises(ParameterError, match="n=1 is invalid"):
        power(0.1, n=1, sd=1.0, ratio=0.5)


def test_duration_and_moments_refusals():
    with pytest.raises(ParameterError, match=r"share=0\ is\ invalid"):
        duration(100, 1000, share=0)
    with pytest.raises(ParameterError, match=r"share=1\.5\ is\ invalid"):
        duration(100, 1000, share=1.5)
    with pytest.raises(ParameterError, match=r"daily_traffic=\-5\ is\ invalid"):
        duration(-5, 1000)
    with pytest.raises(ParameterError, match=r"sample_size=2\.5\ is\ invalid"):
        duration(100, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"covariance=10\.0\ exceeds"):
        RatioMoments(1.0, 2.0, 1.0, 1.0, 10.0)
    with pytest.raises(ParameterError, match=r"mean_denominator=0\.0"):
        RatioMoments(1.0, 0.0, 1.0, 1.0, 0.0)
    with pytest.raises(DataError, match="same length"):
        RatioMoments.from_data(np.ones(3), np.ones(4))

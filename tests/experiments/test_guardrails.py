"""Guardrails: pre-period balance (Welch, Hotelling = regression F) and novelty/primacy trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from paribus.errors import DataError, ParameterError
from paribus.experiments.guardrails import BalanceCheck, balance_check, novelty_check


def _pre(n: int = 3000, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    x = rng.multivariate_normal([0, 0, 0], [[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]], n)
    return pd.DataFrame(
        {
            "t": t,
            "spend": 10 + 3 * x[:, 0] + shift * t,
            "visits": 5 + x[:, 1],
            "tenure": np.exp(x[:, 2]),
        }
    )


COVS = ["spend", "visits", "tenure"]


def test_balance_matches_welch_and_regression_f() -> None:
    df = _pre()
    res = balance_check(df, variant="t", covariates=COVS)
    assert isinstance(res, BalanceCheck)
    for j, c in enumerate(COVS):
        a, b = df.loc[df.t == 1, c], df.loc[df.t == 0, c]
        assert res.p_value[j] == pytest.approx(
            stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-8
        )
        d = (a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
        assert res.std_diff[j] == pytest.approx(d, rel=1e-10)
    # Hotelling's T^2 F equals the overall F of regressing the arm indicator on the covariates
    ols = sm.OLS(df.t.astype(float), sm.add_constant(df[COVS])).fit()
    assert res.f_statistic == pytest.approx(ols.fvalue, rel=1e-8)
    assert res.p_omnibus == pytest.approx(ols.f_pvalue, rel=1e-8)
    assert res.df == (3, len(df) - 4)
    assert res.balanced and res.verdict.startswith("Balanced")
    assert list(res.to_frame().index) == COVS and "Hotelling" in str(res)


def test_imbalance_flagged_with_the_worst_covariate() -> None:
    res = balance_check(_pre(shift=0.6), variant="t", covariates=COVS)
    assert not res.balanced and res.p_omnibus < 1e-3
    assert res.verdict.startswith("IMBALANCED") and "(spend)" in res.verdict


def test_balance_omnibus_size_under_randomisation() -> None:
    pvals = [
        balance_check(_pre(400, seed=s), variant="t", covariates=COVS).p_omnibus for s in range(80)
    ]
    assert stats.kstest(pvals, "uniform").pvalue > 0.001


def test_balance_refusals() -> None:
    df = _pre(200)
    with pytest.raises(DataError, match="collinear"):
        balance_check(df.assign(double=2 * df.spend), variant="t", covariates=[*COVS, "double"])
    with pytest.raises(ParameterError, match="covariates is empty"):
        balance_check(df, variant="t", covariates=[])
    with pytest.raises(ParameterError, match=r"alpha=.* is invalid"):
        balance_check(df, variant="t", covariates=COVS, alpha=5)
    with pytest.raises(DataError, match="not in the data"):
        balance_check(df, variant="t", covariates=["spnd"])
    with pytest.raises(DataError, match="not 0/1"):
        balance_check(df.assign(t=df.t + 1), variant="t", covariates=COVS)


def _daily(effects: list[float], n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for day, tau in enumerate(effects):
        t = rng.integers(0, 2, n)
        y = 2.0 + 0.1 * day + tau * t + rng.normal(size=n)
        date = pd.Timestamp("2026-03-02") + pd.Timedelta(days=day)
        frames.append(pd.DataFrame({"t": t, "y": y, "day": day, "date": date}))
    return pd.concat(frames, ignore_index=True)


def test_novelty_periods_and_trend_match_references() -> None:
    df = _daily([0.3, 0.25, 0.2, 0.2, 0.1, 0.1, 0.05])
    res = novelty_check(df, variant="t", outcome="y", time="day")
    est, se = [], []
    for k, eff in enumerate(res.periods):
        sub = df[df.day == k]
        ref = stats.ttest_ind(sub.y[sub.t == 1], sub.y[sub.t == 0], equal_var=False)
        assert eff.p_value == pytest.approx(ref.pvalue, rel=1e-8)
        est.append(eff.estimate)
        se.append(eff.std_error)
    w = 1 / np.array(se) ** 2
    x = sm.add_constant(np.arange(len(est), dtype=float))
    fixed = sm.WLS(est, x, weights=w).fit(cov_type="fixed scale", cov_kwds={"scale": 1.0})
    assert res.slope == pytest.approx(fixed.params[1], rel=1e-10)
    assert res.slope_se == pytest.approx(fixed.bse[1] * np.sqrt(res.dispersion), rel=1e-10)
    if res.dispersion > 1:  # then the scaled variance is WLS's own estimated-scale one
        free = sm.WLS(est, x, weights=w).fit()
        assert res.slope_se == pytest.approx(free.bse[1], rel=1e-10)
    assert res.pattern == "novelty" and res.message.startswith("NOVELTY EFFECT")


def test_primacy_and_stable() -> None:
    grow = novelty_check(
        _daily([0.0, 0.05, 0.1, 0.15, 0.2, 0.25]), variant="t", outcome="y", time="day"
    )
    assert grow.pattern == "primacy" and "growing" in grow.message
    flat = novelty_check(_daily([0.1] * 6, seed=2), variant="t", outcome="y", time="day")
    assert flat.pattern == "stable" and flat.message.startswith("No trend")
    # truth: slope 0 -> estimate within 3 standard errors
    assert abs(flat.slope) < 3 * flat.slope_se


def test_novelty_datetime_buckets_by_freq() -> None:
    df = _daily([0.2] * 21, n=600)
    weekly = novelty_check(df, variant="t", outcome="y", time="date", freq="W")
    assert len(weekly.periods) == 3
    assert weekly.periods.labels[0] == "2026-03-02/2026-03-08"
    daily = novelty_check(df, variant="t", outcome="y", time="date")
    assert len(daily.periods) == 21


def test_novelty_refusals() -> None:
    df = _daily([0.1, 0.1])
    with pytest.raises(DataError, match="has 2 periods; a trend needs at least 3"):
        novelty_check(df, variant="t", outcome="y", time="day")
    with pytest.raises(ParameterError, match="freq='W' applies to a datetime"):
        novelty_check(df, variant="t", outcome="y", time="day", freq="W")
    with pytest.raises(ParameterError, match="not a pandas period frequency"):
        novelty_check(df, variant="t", outcome="y", time="date", freq="fortnight")
    with pytest.raises(DataError, match="time column 'week' is not in the data"):
        novelty_check(df, variant="t", outcome="y", time="week")


@pytest.mark.slow
def test_trend_test_size_and_power() -> None:
    reps = 300
    null = [
        novelty_check(_daily([0.1] * 7, n=800, seed=s), variant="t", outcome="y", time="day")
        for s in range(reps)
    ]
    size = np.mean([r.pattern != "stable" for r in null])
    decay = [0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.0]
    alt = [
        novelty_check(_daily(decay, n=800, seed=s), variant="t", outcome="y", time="day")
        for s in range(reps)
    ]
    power = np.mean([r.pattern == "novelty" for r in alt])
    print(f"trend test: size {size:.3f} at alpha 0.05, power {power:.3f} (novelty)")
    assert size < 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    assert power > 0.8

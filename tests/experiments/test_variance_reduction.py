"""CUPED, CUPAC and Lin's adjustment: statsmodels references, the 1 - rho^2 theory of Deng
et al. (2013) in simulation, unbiasedness with a known effect, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression

from paribus.errors import DataError, ParameterError
from paribus.experiments.abtest import ABTest
from paribus.experiments.variance_reduction import cupac, cuped, lin_adjust

TOL = 1e-8


def _experiment(n: int, rho: float, seed: int, tau: float = 1.0, k: int = 1) -> pd.DataFrame:
    """Y = tau T + X b + e with corr(Y, X b) = rho within each arm; T ~ Bernoulli(1/2)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    signal = x.sum(axis=1) / math.sqrt(k)
    t = rng.random(n) < 0.5
    y = tau * t + rho * signal + math.sqrt(1 - rho**2) * rng.normal(size=n)
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(k)])
    return frame.assign(t=t.astype(int), y=y)


# -- Lin (2013) ----------------------------------------------------------------------------


def _lin_statsmodels(df: pd.DataFrame, covs: list[str]) -> tuple[float, float]:
    xc = df[covs] - df[covs].mean()
    design = pd.concat([xc, xc.mul(df.t, axis=0).add_suffix("_t")], axis=1)
    design.insert(0, "t", df.t.astype(float))
    fit = sm.OLS(df.y, sm.add_constant(design)).fit(cov_type="HC2")
    return fit.params["t"], fit.bse["t"]


@pytest.mark.parametrize("k", [1, 3])
def test_lin_matches_statsmodels_hc2(k: int) -> None:
    df = _experiment(250, 0.6, seed=k, k=k)
    df["y"] += df.t * df.x0  # heterogeneous effect: the interaction matters
    covs = [f"x{j}" for j in range(k)]
    est, se = _lin_statsmodels(df, covs)
    fit = lin_adjust(df.y, df.t, df[covs])
    assert fit.estimate == pytest.approx(est, rel=TOL)
    assert fit.std_error == pytest.approx(se, rel=TOL)
    e = ABTest(adjustment="lin", correction=None).fit(df, variant="t", metrics="y", covariates=covs)
    assert e[0].estimate == pytest.approx(est, rel=TOL)
    assert e[0].std_error == pytest.approx(se, rel=TOL)
    assert e[0].diagnostics["variance"] == "HC2" and e[0].method == "lin"
    assert fit.effect().p_value == pytest.approx(e[0].p_value, rel=TOL)


def test_lin_in_a_three_arm_test_uses_each_pair() -> None:
    df = _experiment(300, 0.5, seed=20)
    df["t"] = np.random.default_rng(21).integers(0, 3, len(df))
    t = ABTest(adjustment="lin", correction=None).fit(df, variant="t", metrics="y", covariates="x0")
    pair = df[df.t.isin([0, 2])].assign(t=lambda d: (d.t == 2).astype(int))
    est, se = _lin_statsmodels(pair, ["x0"])
    assert t["y: 2 vs 0"].estimate == pytest.approx(est, rel=TOL)
    assert t["y: 2 vs 0"].std_error == pytest.approx(se, rel=TOL)


# -- CUPED (Deng, Xu, Kohavi & Walker 2013) ------------------------------------------------


def test_cuped_theta_is_the_pooled_ols_slope() -> None:
    df = _experiment(400, 0.7, seed=30, k=2)
    res = cuped(df.y, df[["x0", "x1"]])
    ols = sm.OLS(df.y, sm.add_constant(df[["x0", "x1"]])).fit()
    assert res.theta == pytest.approx(ols.params[["x0", "x1"]].to_numpy(), rel=1e-10)
    assert res.adjusted.mean() == pytest.approx(df.y.mean(), rel=1e-10)
    assert res.variance_ratio == pytest.approx(1 - ols.rsquared, rel=1e-10)
    assert res.variance_reduction == pytest.approx(ols.rsquared, rel=1e-10)


def test_cuped_in_abtest_is_welch_on_the_adjusted_metric() -> None:
    df = _experiment(300, 0.6, seed=31, k=2)
    e = ABTest(correction=None).fit(df, variant="t", metrics="y", covariates=["x0", "x1"])[0]
    adj = pd.Series(cuped(df.y, df[["x0", "x1"]]).adjusted)
    ref = ABTest(correction=None).fit(df.assign(y=adj), variant="t", metrics="y")[0]
    assert e.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert e.std_error == pytest.approx(ref.std_error, rel=1e-12)
    assert e.method == "cuped" and e.diagnostics["adjustment"] == "cuped"


def _variance_ratio_study(reps: int, n: int, rho: float, seed: int) -> tuple[float, float]:
    """Monte Carlo Var(CUPED estimate) / Var(difference in means), and the SE of its log."""
    plain, adjusted = np.empty(reps), np.empty(reps)
    for r in range(reps):
        df = _experiment(n, rho, seed=seed + r)
        t = df.t.to_numpy(bool)
        y, y_cv = df.y.to_numpy(), cuped(df.y, df.x0).adjusted
        plain[r] = y[t].mean() - y[~t].mean()
        adjusted[r] = y_cv[t].mean() - y_cv[~t].mean()
    # corr(adjusted, plain)^2 = 1 - rho^2, so Var(log s_a^2 - log s_p^2) ~= 4 rho^2 / reps
    return adjusted.var(ddof=1) / plain.var(ddof=1), 2 * rho / math.sqrt(reps)


def test_cuped_variance_ratio_is_one_minus_rho_squared() -> None:
    """Deng et al. (2013, eq. 4): Var ratio = 1 - rho^2 = 0.64 for rho = 0.6. Tolerance:
    3.5 Monte Carlo SEs of the log ratio (0.027 here) plus 1% for estimating theta (O(1/n))."""
    ratio, se_log = _variance_ratio_study(2000, 400, 0.6, seed=1000)
    assert abs(math.log(ratio / (1 - 0.6**2))) < 3.5 * se_log + 0.01


@pytest.mark.slow
def test_cuped_variance_ratio_slow() -> None:
    ratio, se_log = _variance_ratio_study(20_000, 400, 0.6, seed=5000)
    print(f"CUPED variance ratio {ratio:.4f} (theory 0.64, MC SE of log {se_log:.4f})")
    assert abs(math.log(ratio / 0.64)) < 3.5 * se_log + 0.005


def test_cuped_reported_reduction_matches_rho_squared_in_large_sample() -> None:
    """At n = 200,000 the reported reduction 1 - SE_adj^2 / SE^2 estimates rho^2 = 0.49 with
    a sampling SD near 0.003; tolerance 0.015."""
    df = _experiment(200_000, 0.7, seed=40)
    e = ABTest().fit(df, variant="t", metrics="y", covariates="x0")[0]
    assert e.diagnostics["variance_reduction"] == pytest.approx(0.49, abs=0.015)


def test_cuped_is_unbiased_for_a_known_effect() -> None:
    """tau = 1 in every replication; the mean of 300 CUPED estimates lies within 3 SEs."""
    est = [
        ABTest()
        .fit(_experiment(300, 0.8, seed=2000 + r), variant="t", metrics="y", covariates="x0")[0]
        .estimate
        for r in range(300)
    ]
    assert abs(np.mean(est) - 1.0) < 3 * np.std(est, ddof=1) / math.sqrt(len(est))


# -- CUPAC (Tang et al. 2020) --------------------------------------------------------------


def _nonlinear(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n, 2))
    t = rng.random(n) < 0.5
    y = 0.5 * t + 2 * np.sin(2 * x[:, 0]) + np.abs(x[:, 1]) + 0.5 * rng.normal(size=n)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t.astype(int), "y": y})


def test_cupac_beats_linear_cuped_on_a_nonlinear_outcome() -> None:
    df = _nonlinear(2000, 50)
    linear = cuped(df.y, df[["x0", "x1"]])
    learned = cupac(df.y, df[["x0", "x1"]], random_state=0)
    assert learned.variance_ratio < linear.variance_ratio - 0.3
    again = cupac(df.y, df[["x0", "x1"]], random_state=0)
    np.testing.assert_array_equal(learned.adjusted, again.adjusted)
    e = ABTest(adjustment="cupac", random_state=0).fit(
        df, variant="t", metrics="y", covariates=["x0", "x1"]
    )[0]
    assert e.diagnostics["variance_reduction"] > 0.5
    assert abs(e.estimate - 0.5) < 3 * e.std_error


def test_cupac_with_a_linear_learner_is_close_to_cuped() -> None:
    """Cross-fitted OLS predictions are the in-sample fit up to O(k/n) noise."""
    df = _experiment(3000, 0.6, seed=51, k=2)
    linear = cuped(df.y, df[["x0", "x1"]])
    learned = cupac(df.y, df[["x0", "x1"]], learner=LinearRegression(), random_state=1)
    assert learned.variance_ratio == pytest.approx(linear.variance_ratio, abs=0.01)


# -- refusals ------------------------------------------------------------------------------


def test_refusals() -> None:
    df = _experiment(50, 0.5, seed=60)
    with pytest.raises(DataError, match=r"constant or collinear"):
        cuped(df.y, np.ones(50))
    with pytest.raises(DataError, match=r"covariates have missing or infinite"):
        cuped(df.y, np.r_[np.nan, df.x0[1:]])
    with pytest.raises(DataError, match=r"one row per unit \(50\)"):
        cuped(df.y, df.x0[:40])
    with pytest.raises(DataError, match=r"n_folds must be in \[2, n=50\]"):
        cupac(df.y, df.x0, n_folds=1)
    with pytest.raises(DataError, match=r"treated must be boolean or 0/1"):
        lin_adjust(df.y, df.t + 1, df.x0)
    with pytest.raises(DataError, match=r"an arm has 2 units but Lin's adjustment fits 2"):
        lin_adjust(df.y[:4], [1, 1, 0, 0], df.x0[:4])
    with pytest.raises(ParameterError, match=r"adjustment='ratio' is invalid"):
        ABTest(adjustment="ratio").fit(df, variant="t", metrics="y", covariates="x0")

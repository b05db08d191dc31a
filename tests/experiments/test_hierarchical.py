"""Hierarchical A/B model: eight schools against the exact marginal posterior, recovery of
simulated segment effects, predictive checks that flag a misspecified model, refusals."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

pytest.importorskip("numpyro")
pytest.importorskip("arviz")

from paribus.errors import DataError, NotFittedError, ParameterError, SamplingWarning
from paribus.experiments.hierarchical import HierarchicalABResult, HierarchicalABTest

Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
S8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
FAST = {"chains": 2, "draws": 500, "tune": 500}
RECOVERY = {"chains": 4, "draws": 1000, "tune": 1000}  # the defaults


def exact_eight_schools(
    y: np.ndarray, s: np.ndarray, mu_scale: float, tau_scale: float
) -> tuple[float, float]:
    """Posterior mean of mu and median of tau by 1-d quadrature over tau.

    With mu ~ N(0, m^2) integrated out, y | tau ~ N(0, diag(s^2 + tau^2) + m^2 11'), and
    E[mu | tau, y] = sum(y / v) / (sum(1 / v) + 1 / m^2) with v = s^2 + tau^2 (BDA3 5.5).
    """

    def dens(tau: float) -> float:
        cov = np.diag(s**2 + tau**2) + mu_scale**2
        prior = 2 * stats.cauchy.pdf(tau, scale=tau_scale)
        return prior * stats.multivariate_normal.pdf(y, mean=np.zeros(y.size), cov=cov)

    def mu_given_tau(tau: float) -> float:
        v = s**2 + tau**2
        return float((y / v).sum() / ((1 / v).sum() + 1 / mu_scale**2))

    z = integrate.quad(dens, 0, np.inf, limit=200)[0]
    mu_mean = integrate.quad(lambda t: dens(t) * mu_given_tau(t), 0, np.inf, limit=200)[0] / z

    def cdf(t: float) -> float:
        return integrate.quad(dens, 0, t, limit=200)[0] / z

    return mu_mean, optimize.brentq(lambda t: cdf(t) - 0.5, 1e-6, 50, xtol=1e-8)


@pytest.fixture(scope="module")
def schools() -> HierarchicalABTest:
    return HierarchicalABTest(prior_scale=5.0, random_state=1, **FAST).fit_estimates(
        Y8, S8, labels=list("ABCDEFGH")
    )


def test_eight_schools_reproduce_published_and_exact_posterior(
    schools: HierarchicalABTest,
) -> None:
    mu_exact, tau_median_exact = exact_eight_schools(Y8, S8, 5.0, 5.0)
    # the exact answer is the published one: mu ~ 4.4, tau median in 2.7-3.6
    assert mu_exact == pytest.approx(4.4, abs=0.1)
    assert 2.7 <= tau_median_exact <= 3.6
    r = schools.result_
    post = r.idata.posterior
    mu_draws = post["mu"].values.ravel()
    # Monte Carlo tolerance: 4 MCSE of the mean (ArviZ, from the bulk ESS)
    import arviz as az

    mcse_mu = float(az.mcse(r.idata, var_names=["mu"])["mu"])
    assert abs(mu_draws.mean() - mu_exact) < 4 * mcse_mu
    assert r.overall.estimate == pytest.approx(mu_draws.mean())
    # tau median: within 0.5 (about 3 MCSE of a median for ~700 effective draws)
    assert abs(float(np.median(post["tau"].values)) - tau_median_exact) < 0.5
    assert r.overall.inference == "posterior"
    assert r.pooled.labels == tuple("ABCDEFGH")


def test_inference_data_groups_and_diagnostics(schools: HierarchicalABTest) -> None:
    r = schools.result_
    for group in (
        "posterior",
        "prior",
        "prior_predictive",
        "posterior_predictive",
        "observed_data",
    ):
        assert group in r.idata.groups()
    assert r.idata.posterior["theta"].shape == (2, 500, 8)
    np.testing.assert_array_equal(r.idata.observed_data["y"].values, Y8)
    diag = r.diagnostics()
    assert {"ess_bulk", "ess_tail", "r_hat"} <= set(diag.columns)
    assert diag["r_hat"].max() <= 1.01
    assert diag.attrs["divergences"] == 0
    # the prior on tau is half-Cauchy(5): prior median 5
    assert np.median(r.idata.prior["tau"].values) == pytest.approx(5.0, rel=0.1)


def test_pooled_estimates_shrink_towards_mu(schools: HierarchicalABTest) -> None:
    r = schools.result_
    mu = r.overall.estimate
    for raw, pooled in zip(r.raw, r.pooled, strict=True):
        assert abs(pooled.estimate - mu) < abs(raw.estimate - mu) + 1e-9
        assert pooled.diagnostics["raw_estimate"] == raw.estimate


def _simulate(
    rng: np.random.Generator, k: int = 12, mu: float = 2.0, tau: float = 0.5
) -> tuple[pd.DataFrame, np.ndarray]:
    truth = rng.normal(mu, tau, k)
    rows = []
    for s, eff in enumerate(truth):
        n = 200
        t = np.repeat([0, 1], n)
        y = rng.normal(10.0, 5.0, 2 * n) + eff * t  # se of each segment ~ 0.5
        rows.append(pd.DataFrame({"seg": f"s{s:02d}", "t": t, "y": y}))
    return pd.concat(rows, ignore_index=True), truth


def _recovery(seed: int, **settings: int) -> tuple[float, float, int, bool, pd.DataFrame]:
    df, truth = _simulate(np.random.default_rng(seed))
    fit = HierarchicalABTest(level=0.9, random_state=seed, **settings).fit(
        df, treatment="t", outcome="y", segment="seg"
    )
    r = fit.result_
    raw = np.array([e.estimate for e in r.raw])
    pooled = np.array([e.estimate for e in r.pooled])
    covered = sum(e.ci_lower <= th <= e.ci_upper for e, th in zip(r.pooled, truth, strict=True))
    mu_in = r.overall.ci_lower <= 2.0 <= r.overall.ci_upper
    mse_raw, mse_pooled = float(((raw - truth) ** 2).mean()), float(((pooled - truth) ** 2).mean())
    return mse_raw, mse_pooled, int(covered), bool(mu_in), r.posterior_predictive_check()


def test_recovers_simulated_segment_effects_and_ppc_not_extreme() -> None:
    mse_raw, mse_pooled, covered, mu_in, ppc = _recovery(3, **RECOVERY)
    assert mse_pooled < mse_raw  # shrinkage helps
    assert covered >= 9  # of 12 at 90% (expected 10.8)
    assert mu_in
    # well-specified data: no predictive p-value is extreme
    assert ppc["p_value"].between(0.05, 0.95).all(), ppc


@pytest.mark.slow
def test_recovery_over_replications() -> None:
    """20 simulated experiments: pooled MSE below raw MSE on average, 90% coverage."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SamplingWarning)
        results = [_recovery(100 + i, **RECOVERY) for i in range(20)]
    n_warned = sum(issubclass(w.category, SamplingWarning) for w in caught)
    mse_raw = np.mean([r[0] for r in results])
    mse_pooled = np.mean([r[1] for r in results])
    coverage = np.sum([r[2] for r in results]) / (12 * 20)
    mu_cover = np.mean([r[3] for r in results])
    print(
        f"mse raw {mse_raw:.4f} pooled {mse_pooled:.4f} coverage {coverage:.3f} "
        f"mu covered {mu_cover:.2f} sampling warnings {n_warned}/20"
    )
    assert mse_pooled < 0.8 * mse_raw
    assert abs(coverage - 0.9) < 3 * math.sqrt(0.9 * 0.1 / 240) + 0.03
    assert mu_cover >= 0.8


def test_ppc_flags_complete_pooling_of_outlying_segments() -> None:
    y = np.array([0.3, -0.5, 0.8, -1.1, 0.2, 0.6, -0.4, 0.1, 8.2, 7.7])
    se = np.ones(10)
    fit = HierarchicalABTest(tau=0.0, random_state=0, **FAST).fit_estimates(y, se)
    ppc = fit.result_.posterior_predictive_check()
    for stat in ("sd", "max", "chi-square"):
        assert ppc.loc[stat, "p_value"] < 0.05 or ppc.loc[stat, "p_value"] > 0.95, ppc
    assert float(fit.result_.idata.posterior["tau"].max()) == 0.0


def test_plot_runs_headless(schools: HierarchicalABTest) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = schools.result_.plot()
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list("ABCDEFGH")
    plt.close(fig)


def test_diagnostics_warn_when_chains_disagree(schools: HierarchicalABTest) -> None:
    import arviz as az

    r = schools.result_
    rng = np.random.default_rng(0)
    shifted = rng.normal(size=(2, 200)) + np.array([[0.0], [3.0]])  # two chains apart
    idata = az.from_dict(
        posterior={"mu": shifted, "tau": np.abs(shifted), "theta": shifted[..., None]},
        sample_stats={"diverging": np.zeros((2, 200), dtype=bool)},
    )
    bad = HierarchicalABResult(idata, r.raw[:1], r.pooled[:1], r.overall, 0.95)
    with pytest.warns(SamplingWarning, match=r"max R-hat = \d\.\d+ \(want <= 1.01\)"):
        table = bad.diagnostics()
    assert table["r_hat"].max() > 1.1


def test_refusals() -> None:
    df = pd.DataFrame({"seg": ["a"] * 4 + ["b"] * 4, "t": [0, 0, 1, 1] * 2, "y": np.arange(8.0)})
    with pytest.raises(DataError, match="outcome='nope' is not a column"):
        HierarchicalABTest().fit(df, treatment="t", outcome="nope", segment="seg")
    with pytest.raises(DataError, match="must be 0/1"):
        HierarchicalABTest().fit(df.assign(t=df.t + 1), treatment="t", outcome="y", segment="seg")
    with pytest.raises(DataError, match="segment 'b' of 'seg': each arm needs at least 2"):
        HierarchicalABTest().fit(df.iloc[:7], treatment="t", outcome="y", segment="seg")
    with pytest.raises(DataError, match="need at least 2"):
        HierarchicalABTest().fit(df.iloc[:4], treatment="t", outcome="y", segment="seg")
    with pytest.raises(ParameterError, match="setting tau_prior='cauchy' is invalid"):
        HierarchicalABTest(tau_prior="cauchy").fit_estimates(Y8, S8)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"setting tau=-1\.0 is invalid"):
        HierarchicalABTest(tau=-1.0).fit_estimates(Y8, S8)
    with pytest.raises(DataError, match="same length"):
        HierarchicalABTest().fit_estimates(Y8, S8[:-1])
    with pytest.raises(DataError, match="std_errors finite and > 0"):
        HierarchicalABTest().fit_estimates(Y8, -S8)
    with pytest.raises(NotFittedError, match="call fit"):
        _ = HierarchicalABTest().result_


def test_missing_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpyro", None)
    with pytest.raises(ImportError, match=r'pip install "paribus\[bayes\]"'):
        HierarchicalABTest().fit_estimates(Y8, S8)


def test_module_imports_without_loading_the_backend() -> None:
    code = (
        "import sys, paribus.experiments.hierarchical, paribus.experiments.bayes; "
        "assert not {'jax', 'numpyro', 'arviz'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

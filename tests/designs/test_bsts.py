"""Kalman filter / smoothers against statsmodels and a slow reference; the BSTS sampler."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.tsa.statespace.structural import UnobservedComponents

from paribus.designs.impact._kalman import kalman_filter, kalman_smoother, simulation_smoother
from paribus.designs.impact.bsts import BSTS, effective_sample_size, geweke_z, split_rhat
from paribus.errors import DataError, NotFittedError, ParameterError


def _series(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = np.cumsum(rng.normal(scale=0.3, size=n)) + np.sin(np.arange(n) * np.pi / 2)
    y += x @ np.array([0.7, -0.4]) + rng.normal(size=n)
    y[[4, 17, 18, 50]] = np.nan
    return y, x


def _statsmodels_case(spec: str, init: str):  # type: ignore[no-untyped-def]
    y, x = _series()
    if spec == "level":
        mod, params = UnobservedComponents(y, level="llevel"), [0.9, 0.05]
    elif spec == "trend+seasonal":
        mod = UnobservedComponents(y, level="lltrend", seasonal=4)
        params = [0.8, 0.05, 0.01, 0.02]
    else:  # local level + static regression with fixed coefficients
        mod = UnobservedComponents(y, level="llevel", exog=x)
        params = [0.7, 0.03, 0.7, -0.4]
    m = mod.k_states
    if init == "known":
        a1, P1 = np.r_[1.0, np.zeros(m - 1)], np.eye(m) * 2.0 + 0.1
        mod.ssm.initialize_known(a1, P1)
    else:  # approximate diffuse, as statsmodels' default but with no burn-in
        a1, P1 = np.zeros(m), np.eye(m) * 1e6
        mod.ssm.initialize_approximate_diffuse(1e6)
    mod.loglikelihood_burn = 0
    res = mod.smooth(params)
    ssm = mod.ssm
    Z, T = ssm["design"][0], ssm["transition"]
    Qd = np.diag(ssm["selection"] @ ssm["state_cov"] @ ssm["selection"].T)
    yy = y - x @ np.asarray(params[2:]) if spec == "regression" else y
    return mod, params, res, (yy, Z, params[0], T, Qd, a1, P1)


@pytest.mark.parametrize("spec", ["level", "trend+seasonal", "regression"])
@pytest.mark.parametrize("init", ["known", "approximate-diffuse"])
def test_kalman_matches_statsmodels(spec: str, init: str) -> None:
    mod, params, res, args = _statsmodels_case(spec, init)
    f = kalman_filter(*args)
    # the approximate diffuse start (P1 = 1e6 I) loses ~6 digits to cancellation
    tol = 1e-8 if init == "known" else 1e-5
    assert f.loglike == pytest.approx(mod.loglike(params), abs=1e-8 if init == "known" else 1e-6)
    np.testing.assert_allclose(f.filtered_state.T, res.filtered_state, atol=tol, rtol=0)
    np.testing.assert_allclose(f.filtered_cov.transpose(1, 2, 0), res.filtered_state_cov, atol=tol)
    alpha, V = kalman_smoother(*args, cov=True)
    assert V is not None
    np.testing.assert_allclose(alpha.T, res.smoothed_state, atol=tol, rtol=0)
    # with P1 = 1e6 I, P - P N P cancels ~12 digits in the first periods: compare after them
    start = 0 if init == "known" else 10
    np.testing.assert_allclose(
        V.transpose(1, 2, 0)[..., start:], res.smoothed_state_cov[..., start:], atol=tol, rtol=0
    )


def _slow_filter(y, Zs, H, Ts, Qs, a1, P1):  # type: ignore[no-untyped-def]
    """Textbook Kalman filter (DK 2012 eq. 4.24) with per-period T_t and Q_t."""
    a, P, ll, out = a1.copy(), P1.copy(), 0.0, []
    for t in range(y.size):
        z = Zs[t]
        if np.isnan(y[t]):
            af, Pf = a, P
        else:
            F = z @ P @ z + H
            v = y[t] - z @ a
            K = P @ z / F
            af, Pf = a + K * v, P - np.outer(K, z @ P)
            ll += -0.5 * (np.log(2 * np.pi) + np.log(F) + v * v / F)
        out.append(af)
        a, P = Ts[t] @ af, Ts[t] @ Pf @ Ts[t].T + np.diag(Qs[t])
    return ll, np.array(out)


def test_time_varying_seasonal_duration_matches_slow_filter() -> None:
    """Seasons lasting 3 periods (transition switches on/off) and a dynamic coefficient."""
    y, x = _series(60, seed=3)
    model = BSTS(trend="linear", seasons=[(4, 3), (3, 1)], dynamic_regression=True)
    from paribus.designs.impact.bsts import _layout

    lay = _layout("linear", ((4, 3), (3, 1)), 2)
    tix = np.append(lay.tix(0, y.size - 1), 0)
    variances = np.array([0.05, 0.01, 0.02, 0.03, 0.004, 0.002])
    Qd = lay.qd(variances)
    Z = np.tile(lay.z_base, (y.size, 1))
    Z[:, lay.dyn] = x
    m = Z.shape[1]
    a1, P1 = np.zeros(m), np.eye(m)
    f = kalman_filter(y, Z, 0.6, lay.T, Qd, a1, P1, tix=tix)
    ll, filt = _slow_filter(y, Z, 0.6, lay.T[tix], Qd[tix], a1, P1)
    assert f.loglike == pytest.approx(ll, abs=1e-10)
    np.testing.assert_allclose(f.filtered_state, filt, atol=1e-10)
    # the seasonal state rotates only when a new season starts (every 3rd transition)
    assert set(np.unique(tix[:-1] & 1)) == {0, 1} and np.mean(tix[:-1] & 1) == pytest.approx(
        1 / 3, abs=0.02
    )
    assert model.seasons == [(4, 3), (3, 1)]


def test_simulation_smoother_moments() -> None:
    """DK (2002) draws have the smoothed mean and variance (5 Monte Carlo SE)."""
    _, _, res, args = _statsmodels_case("trend+seasonal", "known")
    rng = np.random.default_rng(7)
    draws = np.array([simulation_smoother(*args, rng=rng) for _ in range(3000)])
    mean, var = res.smoothed_state.T, np.diagonal(res.smoothed_state_cov, axis1=0, axis2=1)
    se_mean = np.sqrt(var / draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se_mean + 1e-12)
    se_var = var * np.sqrt(2 / draws.shape[0])
    assert np.all(np.abs(draws.var(axis=0) - var) < 5 * se_var + 1e-12)


def _regression_data(n: int = 150, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    level = np.cumsum(rng.normal(scale=0.1, size=n))
    return level + X @ np.array([1.0, 0.0, -0.8, 0.0, 0.0]) + rng.normal(scale=0.5, size=n), X


def test_bsts_spike_and_slab_recovers_coefficients() -> None:
    y, X = _regression_data()
    model = BSTS(niter=600, random_state=3).fit(y, X)
    incl = model.inclusion_probabilities_
    assert incl[0] > 0.95 and incl[2] > 0.95
    assert np.all(incl[[1, 3, 4]] < 0.5)
    beta = model.draws_["beta"]
    for j, truth in ((0, 1.0), (2, -0.8)):
        assert abs(beta[:, j].mean() - truth) < 3 * beta[:, j].std()
    sigma = model.draws_["sigma_obs"]
    assert abs(sigma.mean() - 0.5) < 3 * sigma.std() + 0.05
    d = model.diagnostics_
    assert {"mean", "sd", "ess", "r_hat", "geweke_z"} <= set(d.columns)
    assert d.loc["sigma_obs", "r_hat"] < 1.1


def test_bsts_forecast_shapes_and_seed() -> None:
    y, X = _regression_data(80)
    model = BSTS(niter=100, burn=20, seasons=[(4, 2)], random_state=1).fit(y, X)
    a = model.predict_draws(5, np.ones((5, 5)), random_state=2)
    b = model.predict_draws(5, np.ones((5, 5)), random_state=2)
    assert a.shape == (100, 5) and np.array_equal(a, b)
    with pytest.raises(DataError, match="X has 2 columns"):
        model.predict_draws(5, np.ones((5, 2)))


def test_bsts_refusals() -> None:
    with pytest.raises(ParameterError, match="seasons"):
        BSTS(seasons=[(1, 1)]).fit(np.arange(10.0))
    with pytest.raises(ParameterError, match="trend"):
        BSTS(trend="quadratic").fit(np.arange(10.0))
    with pytest.raises(DataError, match="at least 3 finite"):
        BSTS().fit(np.array([1.0, np.nan, np.nan, 2.0]))
    with pytest.raises(DataError, match="NaN or infinite"):
        BSTS().fit(np.arange(5.0), np.array([1.0, np.nan, 0.0, 1.0, 2.0]))
    with pytest.raises(NotFittedError, match="not fitted"):
        BSTS().predict_draws(3)


def test_convergence_diagnostics_on_known_chains() -> None:
    rng = np.random.default_rng(5)
    iid = rng.normal(size=4000)
    assert effective_sample_size(iid) == pytest.approx(4000, rel=0.15)
    assert split_rhat(iid) < 1.01
    assert abs(geweke_z(iid)) < 4
    phi, ar = 0.9, np.zeros(20000)
    for t in range(1, ar.size):
        ar[t] = phi * ar[t - 1] + rng.normal()
    assert effective_sample_size(ar) == pytest.approx(ar.size * (1 - phi) / (1 + phi), rel=0.25)
    drifting = np.linspace(0, 3, 1000) + rng.normal(size=1000)
    assert split_rhat(drifting) > 1.1


def _log_marginal(X, r, g, pi, df, ss, omega_inv):  # type: ignore[no-untyped-def]
    """Slow log p(gamma | r) up to a constant (George & McCulloch 1997, eq. for conjugate slab)."""
    idx = np.flatnonzero(g)
    prior = np.sum(np.where(g == 1, np.log(pi), np.log1p(-pi)))
    if idx.size == 0:
        return prior - 0.5 * (df + r.size) * np.log(ss + r @ r)
    Xg, Og = X[:, idx], omega_inv[np.ix_(idx, idx)]
    V_inv = Xg.T @ Xg + Og
    b = np.linalg.solve(V_inv, Xg.T @ r)
    S = ss + r @ r - b @ V_inv @ b
    _, ld_o = np.linalg.slogdet(Og)
    _, ld_v = np.linalg.slogdet(V_inv)
    return prior + 0.5 * ld_o - 0.5 * ld_v - 0.5 * (df + r.size) * np.log(S)


def test_spike_and_slab_indicator_sampler_matches_enumeration() -> None:
    """Indicator sweeps on fixed residuals visit the 2^3 models at their exact posterior rates."""
    from paribus.designs.impact.bsts import _SpikeSlab

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    r = X @ np.array([0.35, 0.0, 0.2]) + rng.normal(size=40)
    slab = _SpikeSlab(X, pi=0.4, df=5.0, ss=5.0 * 0.5, weight=0.5, a=0.5)
    models = [np.array([(m >> j) & 1 for j in range(3)]) for m in range(8)]
    logp = np.array([_log_marginal(X, r, g, 0.4, 5.0, 2.5, slab.omega_inv) for g in models])
    exact = np.exp(logp - logp.max())
    exact /= exact.sum()
    g, counts = np.zeros(3, dtype=np.int64), np.zeros(8)
    for _ in range(6000):
        slab.draw(r, g, rng)
        counts[int(g @ np.array([1, 2, 4]))] += 1
    freq = counts / counts.sum()
    # Gibbs draws are autocorrelated: 6 binomial SE of 6000 draws, plus a little
    assert np.all(np.abs(freq - exact) < 6 * np.sqrt(exact * (1 - exact) / 6000) + 0.01)

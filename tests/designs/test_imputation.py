"""ImputationDiD (Borusyak, Jaravel & Spiess 2024): a slow dense-dummy implementation of
the estimator and of its Theorem 3 variance, known-truth simulation where TWFE is
biased, the pre-trend test, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus.designs.did.imputation import ImputationDiD
from paribus.errors import DataError, DataWarning, NotFittedError, ParameterError

KW = {"outcome": "y", "unit": "id", "time": "t", "cohort": "g"}


def simulate(n=400, periods=10, seed=0, pretrend=0.0, drop=0.0):
    """Staggered adoption, effects growing with time since adoption and larger for the
    early cohort (so static TWFE is biased); optional pre-trend in treated units and
    randomly dropped rows (unbalanced panel)."""
    rng = np.random.default_rng(seed)
    cohorts = np.array([3.0, 5.0, 7.0, np.inf])
    g = cohorts[rng.integers(0, 4, n)]
    alpha = rng.normal(size=n) + np.where(g == 3, 1.0, 0.0)
    t = np.arange(1, periods + 1, dtype=float)
    e = t[None, :] - g[:, None]
    tau = np.where(e >= 0, np.where(g[:, None] == 3, 1.0 + 0.4 * e, 0.2 + 0.1 * e), 0.0)
    x = rng.normal(size=(n, periods))
    trend = pretrend * np.where(np.isfinite(g)[:, None] & (e < 0), e, 0.0)
    y = alpha[:, None] + 0.2 * t + 0.5 * x + tau + trend + rng.normal(size=(n, periods))
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(t, n),
            "y": y.ravel(),
            "x": x.ravel(),
            "g": np.repeat(np.where(np.isfinite(g), g, np.nan), periods),
            "tau": tau.ravel(),
            "w": np.repeat(rng.uniform(0.5, 2.0, n), periods),
        }
    )
    if drop:
        # keep period 1 so every unit has an untreated row
        frame = frame[(rng.random(len(frame)) > drop) | (frame["t"] == 1)].reset_index(drop=True)
    return frame


def dense_reference(frame, horizon=None, weights=None, covariates=("x",)):
    """Slow, obvious BJS: dummy-matrix WLS on untreated rows, imputation, and the
    Theorem 3 variance with leave-out cohort-by-period averages of tau."""
    g = frame["g"].fillna(np.inf).to_numpy()
    t = frame["t"].to_numpy()
    treated = t >= g
    unit_d = pd.get_dummies(frame["id"]).to_numpy(float)
    time_d = pd.get_dummies(frame["t"]).to_numpy(float)[:, 1:]
    Z = np.column_stack([unit_d, time_d, frame[list(covariates)].to_numpy(float)])
    om = np.ones(len(frame)) if weights is None else frame[weights].to_numpy(float)
    Z0, Z1 = Z[~treated], Z[treated]
    y = frame["y"].to_numpy()
    A = Z0.T @ (Z0 * om[~treated, None])
    coef = np.linalg.pinv(A) @ Z0.T @ (om[~treated] * y[~treated])
    tau = y[treated] - Z1 @ coef
    w = om[treated] * (1.0 if horizon is None else (t - g)[treated] == horizon)
    w = w / w.sum()
    est = w @ tau
    v = np.zeros(len(frame))
    v[treated] = w
    v[~treated] = -om[~treated] * (Z0 @ (np.linalg.pinv(A) @ Z1.T @ w))
    eps = np.zeros(len(frame))
    eps[~treated] = y[~treated] - Z0 @ coef
    ids = frame["id"].to_numpy()[treated]
    cells = g[treated] * 1000 + t[treated]
    eps_t = np.empty(tau.size)
    for k in range(tau.size):
        same = (cells == cells[k]) & (ids != ids[k])
        eps_t[k] = tau[k] - (
            (w[same] @ tau[same]) / w[same].sum()
            if w[same].sum() > 0
            else (w[cells == cells[k]] @ tau[cells == cells[k]]) / w[cells == cells[k]].sum()
            if w[cells == cells[k]].sum() > 0
            else tau[k]
        )
    eps[treated] = eps_t
    per_unit = pd.Series(v * eps).groupby(frame["id"].to_numpy()).sum()
    return est, float(np.sqrt(np.sum(per_unit**2))), tau


@pytest.fixture(scope="module")
def unbalanced():
    return simulate(n=150, seed=4, drop=0.1)


@pytest.mark.parametrize("weights", [None, "w"])
def test_matches_dense_dummy_implementation(unbalanced, weights):
    fit = ImputationDiD(horizons=[0, 2, 5]).fit(unbalanced, covariates="x", weights=weights, **KW)
    est, se, tau = dense_reference(unbalanced, weights=weights)
    np.testing.assert_allclose(fit.effects_, tau, atol=1e-8)
    assert fit.result_.estimate == pytest.approx(est, abs=1e-8)
    assert fit.result_.std_error == pytest.approx(se, abs=1e-8)
    for h in (0, 2, 5):
        est_h, se_h, _ = dense_reference(unbalanced, horizon=h, weights=weights)
        assert fit.event_study_[f"h={h}"].estimate == pytest.approx(est_h, abs=1e-8)
        assert fit.event_study_[f"h={h}"].std_error == pytest.approx(se_h, abs=1e-8)


def test_scores_reproduce_standard_error(unbalanced):
    fit = ImputationDiD().fit(unbalanced, **KW)
    phi = fit.result_.scores
    assert np.sqrt(np.sum(phi**2)) / phi.size == pytest.approx(fit.result_.std_error)


def test_unbiased_where_twfe_is_biased():
    frame = simulate(n=2000, seed=11)
    fit = ImputationDiD(horizons=4).fit(frame, covariates="x", **KW)
    g = frame["g"].fillna(np.inf).to_numpy()
    treated = frame["t"].to_numpy() >= g
    truth = frame.loc[treated, "tau"].mean()
    res = fit.result_
    assert abs(res.estimate - truth) < 3 * res.std_error
    k = (frame["t"] - frame["g"]).to_numpy()[treated]
    for h in range(5):
        eff = fit.event_study_[f"h={h}"]
        assert abs(eff.estimate - frame.loc[treated, "tau"][k == h].mean()) < 3 * eff.std_error
    # static TWFE on all rows (balanced: two-way demeaning is exact), regressors x and D
    cols = frame.assign(d=treated.astype(float))[["y", "x", "d"]]
    by_id = cols.groupby(frame["id"]).transform("mean")
    by_t = cols.groupby(frame["t"]).transform("mean")
    within = (cols - by_id - by_t + cols.mean()).to_numpy()
    beta = np.linalg.lstsq(within[:, 1:], within[:, 0], rcond=None)[0][-1]
    assert abs(beta - truth) > 10 * res.std_error


def test_pretrend_test_size_and_power():
    null = ImputationDiD(pretrends=3).fit(simulate(n=600, seed=2), **KW)
    assert null.pretrend_test_.df == 3
    assert null.pretrend_test_.p_value > 0.01
    for eff in null.pretrends_:
        assert abs(eff.estimate) < 3 * eff.std_error
    alt = ImputationDiD(pretrends=3).fit(simulate(n=600, seed=2, pretrend=0.3), **KW)
    assert alt.pretrend_test_.p_value < 1e-6
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with pytest.raises(ParameterError, match="horizons="):
        null.plot()
    with_h = ImputationDiD(pretrends=3, horizons=2).fit(simulate(n=600, seed=2), **KW)
    ax = with_h.plot()  # horizons and the three leads, by relative time
    plotted = {float(x) for ln in ax.get_lines() for x in np.atleast_1d(ln.get_xdata())}
    assert {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0} <= plotted
    plt.close("all")


def test_translation_and_permutation_invariance(unbalanced):
    base = ImputationDiD(horizons=2).fit(unbalanced, covariates="x", **KW)
    moved = unbalanced.assign(y=unbalanced["y"] + 7.0).sample(frac=1.0, random_state=1)
    other = ImputationDiD(horizons=2).fit(moved, covariates="x", **KW)
    assert other.result_.estimate == pytest.approx(base.result_.estimate, abs=1e-9)
    assert other.result_.std_error == pytest.approx(base.result_.std_error, abs=1e-9)


def test_unit_clusters_equal_default(unbalanced):
    base = ImputationDiD().fit(unbalanced, **KW).result_
    clustered = ImputationDiD().fit(unbalanced, clusters="id", **KW).result_
    assert clustered.std_error == pytest.approx(base.std_error, rel=1e-12)
    coarse = ImputationDiD().fit(unbalanced.assign(c=unbalanced["id"] // 10), clusters="c", **KW)
    assert coarse.result_.std_error != pytest.approx(base.std_error, rel=1e-6)


def test_refusals():
    frame = simulate(n=80, seed=5)
    with pytest.raises(ParameterError, match="leave_out"):
        ImputationDiD(leave_out="yes").fit(frame, **KW)
    with pytest.raises(ParameterError, match="horizons"):
        ImputationDiD(horizons="all").fit(frame, **KW)
    with pytest.raises(DataError, match="horizon h=20"):
        ImputationDiD(horizons=[0, 20]).fit(frame, **KW)
    no_never = frame.dropna(subset=["g"])
    with pytest.raises(DataError, match="no untreated observation"):
        ImputationDiD().fit(no_never, **KW)
    with pytest.raises(DataError, match="lower pretrends"):
        ImputationDiD(pretrends=7).fit(frame, **KW)
    with pytest.raises(NotFittedError, match="result_"):
        _ = ImputationDiD().result_


def test_always_treated_units_dropped_with_warning():
    frame = simulate(n=80, seed=6)
    frame.loc[frame["id"] == 0, "g"] = 1.0
    with pytest.warns(DataWarning, match="treated in every observed period"):
        fit = ImputationDiD().fit(frame, **KW)
    assert fit.result_.n_obs == 79


@pytest.mark.slow
def test_coverage_conservative():
    reps, hits = 200, 0
    for rep in range(reps):
        frame = simulate(n=300, seed=2000 + rep)
        res = ImputationDiD().fit(frame, covariates="x", **KW).result_
        truth = frame.loc[frame["t"] >= frame["g"], "tau"].mean()
        hits += res.ci_lower <= truth <= res.ci_upper
    coverage = hits / reps
    print(f"imputation ATT coverage {coverage:.3f}")
    assert coverage >= 0.92

"""InstrumentalForest: relabeling, local IV moment, and a confounded simulation.

References: hand formulas for the pseudo-outcomes; a just-identified weighted 2SLS by
linear algebra for the local moment (1e-10); the forest's predictions against its own
dense forest weights (1e-10); a simulation with an unobserved confounder where the
truth is known.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from paribus.effects.forest.instrumental import (
    InstrumentalForest,
    instrumental_pseudo_outcomes,
    local_iv_estimate,
)
from paribus.effects.forest.summaries import variable_importance
from paribus.errors import DataError, NotFittedError, ParameterError

# P(W = 1 | X) in the simulation: W = 1{1.5 Z + U - 0.75 + 0.5 V > 0}, U, V ~ N(0, 1)
_PW = 0.5 * (norm.cdf(0.75 / np.sqrt(1.25)) + norm.cdf(-0.75 / np.sqrt(1.25)))


def _simulate(n: int, seed: int):
    """Binary instrument, endogenous binary treatment (confounder U), tau(x) = 1 + 2 x1."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 4))
    Z = rng.integers(0, 2, size=n).astype(float)
    U = rng.normal(size=n)
    W = (1.5 * Z + U - 0.75 + 0.5 * rng.normal(size=n) > 0).astype(float)
    tau = 1 + 2 * X[:, 0]
    Y = X[:, 1] + tau * W + 2 * U + rng.normal(size=n)
    hats = {"y_hat": X[:, 1] + tau * _PW, "w_hat": np.full(n, _PW), "z_hat": np.full(n, 0.5)}
    return X, Y, W, Z, tau, hats


@pytest.fixture(scope="module")
def fitted():
    X, Y, W, Z, tau, hats = _simulate(2000, 0)
    iv = InstrumentalForest(n_estimators=150, min_node_size=20, random_state=1).fit(
        X, Y, W, Z, **hats
    )
    return X, Y, W, Z, tau, hats, iv


def test_pseudo_outcomes_match_formula():
    rng = np.random.default_rng(1)
    y, w, z = rng.normal(size=(3, 30))
    w = w + z
    idx = np.arange(3, 25)
    rho = instrumental_pseudo_outcomes(y, w, z, idx)
    yy, ww, zz = y[idx], w[idx], z[idx]
    cov = lambda a, b: np.mean((a - a.mean()) * (b - b.mean()))  # noqa: E731
    tau_p = cov(zz, yy) / cov(zz, ww)
    expected = (zz - zz.mean()) * ((yy - yy.mean()) - (ww - ww.mean()) * tau_p) / cov(zz, ww)
    np.testing.assert_allclose(rho, expected, atol=1e-12)
    assert abs(rho.mean()) < 1e-12  # the gradient sums to zero at the parent's solution
    # Z = W: the causal forest's relabeling
    causal = instrumental_pseudo_outcomes(y, w, w, idx)
    dw = ww - ww.mean()
    slope = np.sum(dw * (yy - yy.mean())) / np.sum(dw**2)
    np.testing.assert_allclose(causal, dw * (yy - yy.mean() - slope * dw) / np.mean(dw**2))


def test_local_iv_estimate_is_weighted_2sls():
    rng = np.random.default_rng(2)
    n = 50
    z = rng.normal(size=n)
    w = z + rng.normal(size=n)
    y = 2 * w + rng.normal(size=n)
    alpha = rng.uniform(size=n)
    Zm, Wm = np.column_stack([np.ones(n), z]), np.column_stack([np.ones(n), w])
    beta = np.linalg.solve(Zm.T @ (alpha[:, None] * Wm), Zm.T @ (alpha * y))
    assert local_iv_estimate(alpha, y, w, z) == pytest.approx(beta[1], abs=1e-10)
    uncentred = local_iv_estimate(alpha, y, w, z, center=False)
    assert uncentred == pytest.approx(np.sum(alpha * z * y) / np.sum(alpha * z * w), abs=1e-12)
    several = local_iv_estimate(np.vstack([alpha, np.ones(n)]), y, w, z)
    assert several.shape == (2,)
    assert several[1] == pytest.approx(np.cov(z, y)[0, 1] / np.cov(z, w)[0, 1], abs=1e-10)


def test_predictions_equal_local_moment_on_forest_weights(fitted):
    *_, iv = fitted
    Xt = np.random.default_rng(3).uniform(size=(7, 4))
    alpha = iv.forest_weights(Xt).toarray()
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-12)
    yr, wr, zr = iv.residuals()
    expected = local_iv_estimate(alpha, yr, wr, zr, center=False)
    np.testing.assert_allclose(iv.effect(Xt), expected, atol=1e-10)
    assert iv.effect(Xt).shape == (7,)


def test_iv_forest_beats_confounded_causal_forest(fitted):
    X, Y, W, _, tau, hats, iv = fitted
    # with the treatment as its own instrument the forest is the causal forest
    cf_hats = {**hats, "z_hat": hats["w_hat"]}
    cf = InstrumentalForest(n_estimators=150, min_node_size=20, random_state=1).fit(
        X, Y, W, W, **cf_hats
    )
    rmse_iv = np.sqrt(np.mean((iv.effect() - tau) ** 2))
    rmse_cf = np.sqrt(np.mean((cf.effect() - tau) ** 2))
    assert rmse_iv < 0.4 * rmse_cf
    assert rmse_iv < 0.8  # tau ranges over [1, 3]
    # the heterogeneity is found: OOB estimates rise with x1
    assert np.corrcoef(iv.effect(), X[:, 0])[0, 1] > 0.3


def test_average_effect_covers_truth(fitted):
    *_, tau, _, iv = fitted
    ate = iv.ate()
    assert ate.estimand == "average CLATE"
    assert abs(ate.estimate - tau.mean()) < 3 * ate.std_error
    assert 0.1 < ate.std_error < 0.4


def test_reproducible_and_scale_equivariant():
    X, Y, W, Z, _, hats = _simulate(400, 4)
    a = InstrumentalForest(n_estimators=40, random_state=5).fit(X, Y, W, Z, **hats)
    b = InstrumentalForest(n_estimators=40, random_state=5).fit(X, Y, W, Z, **hats)
    np.testing.assert_array_equal(a.effect(), b.effect())
    # new units of Y (a factor 2 is exact in floating point): the same splits, tau doubles
    scaled = {**hats, "y_hat": 2 * hats["y_hat"]}
    c = InstrumentalForest(n_estimators=40, random_state=5).fit(X, 2 * Y, W, Z, **scaled)
    np.testing.assert_allclose(c.effect(), 2 * a.effect(), rtol=1e-12)
    assert c.ate().std_error == pytest.approx(2 * a.ate().std_error, rel=1e-12)


def test_cross_fitted_nuisances():
    X, Y, W, Z, _, _ = _simulate(300, 6)
    f = InstrumentalForest(n_estimators=40, folds=2, random_state=0).fit(X, Y, W, Z)
    assert set(f.nuisance_) == {"y_hat", "w_hat", "z_hat"}
    assert np.all(np.isfinite(f.effect()))


def test_refusals():
    X, Y, W, Z, _, hats = _simulate(200, 7)
    with pytest.raises(DataError, match="does not predict w"):
        InstrumentalForest(n_estimators=4).fit(
            X, Y, W, np.ones(200), **{**hats, "z_hat": np.ones(200)}
        )
    with pytest.raises(DataError, match="y has 199 values"):
        InstrumentalForest(n_estimators=4).fit(X, Y[:-1], W, Z, **hats)
    with pytest.raises(ParameterError, match=r"sample_fraction=0\.8"):
        InstrumentalForest(sample_fraction=0.8).fit(X, Y, W, Z, **hats)
    with pytest.raises(ParameterError, match="mtry=9 exceeds"):
        InstrumentalForest(mtry=9).fit(X, Y, W, Z, **hats)
    with pytest.raises(NotFittedError, match="not fitted"):
        InstrumentalForest().effect(X)
    f = InstrumentalForest(n_estimators=40, random_state=0).fit(X, Y, W, Z, **hats)
    with pytest.raises(DataError, match="X has 3 columns"):
        f.effect(X[:, :3])


def test_intervals_and_clusters():
    X, Y, W, Z, tau, hats = _simulate(1000, 9)
    cluster = np.repeat(np.arange(250), 4)
    f = InstrumentalForest(n_estimators=100, min_node_size=20, random_state=3).fit(
        X, Y, W, Z, cluster=cluster, **hats
    )
    lo, hi = f.effect_interval()
    assert np.all(lo < f.effect()) and np.all(f.effect() < hi)
    assert 0.5 < np.mean((lo <= tau) & (tau <= hi)) <= 1.0
    Xt = X[:5]
    lo5, hi5 = f.effect_interval(Xt, level=0.5)
    mid = f.effect(Xt)
    np.testing.assert_allclose((lo5 + hi5) / 2, mid, atol=1e-12)
    gamma = f.scores_
    sums = np.bincount(cluster, weights=gamma - gamma.mean())
    se = np.sqrt(250 / 249 * np.sum(sums**2)) / 1000
    assert f.ate().std_error == pytest.approx(se, rel=1e-10)
    counts = f.split_frequencies(max_depth=2)
    assert counts.shape == (2, 4) and counts[0].argmax() == 0  # the modifier x1 first
    assert variable_importance(f.split_frequencies()).argmax() == 0


def test_against_paribus_causal_forest():
    pd = pytest.importorskip("pandas")
    causal = pytest.importorskip("paribus.effects.forest.causal")
    X, Y, W, Z, tau, _ = _simulate(2000, 10)
    df = pd.DataFrame(X, columns=["x1", "x2", "x3", "x4"]).assign(y=Y, w=W)
    cf = causal.CausalForest(n_estimators=100, min_node_size=20, random_state=0)
    cf.fit(df, treatment="w", outcome="y", covariates=["x1", "x2", "x3", "x4"])
    iv = InstrumentalForest(n_estimators=100, min_node_size=20, random_state=0).fit(X, Y, W, Z)
    rmse_cf = np.sqrt(np.mean((cf.oob_effect_ - tau) ** 2))
    rmse_iv = np.sqrt(np.mean((iv.effect() - tau) ** 2))
    assert rmse_iv < 0.5 * rmse_cf  # confounding by U biases the causal forest


@pytest.mark.slow
def test_average_effect_coverage_monte_carlo():
    reps = 100
    hits, errors, ses, pointwise = 0, [], [], []
    for r in range(reps):
        X, Y, W, Z, tau, hats = _simulate(2000, 100 + r)
        f = InstrumentalForest(n_estimators=150, min_node_size=20, random_state=r).fit(
            X, Y, W, Z, **hats
        )
        ate = f.ate()
        errors.append(ate.estimate - tau.mean())
        ses.append(ate.std_error)
        lo, hi = f.effect_interval()
        pointwise.append(np.mean((lo <= tau) & (tau <= hi)))
        hits += ate.ci_lower <= tau.mean() <= ate.ci_upper
    err = np.asarray(errors)
    print(
        f"bias {err.mean():.3f} (MC se {err.std(ddof=1) / np.sqrt(reps):.3f}), "
        f"sd {err.std(ddof=1):.3f}, mean SE {np.mean(ses):.3f}, coverage {hits / reps:.2f}; "
        f"CATE pointwise coverage {np.mean(pointwise):.3f}"
    )
    # the 1 / c(x) of the doubly robust score leaves a small finite-sample bias (module
    # docstring): bounded here relative to the standard error rather than at 3 MC SEs
    assert abs(err.mean()) < 0.5 * np.mean(ses)
    assert np.mean(ses) == pytest.approx(err.std(ddof=1), rel=0.2)
    assert hits / reps >= 0.88
    assert np.mean(pointwise) >= 0.8


def test_compliance_override_enters_the_scores():
    X, Y, W, Z, _, hats = _simulate(400, 8)
    f = InstrumentalForest(n_estimators=40, random_state=2).fit(X, Y, W, Z, **hats)
    yr, wr, zr = f.residuals()
    c = np.full(400, np.mean(zr * wr))
    g = InstrumentalForest(n_estimators=40, random_state=2).fit(X, Y, W, Z, **hats, compliance=c)
    tau = g.effect()
    np.testing.assert_array_equal(tau, f.effect())
    gamma = tau + zr * (yr - wr * tau) / c
    assert g.ate().estimate == pytest.approx(gamma.mean(), abs=1e-12)
    assert g.ate().std_error == pytest.approx(gamma.std() / np.sqrt(400), rel=1e-10)
    assert f.ate().estimate == pytest.approx(
        np.mean(tau + zr * (yr - wr * tau) / f.local_first_stage_), abs=1e-12
    )


def _table():
    import pandas as pd

    X, Y, W, Z, _tau, hats = _simulate(800, 4)
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2", "x3"])
    frame = frame.assign(w=W, y=Y, z=Z, site=np.arange(800) % 40)
    return frame, (X, Y, W, Z), hats


def test_table_form_equals_the_array_form():
    # the estimator contract fit(data, treatment, outcome, covariates, instrument=) grows
    # the same forest as grf's array order fit(X, y, w, z)
    frame, (X, Y, W, Z), hats = _table()
    covs = ["x0", "x1", "x2", "x3"]
    by_name = InstrumentalForest(n_estimators=40, random_state=3)
    by_name.fit(frame, "w", "y", covs, instrument="z", **hats)
    by_array = InstrumentalForest(n_estimators=40, random_state=3).fit(X, Y, W, Z, **hats)
    np.testing.assert_array_equal(by_name.oob_effect_, by_array.oob_effect_)
    assert by_name.ate().estimate == by_array.ate().estimate
    assert list(by_name.feature_names_in_) == covs and by_array.feature_names_in_ is None
    # a table given to effect() is read by column name, whatever the column order
    shuffled = frame[["z", "x3", "x1", "x0", "x2"]]
    np.testing.assert_array_equal(by_name.effect(shuffled), by_array.effect(X))
    with pytest.raises(DataError, match="x2"):
        by_name.effect(frame.drop(columns="x2"))


def test_causal_data_roles_fill_the_call():
    from paribus import CausalData

    frame, (X, Y, W, Z), hats = _table()
    covs = ["x0", "x1", "x2", "x3"]
    cd = CausalData(
        frame, treatment="w", outcome="y", covariates=covs, instruments="z",
        cluster="site", binary_treatment=False,
    )  # fmt: skip
    from_roles = InstrumentalForest(n_estimators=40, random_state=3).fit(cd, **hats)
    explicit = InstrumentalForest(n_estimators=40, random_state=3).fit(
        X, Y, W, Z, cluster=frame["site"].to_numpy(), **hats
    )
    np.testing.assert_array_equal(from_roles.oob_effect_, explicit.oob_effect_)
    assert from_roles.ate().std_error == explicit.ate().std_error  # cluster-robust


def test_table_form_refusals():
    frame, _, _ = _table()
    covs = ["x0", "x1", "x2", "x3"]
    forest = InstrumentalForest(n_estimators=4)
    with pytest.raises(ParameterError, match="instrument='column'"):
        forest.fit(frame, "w", "y", covs)
    with pytest.raises(DataError, match="'zz'"):
        forest.fit(frame, "w", "y", covs, instrument="zz")
    with pytest.raises(ParameterError, match="cluster= names a column"):
        forest.fit(frame, "w", "y", covs, instrument="z", cluster=np.zeros(800))
    with pytest.raises(DataError, match="covariates"):
        forest.fit(frame[["w", "y", "z"]], "w", "y", [], instrument="z")
    X = frame[covs].to_numpy()
    with pytest.raises(ParameterError, match="pass a table"):
        forest.fit(X, frame["y"], frame["w"], instrument="z")
    with pytest.raises(ParameterError, match="fit\\(X, y, w, z\\)"):
        forest.fit(X, frame["y"], frame["w"])

"""SyntheticDiD: Table 1 of Arkhangelsky et al. (2021), the weighted-TWFE identity,
Frank-Wolfe against the exact QP, simulation with a known effect, invariances and
refusals."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize

from paribus.designs.synth.sdid import SyntheticDiD, simplex_least_squares
from paribus.errors import DataError, NotFittedError, ParameterError

matplotlib.use("Agg")

COLS = {"outcome": "y", "unit": "unit", "time": "time", "treatment": "d"}


@pytest.fixture(scope="module")
def prop99(shared_datasets) -> pd.DataFrame:
    wide = pd.read_csv(shared_datasets / "prop99_california_wide.csv")
    long = wide.melt(id_vars="Year", var_name="unit", value_name="y")
    long["d"] = ((long["unit"] == "California") & (long["Year"] >= 1989)).astype(int)
    return long.rename(columns={"Year": "time"})


def factor_panel(
    noise_seed: int, *, n0: int = 30, n1: int = 3, t0: int = 12, t1: int = 4, tau: float = 2.0
) -> pd.DataFrame:
    """Fixed two-factor structure (treated loadings shifted by +1, so DID is biased),
    fresh N(0, 1) noise per ``noise_seed``; the effect is ``tau`` for every treated cell."""
    rng = np.random.default_rng(2024)
    n, t = n0 + n1, t0 + t1
    alpha = rng.normal(0, 2, n)
    beta = np.cumsum(rng.normal(0, 1, t))
    load = rng.normal(0, 1, (n, 2))
    load[n0:] += 1.0
    factors = np.cumsum(rng.normal(0, 1, (t, 2)), axis=0)
    noise = np.random.default_rng(noise_seed).normal(0, 1, (n, t))
    w = np.zeros((n, t))
    w[n0:, t0:] = 1
    y = alpha[:, None] + beta[None] + load @ factors.T + noise + tau * w
    u, tt = np.meshgrid(np.arange(n), np.arange(t), indexing="ij")
    return pd.DataFrame(
        {"unit": u.ravel(), "time": tt.ravel(), "y": y.ravel(), "d": w.ravel().astype(int)}
    )


# -- Table 1 of Arkhangelsky et al. (2021) ------------------------------------------------


@pytest.mark.parametrize(
    ("estimator", "estimate", "se"),
    [("sdid", -15.6, 8.4), ("sc", -19.6, 9.9), ("did", -27.3, 17.7)],
)
def test_prop99_table1(prop99, estimator, estimate, se):
    fit = SyntheticDiD(estimator=estimator).fit(prop99, **COLS)
    r = fit.result_
    # the point estimates to the published precision (one decimal)
    assert round(r.estimate, 1) == estimate
    # with one treated state the placebo has 38 possible assignments; they are all used
    # (the limit of Algorithm 4), so the SE is the paper's up to its B = 200 random
    # draws, whose SE varies over about 8.3-10.4 for SDID: 15% tolerance
    assert r.diagnostics["placebo_exhaustive"] and r.diagnostics["n_replications"] == 38
    assert r.std_error == pytest.approx(se, rel=0.15)
    assert r.ci_lower < r.estimate < r.ci_upper


def test_prop99_weights(prop99):
    fit = SyntheticDiD().fit(prop99, **COLS)
    omega, lam = fit.unit_weights_, fit.time_weights_
    assert omega.sum() == pytest.approx(1.0) and (omega >= 0).all()
    assert lam.sum() == pytest.approx(1.0) and (lam >= 0).all()
    assert "California" not in omega.index and len(omega) == 38
    # the paper's Figure 1: time weights on the last pre-years 1986-1988 only
    assert set(lam[lam > 0].index) == {1986, 1987, 1988}
    assert fit.result_.diagnostics["n_pre"] == 19 and fit.result_.diagnostics["n_post"] == 12


def test_frank_wolfe_agrees_with_exact_qp(prop99):
    fw = SyntheticDiD().fit(prop99, **COLS)
    qp = SyntheticDiD(solver="qp").fit(prop99, **COLS)
    assert fw.result_.estimate == pytest.approx(qp.result_.estimate, abs=0.01)
    # Frank-Wolfe stops early (objective decrease below (1e-5 sigma)^2) and sparsifies
    assert np.abs(fw.unit_weights_ - qp.unit_weights_).max() < 5e-3
    assert np.abs(fw.time_weights_ - qp.time_weights_).max() < 5e-3
    assert fw.result_.std_error == pytest.approx(qp.result_.std_error, abs=0.01)


# -- the weighted two-way fixed-effects regression (Algorithm 1, step 3) -------------------


@pytest.mark.parametrize("estimator", ["sdid", "did"])
def test_estimate_is_weighted_twfe_regression(estimator):
    data = factor_panel(1)
    fit = SyntheticDiD(estimator=estimator, se="jackknife").fit(data, **COLS)
    treated = data.loc[data["d"] == 1, "unit"].unique()
    post = data.loc[data["d"] == 1, "time"].unique()
    omega = data["unit"].astype(str).map(fit.unit_weights_.to_dict()).fillna(1 / len(treated))
    lam = data["time"].map(fit.time_weights_.to_dict()).fillna(1 / len(post))
    weights = (omega * lam).to_numpy()
    sub = data[weights > 0]
    design = pd.get_dummies(sub[["unit", "time"]].astype(str), drop_first=True, dtype=float)
    design.insert(0, "d", sub["d"].astype(float))
    design = sm.add_constant(design)
    wls = sm.WLS(sub["y"], design, weights=weights[weights > 0]).fit()
    assert fit.result_.estimate == pytest.approx(wls.params["d"], abs=1e-8)


# -- the exact simplex QP against a generic solver ----------------------------------------


@pytest.mark.parametrize(("seed", "eta"), [(0, 0.0), (1, 0.5), (2, 10.0)])
def test_simplex_least_squares_matches_slsqp(seed, eta):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(15, 8))
    b = rng.normal(size=15) + 2.0

    def objective(x):
        return np.sum((a @ x - b) ** 2) + eta * x @ x

    x = simplex_least_squares(a, b, eta)
    ref = optimize.minimize(
        objective,
        np.full(8, 1 / 8),
        method="SLSQP",
        bounds=[(0, 1)] * 8,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert x.min() >= 0 and x.sum() == pytest.approx(1.0, abs=1e-12)
    assert objective(x) <= ref.fun + 1e-9
    np.testing.assert_allclose(x, ref.x, atol=1e-5)


# -- simulation with a known effect ------------------------------------------------------


def test_unbiased_and_placebo_se_on_factor_model():
    reps = [
        SyntheticDiD(solver="qp", n_replications=40, random_state=s)
        .fit(factor_panel(s), **COLS)
        .result_
        for s in range(40)
    ]
    est = np.array([r.estimate for r in reps])
    se = np.array([r.std_error for r in reps])
    mc_se = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - 2.0) < 3 * mc_se
    # placebo SE against the Monte Carlo sd (0.46 here; mean placebo SE 0.42)
    assert 0.7 < se.mean() / est.std(ddof=1) < 1.4


def test_did_is_biased_where_sdid_is_not():
    # treated loadings differ, so parallel trends fail: DID's bias is many MC SEs
    est = np.array(
        [
            SyntheticDiD(estimator="did", se="jackknife")
            .fit(factor_panel(s), **COLS)
            .result_.estimate
            for s in range(20)
        ]
    )
    assert abs(est.mean() - 2.0) > 5 * est.std(ddof=1) / np.sqrt(est.size)


@pytest.mark.parametrize("se", ["bootstrap", "jackknife"])
def test_bootstrap_and_jackknife(se):
    data = factor_panel(3)
    a = SyntheticDiD(se=se, n_replications=30, random_state=7).fit(data, **COLS)
    b = SyntheticDiD(se=se, n_replications=30, random_state=7).fit(data, **COLS)
    assert a.result_.inference == se
    assert 0 < a.result_.std_error < 2.0
    assert a.result_.std_error == b.result_.std_error
    n_reps = 30 if se == "bootstrap" else 33
    assert a.replicates_.shape == (n_reps,)


def test_jackknife_matches_slow_leave_one_out():
    data = factor_panel(4)
    fit = SyntheticDiD(se="jackknife").fit(data, **COLS)
    omega, lam = fit.unit_weights_, fit.time_weights_
    data = data.assign(unit=data["unit"].astype(str))
    y = data.pivot(index="unit", columns="time", values="y")
    treated = sorted(data.loc[data["d"] == 1, "unit"].unique())
    post = sorted(data.loc[data["d"] == 1, "time"].unique())
    pre = list(lam.index)
    taus = []
    for drop in y.index:
        tr = [u for u in treated if u != drop]
        w = omega.drop(drop, errors="ignore")
        w = w / w.sum()
        diff = y.loc[tr].mean() - w @ y.loc[w.index]
        taus.append(diff[post].mean() - diff[pre] @ lam)
    taus = np.array(taus)
    se = np.sqrt((taus.size - 1) / taus.size * np.sum((taus - taus.mean()) ** 2))
    assert fit.result_.std_error == pytest.approx(se, rel=1e-10)


# -- invariances --------------------------------------------------------------------------


def test_invariances():
    data = factor_panel(5)
    base = SyntheticDiD(se="jackknife").fit(data, **COLS).result_
    shifted = data.assign(y=data["y"] + 100 + 3.0 * data["unit"])
    r = SyntheticDiD(se="jackknife").fit(shifted, **COLS).result_
    assert r.estimate == pytest.approx(base.estimate, abs=1e-6)
    scaled = SyntheticDiD(se="jackknife").fit(data.assign(y=data["y"] * 10), **COLS).result_
    assert scaled.estimate == pytest.approx(10 * base.estimate, rel=1e-6)
    assert scaled.std_error == pytest.approx(10 * base.std_error, rel=1e-6)
    shuffled = data.sample(frac=1.0, random_state=0)
    r = SyntheticDiD(se="jackknife").fit(shuffled, **COLS).result_
    assert r.estimate == pytest.approx(base.estimate, abs=1e-12)


def test_plot(prop99):
    ax = SyntheticDiD().fit(prop99, **COLS).plot()
    assert len(ax.get_lines()) >= 2
    labels = ax.get_legend_handles_labels()[1]
    assert {"treated", "synthetic control", "time weights"} <= set(labels)


# -- refusals -----------------------------------------------------------------------------


def test_refuses_staggered_adoption():
    data = factor_panel(0)
    data.loc[(data["unit"] == 31) & (data["time"] == 12), "d"] = 0
    with pytest.raises(DataError, match="not a block design"):
        SyntheticDiD().fit(data, **COLS)


def test_refuses_non_binary_treatment():
    data = factor_panel(0).assign(d=lambda df: df["d"] * 2)
    with pytest.raises(DataError, match="0/1 indicator"):
        SyntheticDiD().fit(data, **COLS)


def test_refuses_no_treated_units():
    data = factor_panel(0).assign(d=0)
    with pytest.raises(DataError, match="both treated units and never-treated"):
        SyntheticDiD().fit(data, **COLS)


def test_refuses_one_pre_period():
    data = factor_panel(0, t0=1)
    with pytest.raises(DataError, match="at least 2 periods before"):
        SyntheticDiD().fit(data, **COLS)


@pytest.mark.parametrize("se", ["bootstrap", "jackknife"])
def test_refuses_resampling_with_one_treated(prop99, se):
    with pytest.raises(ParameterError, match="at least 2 treated units"):
        SyntheticDiD(se=se).fit(prop99, **COLS)


def test_refuses_too_few_first_differences():
    data = factor_panel(0, n0=1, n1=1, t0=2)
    with pytest.raises(DataError, match="at least 2"):
        SyntheticDiD().fit(data, **COLS)


def test_refuses_placebo_with_too_few_controls():
    data = factor_panel(0, n0=3, n1=3)
    with pytest.raises(ParameterError, match="more control units than treated"):
        SyntheticDiD().fit(data, **COLS)


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"estimator": "synth"}, "estimator='synth'"),
        ({"se": "analytic"}, "se='analytic'"),
        ({"solver": "cvx"}, "solver='cvx'"),
        ({"n_replications": 1}, "n_replications=1"),
    ],
)
def test_refuses_bad_settings(setting, match):
    with pytest.raises(ParameterError, match=match):
        SyntheticDiD(**setting).fit(factor_panel(0), **COLS)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = SyntheticDiD().result_
    with pytest.raises(NotFittedError, match="plot"):
        SyntheticDiD().plot()


# -- coverage (slow) ----------------------------------------------------------------------


@pytest.mark.slow
def test_placebo_coverage():
    reps = [
        SyntheticDiD(n_replications=100, random_state=s).fit(factor_panel(1000 + s), **COLS).result_
        for s in range(200)
    ]
    covered = np.mean([r.ci_lower <= 2.0 <= r.ci_upper for r in reps])
    est = np.array([r.estimate for r in reps])
    print(
        f"SDID placebo coverage {covered:.3f}; bias {est.mean() - 2:.4f}; "
        f"MC sd {est.std(ddof=1):.4f}; mean SE {np.mean([r.std_error for r in reps]):.4f}"
    )
    assert abs(est.mean() - 2.0) < 3 * est.std(ddof=1) / np.sqrt(est.size)
    # 200 replications: binomial sd of the coverage about 0.015
    assert 0.90 <= covered <= 0.99

"""AugmentedSyntheticControl: the synthetic-control limit, the two equivalent forms of
ridge ASCM (weights and outcome model), the jackknife, Prop 99, a poor-fit simulation,
invariances and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from paribus.designs.synth.augmented import AugmentedSyntheticControl
from paribus.errors import DataError, NotFittedError, ParameterError

COLS = {"outcome": "y", "unit": "unit", "time": "time"}


@pytest.fixture(scope="module")
def prop99(shared_datasets) -> pd.DataFrame:
    wide = pd.read_csv(shared_datasets / "prop99_california_wide.csv")
    long = wide.melt(id_vars="Year", var_name="unit", value_name="y")
    return long.rename(columns={"Year": "time"})


def poor_fit_panel(noise_seed: int, *, j: int = 20, t0: int = 20, t1: int = 5) -> pd.DataFrame:
    """Two trending factors; donor loadings in [0, 1]^2, the treated unit's (1.4, 1.4)
    lies outside their hull, so no convex combination fits its pre-period. Unit 0 is
    treated from period ``t0`` with effect 1."""
    rng = np.random.default_rng(99)
    n, t = j + 1, t0 + t1
    load = rng.uniform(0, 1, (n, 2))
    load[0] = [1.4, 1.4]
    factors = np.cumsum(rng.normal(0.3, 1, (t, 2)), axis=0)
    y = load @ factors.T + np.random.default_rng(noise_seed).normal(0, 0.5, (n, t))
    y[0, t0:] += 1.0
    u, tt = np.meshgrid(np.arange(n), np.arange(t), indexing="ij")
    return pd.DataFrame({"unit": u.ravel(), "time": tt.ravel(), "y": y.ravel()})


def fit_sim(data: pd.DataFrame, **settings) -> AugmentedSyntheticControl:
    return AugmentedSyntheticControl(**settings).fit(
        data, **COLS, treated_unit=0, treatment_start=20
    )


def matrices(data: pd.DataFrame, treated, start):
    y = data.pivot(index="unit", columns="time", values="y")
    y.index = y.index.map(str)
    pre = y.columns < start
    x1, x0 = y.loc[str(treated), pre].to_numpy(), y.drop(str(treated)).loc[:, pre]
    return x0, x1, y.drop(str(treated)).loc[:, ~pre], y.loc[str(treated), ~pre]


# -- Prop 99 ------------------------------------------------------------------------------


def test_prop99_synthetic_control(prop99):
    fit = AugmentedSyntheticControl(progfunc="none").fit(
        prop99, **COLS, treated_unit="California", treatment_start=1989
    )
    # shared/datasets README section 3: outcome-only SCM mean gap -19.5 over 1989-2000,
    # weights on Utah, Nevada, Montana, Connecticut, New Hampshire and Colorado
    assert round(fit.result_.estimate, 1) == -19.5
    big = set(fit.scm_weights_[fit.scm_weights_ > 0.01].index)
    assert big == {"Utah", "Nevada", "Montana", "Connecticut", "New Hampshire", "Colorado"}
    assert np.isinf(fit.chosen_lambda_)


def test_prop99_ridge_ascm(prop99):
    fit = AugmentedSyntheticControl().fit(
        prop99, **COLS, treated_unit="California", treatment_start=1989
    )
    r = fit.result_
    # ridge augmentation improves the pre-period fit and moves the estimate from the
    # SCM's -19.5 toward SDID's -15.6 (ours: -15.54 at the CV lambda 291.7)
    assert r.diagnostics["l2_imbalance"] < 0.5 * r.diagnostics["l2_imbalance_scm"]
    assert -19.5 < r.estimate < -14.0
    assert fit.weights_.sum() == pytest.approx(1.0, abs=1e-10)
    assert (fit.weights_ < 0).any()
    assert r.inference == "jackknife" and r.std_error > 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = fit.plot("gap")
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), fit.gaps_.to_numpy())
    post = fit.gaps_.index >= 1989
    assert fit.gaps_[post].mean() == pytest.approx(r.estimate, abs=1e-9)
    assert fit.plot("path") is not None
    with pytest.raises(ParameterError, match="kind="):
        fit.plot("weights")
    plt.close("all")


def test_prop99_against_pysyncon(prop99):
    pysyncon = pytest.importorskip("pysyncon")
    controls = sorted(u for u in prop99["unit"].unique() if u != "California")
    prep = pysyncon.Dataprep(
        foo=prop99,
        predictors=[],
        predictors_op="mean",
        dependent="y",
        unit_variable="unit",
        time_variable="time",
        treatment_identifier="California",
        controls_identifier=controls,
        time_predictors_prior=range(1970, 1989),
        time_optimize_ssr=range(1970, 1989),
    )
    ref = pysyncon.AugSynth()
    ref.fit(prep, lambda_=1000.0, use_covariates=False)
    ours = AugmentedSyntheticControl(lambda_=1000.0).fit(
        prop99, **COLS, treated_unit="California", treatment_start=1989
    )
    # pysyncon's simplex solver is SLSQP (ftol 1e-12); ours is an exact active set
    ref_w = pd.Series(np.asarray(ref.W), index=controls)
    np.testing.assert_allclose(ours.weights_[controls], ref_w, atol=1e-4)
    y0, y1 = prep.make_outcome_mats(time_period=range(1989, 2001))
    assert ours.result_.estimate == pytest.approx(float((y1 - y0 @ ref.W).mean()), abs=1e-3)


# -- the synthetic-control limit and the two forms of ridge ASCM --------------------------


def test_infinite_lambda_is_synthetic_control():
    data = poor_fit_panel(1)
    scm = fit_sim(data, progfunc="none")
    big = fit_sim(data, lambda_=1e12)
    assert big.result_.estimate == pytest.approx(scm.result_.estimate, abs=1e-6)
    np.testing.assert_allclose(big.weights_, scm.weights_, atol=1e-8)
    np.testing.assert_allclose(scm.weights_, scm.scm_weights_, atol=0)


@pytest.mark.parametrize("lam", [0.5, 30.0, 2000.0])
def test_weights_solve_penalised_problem(lam):
    """gamma = argmin ||X1c - Xc'g||^2 + lambda ||g - gamma_scm||^2 (Lemma 1)."""
    data = poor_fit_panel(2)
    fit = fit_sim(data, lambda_=lam)
    x0, x1, _, _ = matrices(data, 0, 20)
    mu = x0.mean().to_numpy()
    xc, x1c = x0.to_numpy() - mu, x1 - mu
    scm = fit.scm_weights_[x0.index].to_numpy()
    lhs = xc @ xc.T + lam * np.eye(len(scm))
    direct = np.linalg.solve(lhs, xc @ x1c + lam * scm)
    np.testing.assert_allclose(fit.weights_[x0.index], direct, atol=1e-8)


@pytest.mark.parametrize("lam", [1.0, 100.0])
def test_outcome_model_form(lam):
    """SCM plus the ridge regression's prediction of the pre-period imbalance (eq. 5)."""
    data = poor_fit_panel(3)
    fit = fit_sim(data, lambda_=lam)
    x0, x1, y0post, y1post = matrices(data, 0, 20)
    scm = fit.scm_weights_[x0.index].to_numpy()
    ridge = Ridge(alpha=lam, fit_intercept=True).fit(x0.to_numpy(), y0post.to_numpy())
    imbalance = x1 - scm @ x0.to_numpy()
    y0_hat = scm @ y0post.to_numpy() + imbalance @ ridge.coef_.T
    att = float(np.mean(y1post.to_numpy() - y0_hat))
    assert fit.result_.estimate == pytest.approx(att, abs=1e-8)


def test_jackknife_matches_refits():
    data = poor_fit_panel(4, j=8)
    fit = fit_sim(data, lambda_=50.0)
    taus = np.array(
        [fit_sim(data[data["unit"] != d], lambda_=50.0).result_.estimate for d in range(1, 9)]
    )
    se = np.sqrt(7 / 8 * np.sum((taus - taus.mean()) ** 2))
    assert fit.result_.std_error == pytest.approx(se, rel=1e-9)


def test_cross_validation_one_se_rule():
    fit = fit_sim(poor_fit_panel(5))
    cv = fit.cv_results_
    assert len(cv) == 20
    best = cv["cv_error"].idxmin()
    ok = cv["cv_error"] <= cv.loc[best, "cv_error"] + cv.loc[best, "cv_se"]
    assert fit.chosen_lambda_ == cv.loc[ok, "lambda"].max()
    assert fit.result_.diagnostics["lambda"] == fit.chosen_lambda_


# -- simulation: poor pre-fit -----------------------------------------------------------


def test_ridge_reduces_bias_with_poor_pre_fit():
    est = {"ridge": [], "none": []}
    for s in range(12):
        data = poor_fit_panel(s)
        for prog in est:
            est[prog].append(fit_sim(data, progfunc=prog).result_.estimate)
    bias = {k: np.mean(v) - 1.0 for k, v in est.items()}
    # SCM about +7.6 (it cannot reach the treated unit), ridge ASCM about +0.9
    assert bias["none"] > 5.0
    assert abs(bias["ridge"]) < 0.25 * abs(bias["none"])


# -- invariances --------------------------------------------------------------------------


def test_invariances():
    data = poor_fit_panel(6)
    base = fit_sim(data, lambda_=10.0).result_
    shifted = fit_sim(data.assign(y=data["y"] + 50.0), lambda_=10.0).result_
    assert shifted.estimate == pytest.approx(base.estimate, abs=1e-8)
    scaled = fit_sim(data.assign(y=data["y"] * 3.0), lambda_=90.0).result_
    assert scaled.estimate == pytest.approx(3 * base.estimate, rel=1e-8)
    assert scaled.std_error == pytest.approx(3 * base.std_error, rel=1e-8)
    shuffled = fit_sim(data.sample(frac=1.0, random_state=1), lambda_=10.0).result_
    assert shuffled.estimate == pytest.approx(base.estimate, abs=1e-12)


# -- refusals -----------------------------------------------------------------------------


def test_refuses_unknown_treated_unit():
    with pytest.raises(DataError, match="treated_unit=99"):
        AugmentedSyntheticControl().fit(
            poor_fit_panel(0), **COLS, treated_unit=99, treatment_start=20
        )


def test_refuses_too_few_pre_periods():
    with pytest.raises(DataError, match="at least 2 pre-periods"):
        AugmentedSyntheticControl().fit(
            poor_fit_panel(0), **COLS, treated_unit=0, treatment_start=1
        )


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"lambda_": 0.0}, "lambda_=0.0"),
        ({"lambda_": -1.0}, "lambda_=-1.0"),
        ({"progfunc": "ols"}, "progfunc='ols'"),
        ({"level": 1.5}, "level=1.5"),
    ],
)
def test_refuses_bad_settings(setting, match):
    with pytest.raises(ParameterError, match=match):
        fit_sim(poor_fit_panel(0), **setting)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="weights_"):
        _ = AugmentedSyntheticControl().weights_

"""Conditional-independence tests: reference values, size under the null, power, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

from paribus.errors import DataError, ParameterError
from paribus.graph.ci_tests import (
    CI_TESTS,
    GCM,
    CITest,
    PartialCorrelation,
    RegressionTest,
    gcm,
    get_ci_test,
    partial_correlation,
    regression,
)

# -- data --------------------------------------------------------------------------------------


def _binary(rng: np.random.Generator, index: np.ndarray) -> np.ndarray:
    return (index + rng.logistic(size=index.size) > 0).astype(float)


def null_data(
    rng: np.random.Generator, n: int, kind: str = "gaussian", effect: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x and y both depend on z (k = 2); y depends on x only through ``effect``."""
    z = rng.normal(size=(n, 2))
    ix = z @ np.array([0.8, -0.5])
    x = _binary(rng, 1.5 * ix) if kind in ("binary_x", "both_binary") else ix + rng.normal(size=n)
    iy = z @ np.array([-0.4, 0.7]) + effect * x
    y = _binary(rng, 1.5 * iy) if kind == "both_binary" else iy + rng.normal(size=n)
    return x, y, z


def linear_gcm() -> GCM:
    return GCM(learner=LinearRegression(), folds=2)


TESTS = {
    "partial_correlation": PartialCorrelation,
    "regression": RegressionTest,
    "gcm-linear": linear_gcm,
}

# -- reference values --------------------------------------------------------------------------


def test_partial_correlation_matches_residual_pearson():
    x, y, z = null_data(np.random.default_rng(0), 300, effect=0.2)
    design = sm.add_constant(z)
    rx = sm.OLS(x, design).fit().resid
    ry = sm.OLS(y, design).fit().resid
    r_ref = stats.pearsonr(rx, ry).statistic
    p_ref = 2 * stats.norm.sf(math.sqrt(300 - 2 - 3) * abs(math.atanh(r_ref)))
    r, p = partial_correlation(x, y, z)
    assert r == pytest.approx(r_ref, abs=1e-10)
    assert p == pytest.approx(p_ref, abs=1e-10)


def test_partial_correlation_without_z_is_pearson():
    x, y, _ = null_data(np.random.default_rng(1), 200, effect=0.3)
    r, p = partial_correlation(x, y)
    assert r == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-10)
    assert p == pytest.approx(2 * stats.norm.sf(math.sqrt(197) * abs(math.atanh(r))), abs=1e-12)


def test_regression_matches_ols_t_test():
    x, y, z = null_data(np.random.default_rng(2), 250, effect=0.15)
    fit = sm.OLS(y, sm.add_constant(np.column_stack([z, x]))).fit()
    f, p = regression(x, y, z)
    assert f == pytest.approx(fit.tvalues[-1] ** 2, rel=1e-9)
    assert p == pytest.approx(fit.pvalues[-1], abs=1e-10)


def test_regression_logistic_likelihood_ratio_matches_statsmodels():
    # y binary, x continuous: the y-on-x direction is a logistic LR test
    x, y, z = null_data(np.random.default_rng(3), 400, kind="gaussian", effect=0.4)
    yb = (y > 0).astype(float)
    full = sm.Logit(yb, sm.add_constant(np.column_stack([z, x]))).fit(disp=0)
    null = sm.Logit(yb, sm.add_constant(z)).fit(disp=0)
    lr_ref = 2 * (full.llf - null.llf)
    fit_x = sm.OLS(x, sm.add_constant(np.column_stack([z, yb]))).fit()
    p_logit, p_ols = stats.chi2.sf(lr_ref, 1), fit_x.pvalues[-1]
    stat, p = regression(x, yb, z)
    # the larger p-value of the two directions, with its statistic
    assert p == pytest.approx(max(p_logit, p_ols), rel=1e-6)
    assert stat == pytest.approx(lr_ref if p_logit >= p_ols else fit_x.tvalues[-1] ** 2, rel=1e-6)


def test_gcm_matches_hand_computation():
    x, y, z = null_data(np.random.default_rng(4), 300, effect=0.2)
    cv = KFold(2, shuffle=True, random_state=7)
    rx = x - cross_val_predict(LinearRegression(), z, x, cv=cv)
    ry = y - cross_val_predict(LinearRegression(), z, y, cv=cv)
    prod = rx * ry
    t_ref = math.sqrt(300) * prod.mean() / prod.std()
    t, p = gcm(x, y, z, learner=LinearRegression(), folds=2, random_state=7)
    assert t == pytest.approx(t_ref, abs=1e-10)
    assert p == pytest.approx(2 * stats.norm.sf(abs(t_ref)), abs=1e-10)


def test_gcm_without_z_uses_deviations_from_the_mean():
    x, y, _ = null_data(np.random.default_rng(5), 200, effect=0.3)
    prod = (x - x.mean()) * (y - y.mean())
    t, _ = gcm(x, y)
    assert t == pytest.approx(math.sqrt(200) * prod.mean() / prod.std(), abs=1e-10)


# -- size and power ----------------------------------------------------------------------------

SIZE_CASES = [
    ("partial_correlation", "gaussian"),
    ("regression", "gaussian"),
    ("regression", "binary_x"),
    ("regression", "both_binary"),
    ("gcm-linear", "gaussian"),
    ("gcm-linear", "binary_x"),
]


@pytest.mark.parametrize(("name", "kind"), SIZE_CASES)
def test_size_under_the_null(name, kind):
    test = TESTS[name]()
    rng = np.random.default_rng(100 + SIZE_CASES.index((name, kind)))
    p = np.array([test(*null_data(rng, 200, kind), random_state=r)[1] for r in range(400)])
    assert 0.02 <= np.mean(p <= 0.05) <= 0.09
    # roughly uniform, not merely the right tail
    assert 0.35 <= np.mean(p <= 0.5) <= 0.65


@pytest.mark.parametrize(("name", "kind"), SIZE_CASES)
def test_power_under_a_clear_alternative(name, kind):
    test = TESTS[name]()
    x, y, z = null_data(np.random.default_rng(12), 500, kind, effect=1.0)
    assert test(x, y, z, random_state=0)[1] < 1e-3


def test_gcm_with_boosting_detects_nonlinear_dependence():
    rng = np.random.default_rng(13)
    z = rng.uniform(-2, 2, size=(800, 1))
    x = np.sin(2 * z[:, 0]) + 0.5 * rng.normal(size=800)
    y = z[:, 0] ** 2 + x + 0.5 * rng.normal(size=800)
    assert gcm(x, y, z, random_state=0)[1] < 1e-3


def test_gcm_holds_where_linear_adjustment_fails():
    # x and y both depend on z²; given z they are independent, but the linear
    # partial correlation leaves z² in both residuals and rejects
    rng = np.random.default_rng(14)
    z = rng.uniform(-2, 2, size=(1000, 1))
    x = z[:, 0] ** 2 + 0.5 * rng.normal(size=1000)
    y = z[:, 0] ** 2 + 0.5 * rng.normal(size=1000)
    assert partial_correlation(x, y, z)[1] < 1e-6
    assert gcm(x, y, z, random_state=0)[1] > 0.01


@pytest.mark.slow
def test_gcm_size_on_a_nonlinear_null_with_an_adequate_learner():
    # the level rests on the regressions (product of their errors o(1/n)): additive
    # splines learn these means well; the default boosting does worse here (see GCM)
    test = GCM(learner=make_pipeline(SplineTransformer(n_knots=6), Ridge(alpha=1e-3)))
    rng = np.random.default_rng(15)
    p = []
    for r in range(500):
        z = rng.uniform(-2, 2, size=(400, 2))
        x = z[:, 0] ** 2 + np.sin(z[:, 1]) + 0.5 * rng.normal(size=400)
        y = np.abs(z[:, 0]) - z[:, 1] + 0.5 * rng.normal(size=400)
        p.append(test(x, y, z, random_state=r)[1])
    assert 0.02 <= np.mean(np.array(p) <= 0.05) <= 0.09


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kind"), SIZE_CASES)
def test_size_large_study(name, kind):
    # five folds: with two, the fold-shared regression errors inflate GCM's size at n = 100
    test = GCM(LinearRegression(), folds=5) if name == "gcm-linear" else TESTS[name]()
    rng = np.random.default_rng(16)
    p = np.array([test(*null_data(rng, 100, kind), random_state=r)[1] for r in range(2000)])
    assert 0.035 <= np.mean(p <= 0.05) <= 0.065
    if name != "gcm-linear":
        # GCM's normal approximation is asymptotic: at n = 100 with a binary x its
        # p-values run slightly small (about 6% below 0.05), which 2,000 draws detect
        assert stats.kstest(p, "uniform").pvalue > 1e-3


# -- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian", "binary_x", "both_binary"])
@pytest.mark.parametrize("name", ["partial_correlation", "regression", "gcm-linear"])
def test_symmetric_in_x_and_y(name, kind):
    test = TESTS[name]()
    x, y, z = null_data(np.random.default_rng(17), 300, kind, effect=0.3)
    assert test(x, y, z, random_state=1)[1] == pytest.approx(
        test(y, x, z, random_state=1)[1], abs=1e-9
    )


def test_variable_determined_by_z_is_independent():
    _, y, z = null_data(np.random.default_rng(18), 100)
    w = 2 * z[:, 0] - z[:, 1] + 3
    assert partial_correlation(w, y, z) == (0.0, 1.0)
    assert regression(w, y, z) == (0.0, 1.0)


def test_regression_survives_separation_and_collinearity():
    rng = np.random.default_rng(19)
    x = rng.normal(size=200)
    y = (x > 0).astype(float)  # x separates y perfectly
    z = np.column_stack([rng.normal(size=200)] * 2)  # two identical columns
    stat, p = regression(x, y, z)
    assert stat > 50 and p < 1e-10


def test_gcm_is_reproducible_and_seeded():
    x, y, z = null_data(np.random.default_rng(20), 200, effect=0.1)
    learner = HistGradientBoostingRegressor(max_iter=20)
    a = gcm(x, y, z, learner=learner, random_state=3)
    assert a == gcm(x, y, z, learner=learner, random_state=3)
    assert a != gcm(x, y, z, learner=learner, random_state=4)


def test_z_may_be_one_dimensional():
    x, y, z = null_data(np.random.default_rng(21), 100)
    assert partial_correlation(x, y, z[:, 0]) == partial_correlation(x, y, z[:, :1])


# -- registry and refusals ---------------------------------------------------------------------


def test_registry_names_and_objects():
    assert set(CI_TESTS) == {"partial_correlation", "regression", "gcm"}
    for name in CI_TESTS:
        assert get_ci_test(name).name == name
    custom = GCM(folds=3)
    assert get_ci_test(custom) is custom


def test_plain_function_is_wrapped():
    def my_test(x, y, z):
        return 1.5, 0.25

    test = get_ci_test(my_test)
    assert isinstance(test, CITest)
    assert test.name == "my_test"
    assert test(np.arange(5.0), np.arange(5.0)) == (1.5, 0.25)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ParameterError, match=r"partial_correlation.*regression.*gcm") as info:
        get_ci_test("partial_corr")
    assert "did you mean 'partial_correlation'" in str(info.value).lower()
    with pytest.raises(ParameterError, match="test=3"):
        get_ci_test(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"folds": 1}, "folds=1"), ({"folds": 2.5}, "folds=2.5"), ({"learner": "hgb"}, "learner")],
)
def test_gcm_refuses_bad_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        GCM(**kwargs)


def test_refuses_bad_arrays():
    x = np.arange(10.0)
    with pytest.raises(DataError, match="same length"):
        partial_correlation(x, x[:9])
    with pytest.raises(DataError, match="shape"):
        partial_correlation(x, x, np.zeros((9, 1)))
    with pytest.raises(DataError, match="missing or infinite"):
        regression(x, np.r_[x[:9], np.nan])
    with pytest.raises(DataError, match="more than 7 rows"):
        partial_correlation(x[:7], x[:7] ** 2, np.random.default_rng(0).normal(size=(7, 4)))

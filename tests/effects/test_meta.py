"""Meta-learners (S/T/X/R/DR): simulated truth, exact identities (DR = AIPW, linear final
stages = least squares with HC0), multi-valued treatments, the CATE interface, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

import paribus
from _coverage import summarise
from paribus import AIPW, DRLearner, EffectTable, Logit, RLearner, SLearner, TLearner, XLearner
from paribus._core.crossfit import make_folds
from paribus._core.random import child_seeds, seed_sequence
from paribus.errors import DataError, NotFittedError, ParameterError

COVS = ["x1", "x2", "x3"]


def hetero(n: int, seed: int, levels: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Confounded by x1 (nonlinear outcome surface); effect of level k: k * (1 + x2)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    if levels == 2:
        t = (rng.random(n) < 1 / (1 + np.exp(-0.8 * x[:, 0]))).astype(float)
    else:
        logits = np.column_stack([np.zeros(n)] + [0.5 * k * x[:, 0] for k in range(1, levels)])
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        t = np.array([rng.choice(levels, p=row) for row in p], dtype=float)
    tau = 1 + x[:, 1]
    y = 2 * x[:, 0] + np.sin(2 * x[:, 0]) + 0.5 * x[:, 2] + t * tau + rng.normal(size=n)
    return pd.DataFrame(x, columns=COVS).assign(t=t, y=y), tau


@pytest.fixture(scope="module")
def data():
    return hetero(1500, seed=1)


FAST = {
    SLearner: {"n_bootstrap": 20},
    TLearner: {"n_bootstrap": 20},
    XLearner: {"n_bootstrap": 20},
    RLearner: {},
    DRLearner: {},
}


@pytest.mark.parametrize("cls", list(FAST))
def test_recovers_ate_and_heterogeneity(cls, data):
    frame, tau = data
    naive = frame.y[frame.t == 1].mean() - frame.y[frame.t == 0].mean()
    assert abs(naive - tau.mean()) > 1.0  # confounded: the test can fail
    est = cls(random_state=0, **FAST[cls]).fit(frame, "t", "y", COVS)
    effect = est.result_
    assert effect.method == est._method and effect.estimand == "ATE"
    assert abs(effect.estimate - tau.mean()) < 3 * effect.std_error + 0.05
    cate = est.effect(frame)
    assert cate.shape == (len(frame),)
    # heterogeneity found: CATEs track 1 + x2 far better than a constant does
    rmse = np.sqrt(np.mean((cate - tau) ** 2))
    assert rmse < 0.6 * np.std(tau)
    lo, hi = est.effect_interval(frame)
    assert lo.shape == hi.shape == (len(frame),) and np.all(lo <= cate) and np.all(cate <= hi)


def test_dr_learner_ate_is_aipw_on_the_same_folds(data):
    frame, _ = data
    t = frame.t.to_numpy()
    folds = make_folds(5, t, child_seeds(seed_sequence(0), 1)[0])
    aipw = AIPW(outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0)
    dr = DRLearner(outcome_model=LinearRegression(), propensity_model=Logit(), folds=folds)
    a = aipw.fit(frame, "t", "y", COVS).result_
    d = dr.fit(frame, "t", "y", COVS).result_
    assert d.estimate == pytest.approx(a.estimate, abs=1e-10)
    assert d.std_error == pytest.approx(a.std_error, abs=1e-10)
    assert dr.nuisance_["mu"][:, 1] == pytest.approx(aipw.nuisance_["g1"], abs=1e-10)


def test_linear_final_stages_are_least_squares_with_hc0(data):
    frame, _ = data
    X = frame[COVS].to_numpy()
    points = X[:25]
    design = sm.add_constant(points, has_constant="add")
    dr = DRLearner(outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0).fit(
        frame, "t", "y", COVS
    )
    ref = sm.OLS(dr.nuisance_["phi"][:, 0], sm.add_constant(X)).fit(cov_type="HC0")
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, ref.cov_params(), design))
    lo, hi = dr.effect_interval(points, level=0.9)
    assert dr.effect(points) == pytest.approx(design @ ref.params, abs=1e-9)
    assert (hi - lo) / 2 == pytest.approx(1.6448536269514722 * se, rel=1e-8)

    r = RLearner(outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0)
    r.fit(frame, "t", "y", COVS)
    y_res = frame.y.to_numpy() - r.nuisance_["m"]
    t_res = frame.t.to_numpy() - r.nuisance_["e"]
    ref = sm.OLS(y_res, t_res[:, None] * sm.add_constant(X)).fit(cov_type="HC0")
    assert r.effect(points) == pytest.approx(design @ ref.params, abs=1e-9)
    lo, hi = r.effect_interval(points)
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, ref.cov_params(), design))
    assert (hi - lo) / 2 == pytest.approx(1.959963984540054 * se, rel=1e-8)
    # the ATE is the mean CATE, with a delta-method error at least the coefficient part
    xbar = sm.add_constant(X).mean(axis=0)
    assert r.result_.estimate == pytest.approx(xbar @ ref.params, abs=1e-9)
    assert r.result_.std_error >= np.sqrt(xbar @ ref.cov_params() @ xbar) - 1e-12


def test_s_and_t_learners_with_ols_are_the_closed_forms(data):
    frame, _ = data
    X = frame[COVS].to_numpy()
    t = frame.t.to_numpy()
    y = frame.y.to_numpy()
    s = SLearner(outcome_model=LinearRegression(), n_bootstrap=0).fit(frame, "t", "y", COVS)
    coef = np.linalg.lstsq(np.column_stack([np.ones_like(t), X, t]), y, rcond=None)[0]
    assert s.effect(X) == pytest.approx(np.full(len(t), coef[-1]), abs=1e-9)
    tl = TLearner(outcome_model=LinearRegression(), n_bootstrap=0).fit(frame, "t", "y", COVS)
    fits = [LinearRegression().fit(X[t == a], y[t == a]) for a in (0, 1)]
    assert tl.effect(X) == pytest.approx(fits[1].predict(X) - fits[0].predict(X), abs=1e-9)
    assert np.isnan(tl.result_.std_error) and tl.result_.inference == "none"


def test_x_learner_blends_arm_effect_models_by_the_propensity(data):
    frame, _ = data
    X, t, y = frame[COVS].to_numpy(), frame.t.to_numpy(), frame.y.to_numpy()
    est = XLearner(
        outcome_model=LinearRegression(),
        effect_model=LinearRegression(),
        propensity_model=Logit(),
        n_bootstrap=0,
    ).fit(frame, "t", "y", COVS)
    mu0 = LinearRegression().fit(X[t == 0], y[t == 0])
    mu1 = LinearRegression().fit(X[t == 1], y[t == 1])
    tau1 = LinearRegression().fit(X[t == 1], y[t == 1] - mu0.predict(X[t == 1]))
    tau0 = LinearRegression().fit(X[t == 0], mu1.predict(X[t == 0]) - y[t == 0])
    g = Logit().fit(X, t).predict_proba(X)[:, 1]
    expected = g * tau0.predict(X) + (1 - g) * tau1.predict(X)
    assert est.effect(X) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("cls", [TLearner, XLearner, DRLearner, SLearner])
def test_multi_valued_treatment(cls):
    frame, tau = hetero(3000, seed=4, levels=3)
    est = cls(random_state=0, n_bootstrap=10).fit(frame, "t", "y", COVS)
    table = est.result_
    assert isinstance(table, EffectTable) and table.labels == ("1 vs 0", "2 vs 0")
    for level in (1, 2):
        effect = est.ate(treatment=level)
        assert effect.diagnostics["treatment_level"] == level
        assert abs(effect.estimate - level * tau.mean()) < 3 * effect.std_error + 0.1
        cate = est.effect(frame, treatment=level)
        assert np.corrcoef(cate, tau)[0, 1] > 0.8
    with pytest.raises(ParameterError, match="pass treatment=<level>"):
        est.effect(frame)
    with pytest.raises(ParameterError, match="treatment=7 is not a treated level"):
        est.effect(frame, treatment=7)


def test_control_level_can_be_chosen():
    frame, tau = hetero(2000, seed=5, levels=3)
    est = TLearner(outcome_model=LinearRegression(), n_bootstrap=0)
    est.fit(frame, "t", "y", COVS, control=2)
    assert est.control_ == 2 and list(est.treatment_levels_) == [0.0, 1.0]
    assert est.ate(treatment=0).estimate == pytest.approx(-2 * tau.mean(), abs=0.15)
    with pytest.raises(ParameterError, match="control=5 is not a level"):
        est.fit(frame, "t", "y", COVS, control=5)


@pytest.mark.parametrize("cls", [RLearner, DRLearner])
def test_flexible_final_stage_uses_final_stage_bootstrap(cls, data):
    frame, tau = data
    est = cls(
        final_model=DecisionTreeRegressor(max_depth=3, min_samples_leaf=50),
        n_bootstrap=30,
        random_state=0,
    ).fit(frame, "t", "y", COVS)
    assert np.sqrt(np.mean((est.effect(frame) - tau) ** 2)) < 0.5
    lo, hi = est.effect_interval(frame)
    assert np.all(hi - lo > 0)
    no_boot = cls(final_model=DecisionTreeRegressor(max_depth=2), n_bootstrap=0, random_state=0)
    no_boot.fit(frame, "t", "y", COVS)
    with pytest.raises(ParameterError, match="n_bootstrap > 0"):
        no_boot.effect_interval(frame)


def test_bootstrap_is_reproducible_in_parallel(data):
    frame, _ = data
    one = TLearner(outcome_model=Ridge(), n_bootstrap=8, random_state=3, n_jobs=1)
    two = TLearner(outcome_model=Ridge(), n_bootstrap=8, random_state=3, n_jobs=2)
    a = one.fit(frame, "t", "y", COVS)
    b = two.fit(frame, "t", "y", COVS)
    assert a.result_ == b.result_
    assert a.effect_interval(frame)[0] == pytest.approx(b.effect_interval(frame)[0], abs=0)


def test_effect_accepts_tables_and_arrays_in_fitted_order(data):
    frame, _ = data
    est = DRLearner(outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0)
    est.fit(frame, "t", "y", COVS)
    shuffled = frame[["x3", "x1", "x2"]].head(10)
    assert est.effect(shuffled) == pytest.approx(est.effect(frame[COVS].to_numpy()[:10]))
    assert est.effect(frame[COVS].to_numpy()[0]).shape == (1,)
    with pytest.raises(DataError, match=r"lacks the covariate column\(s\) \['x3'\]"):
        est.effect(frame[["x1", "x2"]])
    with pytest.raises(DataError, match=r"expected \(n, 3\)"):
        est.effect(np.zeros((4, 2)))
    bad = frame[COVS].head(3).copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(DataError, match="missing values"):
        est.effect(bad)


def test_refusals(data):
    frame, _ = data
    with pytest.raises(NotFittedError, match="call fit"):
        TLearner().effect(frame)
    three = frame.assign(t=np.resize([0.0, 1.0, 2.0], len(frame)))
    with pytest.raises(DataError, match="RLearner handles a binary treatment"):
        RLearner().fit(three, "t", "y", COVS)
    with pytest.raises(DataError, match="distinct values; meta-learners compare at most"):
        TLearner().fit(frame.assign(t=frame.x1), "t", "y", COVS)
    with pytest.raises(DataError, match="is constant"):
        TLearner().fit(frame.assign(t=1.0), "t", "y", COVS)
    with pytest.raises(DataError, match="pass covariates"):
        TLearner().fit(frame, "t", "y", [])
    with pytest.raises(ParameterError, match="does not support sampling weights"):
        TLearner().fit(frame.assign(w=1.0), "t", "y", COVS, weights="w")
    with pytest.raises(ParameterError, match=r"propensity_model=LinearRegression\(\) is invalid"):
        XLearner(propensity_model=LinearRegression(), n_bootstrap=0).fit(frame, "t", "y", COVS)
    with pytest.raises(ParameterError, match="final_model"):
        DRLearner(final_model="lasso").fit(frame, "t", "y", COVS)
    with pytest.raises(ParameterError, match="does not accept sample_weight"):
        RLearner(final_model=_NoWeights(), n_bootstrap=0).fit(frame, "t", "y", COVS)
    tiny = frame.head(60).assign(t=[1.0] * 3 + [0.0] * 57)
    with pytest.raises(DataError, match="has 3 rows; each level needs at least 5"):
        DRLearner().fit(tiny, "t", "y", COVS)
    with pytest.raises(ParameterError, match="n_bootstrap"):
        SLearner(n_bootstrap=-1).fit(frame, "t", "y", COVS)


class _NoWeights(SVR):
    def fit(self, X, y):  # no sample_weight
        return super().fit(X, y)


def test_estimate_entry_point(data):
    frame, _ = data
    effect = paribus.estimate(
        frame,
        treatment="t",
        outcome="y",
        covariates=COVS,
        method="dr-learner",
        outcome_model=LinearRegression(),
        propensity_model=Logit(),
        random_state=0,
    )
    assert effect.method == "dr-learner" and effect.inference == "influence-function"


def _coverage_rep(cls, settings, seed: int, n: int):
    frame, _ = hetero(n, seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 3))  # a point whose true CATE is 1 + x2
    est = cls(random_state=seed, **settings).fit(frame, "t", "y", COVS)
    effect = est.result_
    lo, hi = est.effect_interval(x)
    truth = 1 + x[0, 1]
    return (
        (effect.estimate - 1.0, effect.std_error, effect.ci_lower <= 1.0 <= effect.ci_upper),
        bool(lo[0] <= truth <= hi[0]),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cls", "settings"),
    [
        (DRLearner, {}),
        (RLearner, {}),
        (TLearner, {"n_bootstrap": 100}),
    ],
)
def test_coverage(cls, settings):
    """ATE intervals and pointwise CATE intervals (linear true CATE) over 200 replications.

    DR and R (orthogonal scores, linear final stage): intervals cover at the nominal rate
    or slightly above (measured: DR 99.0% / 96.5%, R 98.0% / 96.0%; the AIPW-type error
    exceeds the spread by 6-13% on this design). T-learner with boosting: a plug-in
    estimator, so regularisation bias is not removed (+0.06 here, 1.2 SE) and coverage
    falls short (78.5%); what its bootstrap must get right is the spread, checked here.
    """
    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=2)(
        delayed(_coverage_rep)(cls, settings | {"n_jobs": 1}, 20_000 + r, 2000) for r in range(200)
    )
    summary = summarise([r[0] for r in rows], f"{cls.__name__} ATE", "ATE", 2000)
    cate_cover = float(np.mean([r[1] for r in rows]))
    print({"study": f"{cls.__name__} pointwise CATE", "coverage": cate_cover})
    if cls is TLearner:
        assert 0.85 < summary["mean_se"] / summary["empirical_sd"] < 1.15
        return
    assert 0.93 <= summary["coverage"] <= 0.995
    assert 0.90 <= cate_cover <= 0.99
    assert abs(summary["bias"]) < 3 * summary["bias_mc_se"]


def test_cate_plots_render(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame, _ = data
    est = DRLearner(outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0)
    est.fit(frame, "t", "y", COVS)
    ax = est.plot(frame)
    assert ax.get_xlabel() == "estimated effect (CATE)" and len(ax.patches) > 5
    ax = est.plot(frame, by="x2")
    assert ax.get_xlabel() == "x2" and len(ax.collections) == 1  # the interval band
    line = ax.get_lines()[0].get_ydata()
    assert np.corrcoef(np.sort(frame["x2"]), line)[0, 1] > 0.9  # rises with x2 (truth 1 + x2)
    with pytest.raises(ParameterError, match="by='age' is not a fitted covariate"):
        est.plot(frame, by="age")
    plt.close("all")

"""CausalForest on Wager & Athey (2018) designs with a known CATE, invariances, refusals.

Design (Wager & Athey 2018, Sec. 5, the heterogeneous-effect design with the
confounding of their first design added): ``X ~ U[0, 1]^p``,
``tau(x) = s(x1) s(x2)`` with ``s(u) = 1 + 1 / (1 + exp(-20 (u - 1/3)))``,
``e(x) = (1 + Beta_{2,4} cdf(x3)) / 4``, ``Y = 2 x3 - 1 + W tau(X) + N(0, 1)``.
``tau`` and ``e`` depend on different covariates, so the ATE, ATT, ATC and the
overlap-weighted effect all equal ``E[s(U)]^2`` (closed form below).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paribus.effects.forest.causal import CausalForest
from paribus.errors import DataError, OverlapWarning, ParameterError

COLS = [f"x{j}" for j in range(6)]
#: E[s(U)] = 1 + (log(1 + e^{40/3}) - log(1 + e^{-20/3})) / 20 for U ~ U[0, 1]
MEAN_S = 1 + (math.log1p(math.exp(40 / 3)) - math.log1p(math.exp(-20 / 3))) / 20
TRUE_ATE = MEAN_S**2


def tau_true(X: np.ndarray) -> np.ndarray:
    s = lambda u: 1 + 1 / (1 + np.exp(-20 * (u - 1 / 3)))  # noqa: E731
    return s(X[:, 0]) * s(X[:, 1])


def wa_design(n: int, seed: int, p: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, p))
    e = 0.25 * (1 + stats.beta.cdf(X[:, 2], 2, 4))
    W = (rng.random(n) < e).astype(int)
    Y = 2 * X[:, 2] - 1 + W * tau_true(X) + rng.normal(size=n)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    frame["w"], frame["y"] = W, Y
    return frame


@pytest.fixture(scope="module")
def fitted():
    df = wa_design(2000, 0)
    return df, CausalForest(n_estimators=300, random_state=1).fit(df, "w", "y", COLS)


def test_mean_s_closed_form():
    u = np.linspace(0, 1, 200_001)
    s = 1 + 1 / (1 + np.exp(-20 * (u - 1 / 3)))
    assert MEAN_S == pytest.approx(np.trapezoid(s, u), abs=1e-9)


def test_cate_accuracy_on_wager_athey_design(fitted):
    df, cf = fitted
    X = df[COLS].to_numpy()
    sd = np.std(tau_true(X))  # about 1
    oob_rmse = np.sqrt(np.mean((cf.oob_effect_ - tau_true(X)) ** 2))
    test = wa_design(1000, 1)
    rmse = np.sqrt(np.mean((cf.effect(test[COLS]) - tau_true(test[COLS].to_numpy())) ** 2))
    assert oob_rmse < 0.4 * sd
    assert rmse < 0.4 * sd
    assert cf.effect(test[COLS]).shape == (1000,)


@pytest.mark.parametrize("target", ["ATE", "ATT", "ATC", "overlap"])
def test_average_effects_within_3_se_of_truth(fitted, target):
    _, cf = fitted
    eff = cf.average_effect(target)
    assert eff.estimand == target
    assert abs(eff.estimate - TRUE_ATE) < 3 * eff.std_error
    assert 0.02 < eff.std_error < 0.15


def test_ate_is_the_mean_doubly_robust_score(fitted):
    df, cf = fitted
    assert cf.result_ is cf.ate()
    assert cf.result_.estimate == pytest.approx(np.mean(cf.scores_), abs=1e-12)
    assert cf.result_.std_error == pytest.approx(np.std(cf.scores_) / np.sqrt(len(df)), rel=1e-12)
    # the score equals the mu_0 / mu_1 form of grf's get_scores
    e, yh, tau = cf.treatment_hat_, cf.outcome_hat_, cf.oob_effect_
    W, Y = df["w"].to_numpy(), df["y"].to_numpy()
    mu0, mu1 = yh - e * tau, yh + (1 - e) * tau
    gamma = mu1 - mu0 + W * (Y - mu1) / e - (1 - W) * (Y - mu0) / (1 - e)
    np.testing.assert_allclose(cf.scores_, gamma, atol=1e-10)


def test_forest_weights_solve_the_local_moment(fitted):
    df, cf = fitted
    test = wa_design(10, 2)[COLS]
    alpha = cf.forest_weights(test)
    wc = df["w"].to_numpy() - cf.treatment_hat_
    yc = df["y"].to_numpy() - cf.outcome_hat_
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-12)
    tau = (alpha @ (wc * yc)) / (alpha @ (wc * wc))
    np.testing.assert_allclose(cf.effect(test), tau, rtol=1e-10)


def test_intervals_and_standard_errors(fitted):
    _, cf = fitted
    test = wa_design(200, 3)[COLS]
    est = cf.effect(test)
    lo, hi = cf.effect_interval(test)
    lo90, hi90 = cf.effect_interval(test, level=0.9)
    assert np.all(lo < est) and np.all(est < hi)
    np.testing.assert_allclose((hi90 - lo90) / (hi - lo), 1.6449 / 1.9600, rtol=1e-4)
    assert np.all(np.isfinite(cf.oob_std_error_)) and np.all(cf.oob_std_error_ > 0)


def test_split_frequencies_find_the_effect_modifiers(fitted):
    _, cf = fitted
    freq = cf.split_frequencies(max_depth=2)
    assert freq.shape == (2, 6)
    assert freq[0, :2].sum() > 0.8 * freq[0].sum()


def test_translating_y_and_scaling_weights_leave_tau_unchanged():
    df = wa_design(400, 4)
    settings = dict(n_estimators=40, random_state=3)
    base = CausalForest(**settings).fit(df, "w", "y", COLS)
    shifted = CausalForest(**settings).fit(df.assign(y=df["y"] + 5.0), "w", "y", COLS)
    np.testing.assert_allclose(shifted.oob_effect_, base.oob_effect_, atol=1e-8)
    assert shifted.result_.estimate == pytest.approx(base.result_.estimate, abs=1e-8)
    wts = np.random.default_rng(0).uniform(0.5, 2, len(df))
    a = CausalForest(**settings).fit(df.assign(s=wts), "w", "y", COLS, weights="s")
    b = CausalForest(**settings).fit(df.assign(s=4 * wts), "w", "y", COLS, weights="s")
    np.testing.assert_array_equal(a.oob_effect_, b.oob_effect_)
    assert a.result_.estimate == b.result_.estimate
    assert a.result_.estimate != base.result_.estimate  # the weights do enter


def test_permuting_rows_changes_draws_not_the_estimand():
    # rows are drawn by position, so a permutation gives other subsamples: the fits agree
    # in distribution, not bit for bit
    df = wa_design(1000, 11)
    settings = dict(n_estimators=100, random_state=4)
    a = CausalForest(**settings).fit(df, "w", "y", COLS)
    perm = np.random.default_rng(1).permutation(len(df))
    b = CausalForest(**settings).fit(df.iloc[perm].reset_index(drop=True), "w", "y", COLS)
    test = wa_design(300, 12)[COLS]
    ta, tb = a.effect(test), b.effect(test)
    assert not np.array_equal(ta, tb)
    assert np.corrcoef(ta, tb)[0, 1] > 0.9
    assert abs(a.result_.estimate - b.result_.estimate) < a.result_.std_error


def test_seeded_fits_repeat_whatever_n_jobs():
    df = wa_design(500, 5)
    a = CausalForest(n_estimators=20, random_state=7, n_jobs=1).fit(df, "w", "y", COLS)
    b = CausalForest(n_estimators=20, random_state=7, n_jobs=2).fit(df, "w", "y", COLS)
    np.testing.assert_array_equal(a.oob_effect_, b.oob_effect_)
    np.testing.assert_array_equal(a.effect(df[COLS]), b.effect(df[COLS]))


def test_user_nuisance_learners():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    df = wa_design(1500, 6)
    cf = CausalForest(
        n_estimators=100,
        outcome_model=LinearRegression(),
        treatment_model=LogisticRegression(),
        random_state=2,
    ).fit(df, "w", "y", COLS)
    assert abs(cf.result_.estimate - TRUE_ATE) < 3 * cf.result_.std_error
    assert np.all((cf.treatment_hat_ > 0.15) & (cf.treatment_hat_ < 0.65))


def test_clusters_give_cluster_robust_errors():
    df = wa_design(800, 8).assign(g=np.repeat(np.arange(80), 10))
    cf = CausalForest(n_estimators=40, random_state=1).fit(df, "w", "y", COLS, cluster="g")
    assert "cluster" in cf.result_.inference
    assert np.isfinite(cf.result_.std_error) and cf.result_.std_error > 0


def test_pickle_round_trip_and_plots(fitted):
    import matplotlib

    matplotlib.use("Agg")
    df, cf = fitted
    again = pickle.loads(pickle.dumps(cf))
    test = df[COLS].iloc[:50]
    np.testing.assert_array_equal(again.effect(test), cf.effect(test))
    assert again.result_.estimate == cf.result_.estimate
    assert cf.plot(test) is not None
    assert cf.plot(test, by="x0") is not None


def test_refusals(fitted):
    df, cf = fitted
    with pytest.raises(ParameterError, match="target='ATX' is not supported"):
        cf.average_effect("ATX")
    with pytest.raises(DataError, match="lacks the covariate"):
        cf.effect(df[["x0", "x1"]])
    with pytest.raises(ParameterError, match="folds=1 is invalid"):
        CausalForest(n_estimators=4, folds=1).fit(df, "w", "y", COLS)
    with pytest.raises(ParameterError, match="n_estimators=-3 is invalid"):
        CausalForest(n_estimators=-3).fit(df, "w", "y", COLS)
    with pytest.raises(ParameterError, match=r"sample_fraction=0\.8 exceeds 0\.5"):
        CausalForest(n_estimators=4, sample_fraction=0.8).fit(df, "w", "y", COLS)
    one = CausalForest(n_estimators=20, ci_group_size=1, random_state=0).fit(df, "w", "y", COLS)
    with pytest.raises(ParameterError, match="ci_group_size >= 2"):
        one.effect_interval(df[COLS])
    with pytest.raises(DataError):  # a continuous treatment
        CausalForest(n_estimators=4).fit(df.assign(w=df["x5"]), "w", "y", COLS)
    with pytest.raises(DataError, match="function of covariates"):
        CausalForest(n_estimators=4).fit(df[["w", "y"]], "w", "y", [])


def test_propensities_of_zero_or_one_are_clipped_with_a_warning():
    from sklearn.tree import DecisionTreeClassifier

    df = wa_design(400, 9)
    df["w"] = (df["x0"] > 0.5).astype(int)  # treatment decided by x0: no overlap at all
    cf = CausalForest(n_estimators=4, treatment_model=DecisionTreeClassifier())
    with pytest.warns(OverlapWarning, match="poor overlap"):
        cf.fit(df, "w", "y", COLS)
    assert cf.result_.diagnostics["share_clipped"] > 0.9
    assert not np.isinf(cf.scores_).any()  # no division by e(1 - e) = 0


@pytest.mark.slow
def test_coverage_study():
    """CATE intervals cover 85-97 % of test points; the ATE interval covers nominally.

    Measured once (40 replications, n = 2000, 500 trees): mean CATE coverage 0.874 of
    the 95 % intervals over 500 fixed test points; ATE interval coverage 0.925 (37/40).
    """
    reps, cate_cover, ate_hits = 40, [], []
    test = wa_design(500, 10_000)[COLS]
    truth = tau_true(test.to_numpy())
    for r in range(reps):
        df = wa_design(2000, 100 + r)
        cf = CausalForest(n_estimators=500, random_state=r).fit(df, "w", "y", COLS)
        lo, hi = cf.effect_interval(test)
        cate_cover.append(np.mean((lo < truth) & (truth < hi)))
        res = cf.result_
        ate_hits.append(res.ci_lower < TRUE_ATE < res.ci_upper)
    cate, ate = float(np.mean(cate_cover)), float(np.mean(ate_hits))
    print(f"CATE coverage {cate:.3f}, ATE coverage {ate:.3f} over {reps} replications")
    assert 0.85 <= cate <= 0.97
    assert ate >= 0.85  # 40 replications: 0.95 +- 2 SE is about 0.88-1.0

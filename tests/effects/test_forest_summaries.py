"""Forest summaries: BLP, calibration, RATE/TOC, variable importance, AIPW averages.

References: statsmodels OLS/WLS (HC3, cluster) to 1e-8; brute-force RATE/TOC
(explicit loops over every tie-breaking order) to 1e-12; simulations with known
truth for the ATE and the RATE.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import statsmodels.api as sm

from paribus.effects.aipw import aipw_score_elements
from paribus.effects.forest import summaries as S
from paribus.effects.forest.rate import rate, toc
from paribus.errors import DataError, ParameterError


def _nuisance_data(n: int, seed: int):
    """Binary treatment with known propensity, outcome model and CATE tau(x) = 1 + x1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    e = 1 / (1 + np.exp(-0.5 * X[:, 0]))
    w = (rng.uniform(size=n) < e).astype(float)
    tau = 1 + X[:, 1]
    m0 = X[:, 0] + 0.5 * X[:, 2]
    y = m0 + w * tau + rng.normal(size=n)
    y_hat = m0 + e * tau
    return X, y, w, y_hat, e, tau


# ---------------------------------------------------------------- BLP


@pytest.fixture(scope="module")
def blp_data():
    rng = np.random.default_rng(1)
    n = 300
    A = rng.normal(size=(n, 2))
    gamma = 1 + 2 * A[:, 0] + rng.standard_t(4, size=n) * (1 + np.abs(A[:, 1]))
    return gamma, A, rng.uniform(0.5, 2, size=n), rng.integers(0, 25, size=n)


def test_blp_matches_statsmodels_hc3(blp_data):
    gamma, A, _, _ = blp_data
    table = S.best_linear_projection(gamma, A)
    ref = sm.OLS(gamma, sm.add_constant(A)).fit(cov_type="HC3")
    np.testing.assert_allclose([e.estimate for e in table], ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose([e.std_error for e in table], ref.bse, rtol=1e-8)
    assert table.labels == ("(Intercept)", "A1", "A2")


def test_blp_weighted_and_clustered_match_statsmodels(blp_data):
    gamma, A, weights, cluster = blp_data
    table = S.best_linear_projection(gamma, A, weights=weights)
    ref = sm.WLS(gamma, sm.add_constant(A), weights=weights).fit(cov_type="HC3")
    np.testing.assert_allclose([e.estimate for e in table], ref.params, atol=1e-8)
    np.testing.assert_allclose([e.std_error for e in table], ref.bse, rtol=1e-8)
    table = S.best_linear_projection(gamma, A, cluster=cluster)
    ref = sm.OLS(gamma, sm.add_constant(A)).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    np.testing.assert_allclose([e.std_error for e in table], ref.bse, rtol=1e-8)


def test_blp_without_covariates_is_the_mean(blp_data):
    gamma = blp_data[0]
    (effect,) = S.best_linear_projection(gamma)
    n = gamma.size
    assert effect.estimate == pytest.approx(gamma.mean(), abs=1e-12)
    # HC3 with an intercept alone: leverage 1/n, so se^2 = sum(e^2) / (n - 1)^2
    se = np.sqrt(np.sum((gamma - gamma.mean()) ** 2)) / (n - 1)
    assert effect.std_error == pytest.approx(se, rel=1e-10)


def test_blp_refusals(blp_data):
    gamma, A, _, _ = blp_data
    with pytest.raises(DataError, match="X must have 300 rows"):
        S.best_linear_projection(gamma, A[:10])
    with pytest.raises(DataError, match="scores has 1 missing"):
        S.best_linear_projection(np.r_[gamma[:-1], np.nan], A)
    with pytest.raises(DataError, match="single cluster"):
        S.best_linear_projection(gamma, A, cluster=np.zeros(300))


# ---------------------------------------------------------------- calibration


def _one_sided(ref):
    return np.where(ref.tvalues > 0, ref.pvalues / 2, 1 - ref.pvalues / 2)


def test_calibration_scores_form_matches_statsmodels():
    rng = np.random.default_rng(2)
    n = 400
    tau_hat = 1 + rng.normal(size=n)
    gamma = tau_hat + rng.normal(scale=3, size=n)
    res = S.test_calibration(tau_hat, gamma)
    design = np.column_stack([np.full(n, tau_hat.mean()), tau_hat - tau_hat.mean()])
    ref = sm.OLS(gamma, design).fit(cov_type="HC3", use_t=True)
    np.testing.assert_allclose(res.table["estimate"], ref.params, atol=1e-8)
    np.testing.assert_allclose(res.table["std_error"], ref.bse, rtol=1e-8)
    np.testing.assert_allclose(res.table["p_value"], _one_sided(ref), atol=1e-10)
    test_one = ref.t_test((np.eye(2), np.ones(2)))  # H0: each coefficient equals 1
    np.testing.assert_allclose(res.table["p_value_one"], test_one.pvalue.ravel(), atol=1e-10)
    assert "differential.forest.prediction" in str(res)


def test_calibration_residual_form_clustered_matches_statsmodels():
    rng = np.random.default_rng(3)
    n = 300
    tau_hat = rng.normal(size=n)
    w_res = rng.uniform(-0.5, 0.5, size=n)
    y_res = w_res * (0.8 + tau_hat) + rng.normal(size=n)
    cluster = rng.integers(0, 40, size=n)
    res = S.test_calibration(
        tau_hat, outcome_residual=y_res, treatment_residual=w_res, cluster=cluster
    )
    m = tau_hat.mean()
    design = np.column_stack([w_res * m, w_res * (tau_hat - m)])
    ref = sm.OLS(y_res, design).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    np.testing.assert_allclose(res.table["estimate"], ref.params, atol=1e-8)
    np.testing.assert_allclose(res.table["std_error"], ref.bse, rtol=1e-8)


def test_calibration_refuses_ambiguous_input():
    x = np.arange(10.0)
    with pytest.raises(ParameterError, match="either scores"):
        S.test_calibration(x)
    with pytest.raises(ParameterError, match="either scores"):
        S.test_calibration(x, x, outcome_residual=x, treatment_residual=x)
    with pytest.raises(ParameterError, match="either scores"):
        S.test_calibration(x, outcome_residual=x)


# ---------------------------------------------------------------- RATE / TOC


def _toc_brute(gamma_sorted, k):
    return sum(gamma_sorted[:k]) / k - sum(gamma_sorted) / len(gamma_sorted)


def _rate_brute(gamma, prio, target):
    """Average over every order consistent with the priorities (all tie-breaks)."""
    n = len(gamma)
    levels = sorted(set(prio), reverse=True)
    groups = [[i for i in range(n) if prio[i] == v] for v in levels]
    values, tocs = [], []
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        order = [i for p in perms for i in p]
        g = [gamma[i] for i in order]
        toc = [_toc_brute(g, k) for k in range(1, n + 1)]
        weight = [k / n for k in range(1, n + 1)] if target == "QINI" else [1.0] * n
        values.append(sum(t * w for t, w in zip(toc, weight, strict=True)) / n)
        tocs.append(toc)
    return np.mean(values), np.mean(tocs, axis=0)


@pytest.mark.parametrize("target", ["AUTOC", "QINI"])
@pytest.mark.parametrize("ties", [False, True])
def test_rate_matches_brute_force(target, ties):
    rng = np.random.default_rng(4)
    gamma = rng.normal(size=9)
    prio = np.array([3, 1, 3, 2, 5, 1, 3, 0, 2.0]) if ties else rng.normal(size=9)
    q = np.array([0.1, 0.25, 1 / 3, 0.5, 0.9, 1.0])
    res = rate(gamma, prio, target=target, q=q, n_bootstrap=10, random_state=0)
    value, toc = _rate_brute(list(gamma), list(prio), target)
    assert res.estimate == pytest.approx(value, abs=1e-12)
    k = np.maximum(np.floor(q * 9 + 1e-12).astype(int), 1)
    np.testing.assert_allclose(res.toc["estimate"], toc[k - 1], atol=1e-12)
    assert res.toc["estimate"].iloc[-1] == pytest.approx(0.0, abs=1e-12)


def test_rate_invariances():
    rng = np.random.default_rng(5)
    gamma, prio = rng.normal(size=200), rng.normal(size=200)
    base = rate(gamma, prio, n_bootstrap=50, random_state=1)
    # only the ranking matters; shifting the scores leaves TOC unchanged; scaling scales it
    same = rate(gamma, np.exp(prio), n_bootstrap=50, random_state=1)
    shifted = rate(3 * gamma + 7, prio, n_bootstrap=50, random_state=1)
    assert same.estimate == pytest.approx(base.estimate, abs=1e-12)
    assert same.std_error == pytest.approx(base.std_error, abs=1e-12)
    assert shifted.estimate == pytest.approx(3 * base.estimate, rel=1e-10)
    assert shifted.std_error == pytest.approx(3 * base.std_error, rel=1e-10)
    # singleton clusters are the unclustered half-sample bootstrap
    single = rate(gamma, prio, n_bootstrap=50, random_state=1, cluster=np.arange(200))
    assert single.std_error == pytest.approx(base.std_error, abs=1e-12)


def test_rate_detects_heterogeneity_and_toc_agrees():
    rng = np.random.default_rng(6)
    n = 1000
    x = rng.normal(size=n)
    gamma = np.maximum(x, 0) + rng.normal(scale=2, size=n)
    res = rate(gamma, x + rng.normal(scale=0.3, size=n), n_bootstrap=100, random_state=2)
    assert res.estimate / res.std_error > 3
    assert res.p_value < 0.01
    assert res.ci[0] < res.estimate < res.ci[1]
    curve = toc(gamma, x, q=[0.2, 0.5], n_bootstrap=20, random_state=2)
    # truth: E[max(x,0) | x in top 20%] - E[max(x,0)] = 1.40 - 0.399
    assert curve["estimate"].iloc[0] == pytest.approx(1.40 - 0.399, abs=3 * 2 / np.sqrt(200))


def test_rate_null_is_centred():
    rng = np.random.default_rng(7)
    n = 800
    gamma = 1 + rng.normal(size=n)
    res = rate(gamma, rng.normal(size=n), n_bootstrap=100, random_state=3)
    assert abs(res.estimate) < 3 * res.std_error


@pytest.mark.slow
@pytest.mark.parametrize("target", ["AUTOC", "QINI"])
def test_rate_null_bootstrap_se_matches_monte_carlo(target):
    rng = np.random.default_rng(8)
    n, reps = 400, 300
    est, ses = np.empty(reps), np.empty(reps)
    for r in range(reps):
        x = rng.normal(size=n)
        gamma = x + rng.normal(size=n)  # prognostic, but no heterogeneity in the effect
        res = rate(gamma, rng.normal(size=n), target=target, n_bootstrap=200, random_state=r)
        est[r], ses[r] = res.estimate, res.std_error
    sd = est.std(ddof=1)
    print(
        f"{target}: mean {est.mean():.4f} (MC se {sd / np.sqrt(reps):.4f}), sd {sd:.4f}, "
        f"mean bootstrap SE {ses.mean():.4f}, coverage {np.mean(np.abs(est) < 1.96 * ses):.3f}"
    )
    assert abs(est.mean()) < 3 * sd / np.sqrt(reps)
    assert ses.mean() == pytest.approx(sd, rel=0.15)


def test_rate_refusals():
    g = np.arange(10.0)
    with pytest.raises(ParameterError, match="target='AUC' is invalid"):
        rate(g, g, target="AUC")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="q must be"):
        rate(g, g, q=[0.5, 0.2])
    with pytest.raises(ParameterError, match="n_bootstrap=1"):
        rate(g, g, n_bootstrap=1)
    with pytest.raises(DataError, match="priorities has 1 missing"):
        rate(g, np.r_[g[:-1], np.nan])
    with pytest.raises(DataError, match="at least 4 units or clusters"):
        rate(g, g, cluster=np.repeat([0, 1, 2], [3, 3, 4]))


def test_rate_plot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    rng = np.random.default_rng(9)
    res = rate(rng.normal(size=50), rng.normal(size=50), n_bootstrap=5, random_state=0)
    ax = res.plot()
    assert ax.get_xlabel() == "treated fraction q"
    assert "AUTOC" in str(res)
    import matplotlib.pyplot as plt

    plt.close("all")


# ---------------------------------------------------------------- variable importance


def test_variable_importance_hand_computed():
    counts = np.array([[2, 0, 0], [1, 3, 0], [0, 0, 4], [1, 1, 2], [9, 9, 9]])
    imp = S.variable_importance(counts, decay_exponent=2, max_depth=4)
    w = np.array([1, 1 / 4, 1 / 9, 1 / 16])
    shares = np.array([[1, 0, 0], [0.25, 0.75, 0], [0, 0, 1], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(imp, w @ shares / w.sum(), atol=1e-14)
    assert imp.sum() == pytest.approx(1.0)
    # missing depths count as no splits (grf pads to max_depth)
    short = S.variable_importance(counts[:1], max_depth=2)
    np.testing.assert_allclose(short, [1 / 1.25, 0, 0], atol=1e-14)


def test_variable_importance_refusals():
    with pytest.raises(DataError, match="non-negative"):
        S.variable_importance([[1, -1]])
    with pytest.raises(ParameterError, match="max_depth=0"):
        S.variable_importance([[1, 1]], max_depth=0)


# ---------------------------------------------------------------- ATE


@pytest.mark.parametrize("target", ["all", "treated", "control"])
def test_ate_equals_aipw_score_formulas(target):
    X, y, w, y_hat, e, tau = _nuisance_data(500, 10)
    tau_hat = tau + 0.3 * X[:, 2]  # a wrong CATE: the doubly robust terms correct it
    eff = S.average_treatment_effect(tau_hat, y, w, y_hat, e, target=target)
    g0, g1 = y_hat - e * tau_hat, y_hat + (1 - e) * tau_hat
    estimand = {"all": "ATE", "treated": "ATT", "control": "ATC"}[target]
    psi_a, psi_b = aipw_score_elements(estimand, y, w, g0, g1, e)
    theta = -psi_b.sum() / psi_a.sum()
    phi = -(psi_a * theta + psi_b) / psi_a.mean()
    n = y.size
    assert eff.estimate == pytest.approx(theta, abs=1e-10)
    # grf's small-sample factor n / (n - 1)
    assert eff.std_error == pytest.approx(np.sqrt(np.sum(phi**2) / (n * (n - 1))), rel=1e-10)
    if target == "all":
        assert eff.estimate == pytest.approx(S.dr_scores(tau_hat, y, w, y_hat, e).mean(), abs=1e-10)


def test_ate_overlap_hand_computation():
    _, y, w, y_hat, e, tau = _nuisance_data(500, 11)
    eff = S.average_treatment_effect(tau, y, w, y_hat, e, target="overlap")
    yr, wr = y - y_hat, w - e
    slope = np.sum((wr - wr.mean()) * (yr - yr.mean())) / np.sum((wr - wr.mean()) ** 2)
    ref = sm.OLS(yr, sm.add_constant(wr)).fit(cov_type="HC3")
    assert eff.estimand == "ATO"
    assert eff.estimate == pytest.approx(slope, abs=1e-10)
    assert eff.std_error == pytest.approx(ref.bse[1], rel=1e-8)


@pytest.mark.parametrize("target", ["all", "overlap"])
def test_ate_simulation_truth(target):
    _, y, w, y_hat, e, tau = _nuisance_data(4000, 12)
    eff = S.average_treatment_effect(tau, y, w, y_hat, e, target=target)
    weight = e * (1 - e) if target == "overlap" else np.ones_like(e)
    truth = 1.0 if target == "all" else np.sum(weight * tau) / np.sum(weight)
    assert abs(eff.estimate - truth) < 3 * eff.std_error


def test_ate_clustered_se():
    _, y, w, y_hat, e, tau = _nuisance_data(400, 13)
    cluster = np.repeat(np.arange(40), 10)
    eff = S.average_treatment_effect(tau, y, w, y_hat, e, cluster=cluster)
    gamma = S.dr_scores(tau, y, w, y_hat, e)
    sums = np.bincount(cluster, weights=gamma - gamma.mean())
    assert eff.std_error == pytest.approx(np.sqrt(40 / 39 * np.sum(sums**2)) / 400, rel=1e-10)


def test_ate_refusals():
    _, y, w, y_hat, e, tau = _nuisance_data(50, 14)
    with pytest.raises(ParameterError, match="target='ate' is invalid"):
        S.average_treatment_effect(tau, y, w, y_hat, e, target="ate")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="strictly inside"):
        S.average_treatment_effect(tau, y, w, y_hat, np.r_[e[:-1], 1.0])
    with pytest.raises(DataError, match="binary 0/1"):
        S.average_treatment_effect(tau, y, w * 2, y_hat, e)
    with pytest.raises(DataError, match="y_hat has 49 entries"):
        S.average_treatment_effect(tau, y, w, y_hat[:-1], e)

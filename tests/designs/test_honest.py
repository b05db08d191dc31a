"""HonestDiD sensitivity analysis and the pre-trend Wald test.

Published reference: the HonestDiD README (R package, Rambachan & Roth) Medicaid example,
shared datasets README section 8. The event study is computed here with dense dummies
(statsmodels OLS); its cluster covariance is rescaled to fixest's CR1 convention
``G/(G-1) (N-1)/(N-K)`` with the state effects, nested in the state clusters, left out
of ``K`` (K = 7 event-time + 7 year coefficients = 14), which is what the README used.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from paribus.designs.did._honest_arp import _dual_vertices, _invert
from paribus.designs.did.honest import (
    HonestDiDResult,
    honest_did,
    identified_set,
    pretrend_test,
)
from paribus.errors import ParameterError
from paribus.results import Effect, EffectTable

matplotlib.use("Agg")

PRE, POST = 5, 2


@pytest.fixture(scope="module")
def medicaid(shared_datasets):
    df = pd.read_csv(shared_datasets / "ehec_medicaid.csv")
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))]
    treated = (d.yexp2 == 2014).to_numpy(float)
    years = [y for y in range(2008, 2016) if y != 2013]
    es = np.column_stack([treated * (d.year == y).to_numpy() for y in years])
    states = pd.get_dummies(d.stfips.astype(str), drop_first=True, dtype=float).to_numpy()
    yfe = pd.get_dummies(d.year.astype(str), drop_first=True, dtype=float).to_numpy()
    x = np.column_stack([np.ones(len(d)), es, states, yfe])
    fit = sm.OLS(d.dins.to_numpy(), x).fit(
        cov_type="cluster", cov_kwds={"groups": d.stfips.to_numpy()}
    )
    n, k = x.shape
    groups = d.stfips.nunique()
    cov = fit.cov_params()[1:8, 1:8] * (n - k) / (n - 14)  # fixest's nested-K CR1
    assert (n, groups) == (344, 43)
    return fit.params[1:8], cov, fit


# ----------------------------------------------------------------------------- published
def test_event_study_matches_readme(medicaid):
    beta, _, _ = medicaid
    assert beta[5] == pytest.approx(0.0464, abs=5e-5)
    assert beta[6] == pytest.approx(0.0692, abs=5e-5)
    assert round(beta[:5].min(), 3) == -0.011
    assert beta[:5].max() < 0.0004


def test_relative_magnitudes_published(medicaid):
    beta, cov, _ = medicaid
    res = honest_did(beta, cov, num_pre_periods=PRE, Mbar=[0.5, 1.0, 1.5, 2.0])
    published = np.array([[0.0240, 0.0672], [0.0170, 0.0720], [0.0082, 0.0797], [-0.0009, 0.0881]])
    np.testing.assert_allclose(np.c_[res.lower, res.upper], published, atol=1e-3)
    # the README: the interval excludes zero up to Mbar = 1.5, not at 2 (breakdown ~ 2)
    assert 1.5 < res.breakdown < 2.0
    assert res.inference == "hybrid"


def test_smoothness_published(medicaid):
    beta, cov, _ = medicaid
    res = honest_did(beta, cov, num_pre_periods=PRE, method="smoothness", M=[0.0, 0.01])
    published = np.array([[0.0259, 0.0607], [0.0132, 0.0787]])
    np.testing.assert_allclose(np.c_[res.lower, res.upper], published, atol=1e-3)
    assert res.inference == "flci"
    assert res.breakdown > 0.01


def test_original_interval_is_normal(medicaid):
    beta, cov, _ = medicaid
    z = stats.norm.ppf(0.95)
    lv = np.array([0.25, 0.75])
    res = honest_did(beta, cov, num_pre_periods=PRE, l_vec=lv, alpha=0.1, Mbar=1, breakdown=False)
    se = np.sqrt(lv @ cov[5:, 5:] @ lv)
    assert res.estimate == pytest.approx(lv @ beta[5:], abs=1e-14)
    assert res.std_error == pytest.approx(se, rel=1e-12)
    assert res.original_lower == pytest.approx(lv @ beta[5:] - z * se, rel=1e-12)
    assert res.original_upper == pytest.approx(lv @ beta[5:] + z * se, rel=1e-12)


def test_pretrend_wald_matches_statsmodels(medicaid):
    beta, _, fit = medicaid
    r = np.zeros((5, fit.params.size))
    r[np.arange(5), 1 + np.arange(5)] = 1.0
    ref = fit.wald_test(r, use_f=False, scalar=True)
    out = pretrend_test(beta, fit.cov_params()[1:8, 1:8], num_pre_periods=PRE)
    assert out.df == 5
    assert out.statistic == pytest.approx(float(ref.statistic), rel=1e-8)
    assert out.p_value == pytest.approx(float(ref.pvalue), rel=1e-8)


# ----------------------------------------------------------------------------- result
def test_frame_plot_and_effect_table_input(medicaid):
    beta, cov, _ = medicaid
    res = honest_did(beta, cov, num_pre_periods=PRE, Mbar=[0, 1], breakdown=False)
    assert isinstance(res, HonestDiDResult)
    frame = res.to_frame()
    assert list(frame.columns) == ["kind", "Mbar", "lower", "upper", "excludes_zero"]
    assert list(frame.kind) == ["original", "robust", "robust"]
    assert frame.lower.iloc[1] == res.lower[0]
    ax = res.plot()
    assert ax.get_xlabel() == "Mbar"
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    labels = [f"e={e}" for e in (-6, -5, -4, -3, -2, 0, 1)]
    table = EffectTable(
        [
            Effect.from_normal(
                estimand="ATT(e)",
                estimate=float(b),
                std_error=float(np.sqrt(v)),
                level=0.95,
                n_obs=344,
                method="twfe",
                inference="cluster",
            )
            for b, v in zip(beta, np.diag(cov), strict=True)
        ],
        labels,
    )
    again = honest_did(table, cov, num_pre_periods=PRE, Mbar=[0, 1], breakdown=False)
    np.testing.assert_array_equal(again.lower, res.lower)
    np.testing.assert_array_equal(again.upper, res.upper)


# ----------------------------------------------------------------------------- invariance
def test_rescaling_scales_the_intervals(medicaid):
    beta, cov, _ = medicaid
    a = honest_did(beta, cov, num_pre_periods=PRE, Mbar=[0.5, 1.5], breakdown=False)
    b = honest_did(10 * beta, 100 * cov, num_pre_periods=PRE, Mbar=[0.5, 1.5], breakdown=False)
    np.testing.assert_allclose(b.lower, 10 * a.lower, rtol=1e-7)
    np.testing.assert_allclose(b.upper, 10 * a.upper, rtol=1e-7)


def test_smoothness_ignores_linear_trends(medicaid):
    beta, cov, _ = medicaid
    t = np.r_[np.arange(-PRE, 0), np.arange(1, POST + 1)].astype(float)
    kw = {"num_pre_periods": PRE, "method": "smoothness", "M": [0, 0.02], "breakdown": False}
    a = honest_did(beta, cov, **kw)
    b = honest_did(beta + 0.03 * t, cov, **kw)
    np.testing.assert_allclose(b.lower, a.lower, atol=1e-9)
    np.testing.assert_allclose(b.upper, a.upper, atol=1e-9)


# ----------------------------------------------------------------------------- LP pieces
def _with_zero(delta, num_pre):
    return np.insert(delta, num_pre, 0.0, axis=-1)


def _in_rm(full, num_pre, mbar):
    diffs = np.diff(full, axis=-1)
    pre, post = np.abs(diffs[..., :num_pre]), np.abs(diffs[..., num_pre:])
    return post.max(axis=-1) <= mbar * pre.max(axis=-1) + 1e-12


def _in_sd(full, m):
    return np.abs(np.diff(full, n=2, axis=-1)).max(axis=-1) <= m + 1e-12


@pytest.mark.parametrize("method", ["relative_magnitude", "smoothness"])
def test_identified_set_matches_dense_grid(method):
    num_pre = 3
    rm = method == "relative_magnitude"
    beta = np.array([0.3, -0.2, 0.1, 1.0, 1.5] if rm else [0.3, 0.1, 0.05, 1.0, 1.5])
    lv = np.array([0.3, 0.7])
    m = 1.2 if rm else 0.4
    lo, hi = identified_set(beta, num_pre_periods=num_pre, method=method, M=m, l_vec=lv)
    g = np.linspace(-4.0, 4.0, 1601)
    d1, d2 = np.meshgrid(g, g, indexing="ij")
    delta = np.broadcast_to(beta[:num_pre], (*d1.shape, num_pre))
    full = _with_zero(np.concatenate([delta, d1[..., None], d2[..., None]], axis=-1), num_pre)
    ok = _in_rm(full, num_pre, m) if method == "relative_magnitude" else _in_sd(full, m)
    theta = lv @ beta[num_pre:] - (lv[0] * d1 + lv[1] * d2)
    step = g[1] - g[0]
    assert ok.any() and not ok[0, :].any() and not ok[-1, :].any()
    assert lo == pytest.approx(theta[ok].min(), abs=step)
    assert hi == pytest.approx(theta[ok].max(), abs=step)
    assert lo <= theta[ok].min() + 1e-9 and hi >= theta[ok].max() - 1e-9


def test_dual_vertices_give_the_lp_value():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(9, 2))
    verts = _dual_vertices(w)
    assert verts is not None
    np.testing.assert_allclose(verts.sum(axis=1), 1.0, atol=1e-10)
    np.testing.assert_allclose(verts @ w, 0.0, atol=1e-9)
    assert (verts >= 0).all()
    for _ in range(5):
        z = rng.normal(size=9)
        # primal: min eta s.t. z - w tau <= eta
        res = optimize.linprog(
            np.r_[1.0, 0.0, 0.0],
            A_ub=np.c_[-np.ones(9), -w],
            b_ub=-z,
            bounds=[(None, None)] * 3,
            method="highs",
        )
        assert (verts @ z).max() == pytest.approx(res.fun, abs=1e-9)


def test_dual_is_empty_when_moments_can_be_shifted_away():
    w = np.ones((4, 1))  # tau shifts every moment down: eta is unbounded below
    assert _dual_vertices(w) is None


def _slow_flci(beta, cov, num_pre, lv, m, alpha):
    """FLCI by brute force: v = (v_pre, l) with one free weight (two pre periods)."""
    t = np.r_[np.arange(-num_pre, 0), np.arange(1, lv.size + 1)].astype(float)
    n = t.size
    d2 = np.zeros((n - 1, n + 1))
    for r in range(n - 1):
        d2[r, r : r + 3] = [1, -2, 1]
    d2 = np.delete(d2, num_pre, axis=1)

    def v_of(w):
        # finite bias needs v orthogonal to the linear trend t
        v = np.r_[w, 0.0, lv]
        v[1] = -(v @ t) / t[1]
        return v

    def half(w):
        v = v_of(w)
        res = optimize.linprog(
            -v,
            A_ub=np.vstack([d2, -d2]),
            b_ub=np.full(2 * (n - 1), m),
            bounds=[(None, None)] * n,
            method="highs",
        )
        bias, sd = -res.fun, np.sqrt(v @ cov @ v)
        return sd * stats.foldnorm.ppf(1 - alpha, bias / sd)

    ws = np.linspace(-6, 6, 121)
    vals = [half(w) for w in ws]
    i = int(np.argmin(vals))
    best = optimize.minimize_scalar(half, bounds=(ws[i - 1], ws[i + 1]), method="bounded")
    return float(best.fun), float(v_of(best.x) @ beta)


@pytest.mark.parametrize("m", [0.0, 0.05, 0.3])
def test_flci_matches_brute_force(m):
    rng = np.random.default_rng(7)
    root = rng.normal(size=(4, 4))
    cov = root @ root.T / 4 + 0.1 * np.eye(4)
    beta = np.array([0.1, -0.05, 0.4, 0.6])
    lv = np.array([1.0, 0.0])
    res = honest_did(
        beta, cov, num_pre_periods=2, method="smoothness", M=m, l_vec=lv, breakdown=False
    )
    half, center = _slow_flci(beta, cov, 2, lv, m, 0.05)
    assert (res.upper[0] - res.lower[0]) / 2 == pytest.approx(half, rel=1e-8)
    assert (res.upper[0] + res.lower[0]) / 2 == pytest.approx(center, abs=1e-6)


@pytest.mark.parametrize(
    ("method", "inference", "num_post"),
    [
        ("relative_magnitude", "hybrid", 1),
        ("relative_magnitude", "conditional", 2),
        ("relative_magnitude", "hybrid", 3),
        ("smoothness", "conditional", 2),
        ("smoothness", "hybrid", 1),
    ],
)
def test_arp_interval_tends_to_identified_set(method, inference, num_post):
    # with a vanishing covariance the robust interval is the identified set
    num_pre = 3
    pre = [0.02, -0.01, 0.015] if method == "relative_magnitude" else [0.02, 0.01, 0.005]
    beta = np.r_[pre, 0.5 + 0.1 * np.arange(num_post)]
    cov = 1e-14 * (np.eye(beta.size) + 0.3)
    m = 1.0 if method == "relative_magnitude" else 0.02
    kw = {"Mbar": m} if method == "relative_magnitude" else {"M": m}
    res = honest_did(
        beta, cov, num_pre_periods=num_pre, method=method, inference=inference,
        breakdown=False, **kw,
    )  # fmt: skip
    lo, hi = identified_set(beta, num_pre_periods=num_pre, method=method, M=m)
    assert res.lower[0] == pytest.approx(lo, abs=1e-5)
    assert res.upper[0] == pytest.approx(hi, abs=1e-5)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma": -np.eye(7)}, "positive semi-definite"),
        ({"sigma": np.eye(6)}, "7x7 covariance"),
        ({"sigma": np.triu(np.ones((7, 7)))}, "symmetric"),
        ({"Mbar": -0.5}, "Mbar must be a non-negative"),
        ({"method": "smoothness", "M": [0, -1]}, "M must be a non-negative"),
        ({"num_post_periods": 3}, "must match"),
        ({"num_pre_periods": 0}, "num_pre_periods must be a positive integer"),
        ({"M": 1.0}, "takes Mbar=, not M="),
        ({"method": "smoothness", "Mbar": 1.0}, "takes M=, not Mbar="),
        ({"inference": "flci"}, "Delta\\^RM is neither"),
        ({"method": "trend"}, "method='trend' is invalid"),
        ({"l_vec": [1, 0, 0]}, "l_vec must be a non-zero vector of length"),
        ({"alpha": 1.5}, "alpha=1.5 is invalid"),
        ({"hybrid_kappa": 0.2}, "hybrid_kappa"),
    ],
)
def test_refusals(kwargs, match):
    args = {"sigma": np.eye(7), "num_pre_periods": PRE, **kwargs}
    sigma = args.pop("sigma")
    with pytest.raises(ParameterError, match=match):
        honest_did(np.zeros(7), sigma, **args)


def test_zero_variance_moment_is_refused():
    cov = np.diag([0.0, 0.0, 0.0, 1.0])  # pre periods known exactly: pre moments are exact
    with pytest.raises(ParameterError, match="zero variance"):
        honest_did(np.zeros(4), cov, num_pre_periods=3, Mbar=1.0, breakdown=False)


def test_invert_refines_ends_and_reports_unbounded_sets():
    lo, hi = _invert(lambda th: (th > 0.3) & (th < 0.7), -1.0, 1.0, 50)
    assert lo == pytest.approx(0.3, abs=1e-8)
    assert hi == pytest.approx(0.7, abs=1e-8)
    assert _invert(lambda th: th > 0.2, -1.0, 1.0, 50) == (pytest.approx(0.2, abs=1e-8), np.inf)
    assert np.isnan(_invert(lambda th: th > 1e9, -1.0, 1.0, 50)[0])


def test_pretrend_refusals():
    with pytest.raises(ParameterError, match="leaves no post-period coefficient"):
        pretrend_test(np.zeros(7), np.eye(7), num_pre_periods=7)
    with pytest.raises(ParameterError, match="singular"):
        pretrend_test(np.zeros(3), np.zeros((3, 3)), num_pre_periods=2)


# ----------------------------------------------------------------------------- coverage
def _coverage(method, m, reps, seed):
    """Coverage of theta = tau_1 when delta sits on the boundary of Delta."""
    num_pre = 3
    rng = np.random.default_rng(seed)
    root = rng.normal(size=(5, 5))
    cov = 0.01**2 * (root @ root.T / 5 + 0.5 * np.eye(5))
    if method == "relative_magnitude":
        pre = np.array([0.0, 0.01, 0.015])  # diffs 0.01, 0.005, -0.015: max 0.015
        post = np.array([m * 0.015, 2 * m * 0.015])
        kw = {"Mbar": m}
    else:
        pre = np.array([0.0, 0.0, 0.0])
        post = np.array([m, 3 * m])  # second differences 0, 0, m, m
        kw = {"M": m}
    full = _with_zero(np.r_[pre, post], num_pre)
    assert _in_rm(full, num_pre, m) if method == "relative_magnitude" else _in_sd(full, m)
    tau = np.array([0.03, 0.05])
    beta = np.r_[pre, post + tau]
    draws = rng.multivariate_normal(beta, cov, size=reps)
    hits = 0
    for b in draws:
        res = honest_did(b, cov, num_pre_periods=num_pre, method=method, breakdown=False, **kw)
        hits += res.lower[0] <= tau[0] <= res.upper[0]
    return hits / reps


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "m"),
    [("relative_magnitude", 0.0), ("relative_magnitude", 1.0), ("smoothness", 0.005)],
)
def test_coverage_slow(method, m):
    reps = 1000
    cover = _coverage(method, m, reps, seed=11)
    print(f"coverage {method} M={m}: {cover:.3f} over {reps}")
    assert cover >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / reps)


def test_coverage_smoke():
    assert _coverage("smoothness", 0.005, 40, seed=2) >= 0.85


def test_all_exports():
    import paribus.designs.did.honest as mod

    assert set(mod.__all__) == {
        "HonestDiDResult",
        "PretrendTest",
        "honest_did",
        "identified_set",
        "pretrend_test",
    }
    assert all(callable(getattr(mod, name)) for name in mod.__all__)

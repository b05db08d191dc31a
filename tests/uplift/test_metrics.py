"""Uplift / Qini curves and areas: scikit-uplift 0.5.1 and CausalML 0.15.5 agreement,
doubly robust curves, uplift by bin, and refusals."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from paribus.errors import DataError, ParameterError
from paribus.uplift.evaluation import dr_scores, uplift_by_bin
from paribus.uplift.metrics import (
    auuc,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)

DATA = Path(__file__).parent / "data"


def _rct(seed: int, n: int = 300, ties: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    y = (rng.uniform(size=n) < 0.3 + 0.25 * t * (x > 0)).astype(int)
    score = x + rng.normal(scale=0.7, size=n)
    if ties:
        score = np.round(score, 1)  # many tied scores
    return y, t, score


def _sklift():
    sklift_metrics = pytest.importorskip("sklift.metrics")
    return sklift_metrics


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curves_and_areas_equal_sklift(seed: int, ties: bool) -> None:
    sm = _sklift()
    y, t, s = _rct(seed, ties=ties)
    with warnings.catch_warnings():  # sklift calls sklearn's deprecated stable_cumsum
        warnings.simplefilter("ignore", FutureWarning)
        pairs = [
            (uplift_curve(y, t, s), sm.uplift_curve(y, s, t)),
            (qini_curve(y, t, s), sm.qini_curve(y, s, t)),
            (perfect_uplift_curve(y, t), sm.perfect_uplift_curve(y, t)),
            (perfect_qini_curve(y, t), sm.perfect_qini_curve(y, t)),
            (perfect_qini_curve(y, t, False), sm.perfect_qini_curve(y, t, False)),
        ]
        for (x, v), (xr, vr) in pairs:
            np.testing.assert_allclose(x, xr, rtol=0, atol=1e-9)
            np.testing.assert_allclose(v, vr, rtol=0, atol=1e-9)
        assert auuc(y, t, s) == pytest.approx(sm.uplift_auc_score(y, s, t), abs=1e-9)
        assert qini_coefficient(y, t, s) == pytest.approx(sm.qini_auc_score(y, s, t), abs=1e-9)
        if perfect_qini_curve(y, t, False)[1][-1] > 0:  # sklearn's auc refuses otherwise
            assert qini_coefficient(y, t, s, negative_effect=False) == pytest.approx(
                sm.qini_auc_score(y, s, t, negative_effect=False), abs=1e-9
            )
        for k in (0.1, 0.3, 0.5, 40):
            for strategy in ("overall", "by_group"):
                ours = uplift_at_k(y, t, s, k=k, strategy=strategy)
                ref = sm.uplift_at_k(y, s, t, strategy=strategy, k=k)
                assert ours == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize("case", ["no_ties", "ties"])
def test_equal_stored_sklift_numbers(case: str) -> None:
    """Stored scikit-uplift 0.5.1 numbers (tests/uplift/data/make_sklift_reference.py)."""
    ref = json.loads((DATA / "sklift_reference.json").read_text())[case]
    y, t, s = (np.array(ref[k]) for k in ("y", "treatment", "score"))
    for name, (x, v) in {
        "uplift_curve": uplift_curve(y, t, s),
        "qini_curve": qini_curve(y, t, s),
        "perfect_uplift_curve": perfect_uplift_curve(y, t),
        "perfect_qini_curve": perfect_qini_curve(y, t),
    }.items():
        np.testing.assert_allclose(x, ref[name]["x"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(v, ref[name]["y"], rtol=0, atol=1e-9)
    assert auuc(y, t, s) == pytest.approx(ref["uplift_auc_score"], abs=1e-9)
    assert qini_coefficient(y, t, s) == pytest.approx(ref["qini_auc_score"], abs=1e-9)
    for key, value in ref["uplift_at_k"].items():
        strategy, k = key.split(":")
        kk = float(k) if "." in k else int(k)
        assert uplift_at_k(y, t, s, k=kk, strategy=strategy) == pytest.approx(value, abs=1e-9)


def test_invariances() -> None:
    """Areas depend on the ranking only; row order does not matter (no ties)."""
    y, t, s = _rct(8)
    base = (auuc(y, t, s), qini_coefficient(y, t, s), uplift_at_k(y, t, s, k=0.2))
    monotone = np.exp(s) * 3 - 1
    assert (
        auuc(y, t, monotone),
        qini_coefficient(y, t, monotone),
        uplift_at_k(y, t, monotone, k=0.2),
    ) == pytest.approx(base, abs=1e-12)
    perm = np.random.default_rng(0).permutation(y.size)
    assert (
        auuc(y[perm], t[perm], s[perm]),
        qini_coefficient(y[perm], t[perm], s[perm]),
        uplift_at_k(y[perm], t[perm], s[perm], k=0.2),
    ) == pytest.approx(base, abs=1e-12)
    # a shift of a continuous outcome leaves the uplift curve unchanged
    yc = y + np.random.default_rng(1).normal(size=y.size)
    _, g = uplift_curve(yc, t, s)
    _, g_shift = uplift_curve(yc + 100.0, t, s)
    both = np.r_[False, (np.cumsum(t[np.argsort(-s)]) > 0) & (np.cumsum(1 - t[np.argsort(-s)]) > 0)]
    np.testing.assert_allclose(g[both], g_shift[both], atol=1e-8)


@pytest.mark.parametrize("case", ["binary", "continuous"])
def test_causalml_definitions_equal_causalml(case: str) -> None:
    """Stored CausalML 0.15.5 numbers (tests/uplift/data/make_causalml_reference.py)."""
    ref = json.loads((DATA / "causalml_reference.json").read_text())[case]
    y, t, s = (np.array(ref[k]) for k in ("y", "treatment", "score"))
    for norm, key in ((True, "normalized"), (False, "raw")):
        got = auuc(y, t, s, definition="causalml", normalize=norm)
        assert got == pytest.approx(ref[f"auuc_{key}"], abs=1e-9)
        got = qini_coefficient(y, t, s, definition="causalml", normalize=norm)
        assert got == pytest.approx(ref[f"qini_{key}"], abs=1e-9)
    np.testing.assert_allclose(
        uplift_curve(y, t, s, definition="causalml")[1], ref["cumgain"], atol=1e-9
    )
    np.testing.assert_allclose(
        qini_curve(y, t, s, definition="causalml")[1], ref["qini_curve"], atol=1e-9
    )


def test_definitions_coincide_where_both_arms_present() -> None:
    y, t, s = _rct(5)
    for fn in (uplift_curve, qini_curve):
        x1, v1 = fn(y, t, s)
        x2, v2 = fn(y, t, s, definition="causalml")
        np.testing.assert_array_equal(x1, x2)  # no ties: one point per unit in both
        k = np.arange(x1.size)
        n_t = np.r_[0, np.cumsum(t[np.argsort(-s)])]
        both = (n_t > 0) & (k - n_t > 0)
        np.testing.assert_allclose(v1[both], v2[both], atol=1e-9)


def test_curve_by_hand_with_continuous_outcome() -> None:
    rng = np.random.default_rng(3)
    n = 50
    t = rng.integers(0, 2, n)
    y = rng.normal(size=n)
    s = rng.normal(size=n)
    x, g = uplift_curve(y, t, s)
    _, q = qini_curve(y, t, s)
    order = np.argsort(-s)
    for k in (10, 25, 50):
        top = order[:k]
        y1, y0 = y[top][t[top] == 1], y[top][t[top] == 0]
        assert x[k] == k
        assert g[k] == pytest.approx((y1.mean() - y0.mean()) * k, abs=1e-12)
        assert q[k] == pytest.approx(y1.sum() - y0.sum() * y1.size / y0.size, abs=1e-12)


def test_perfect_score_gives_auuc_one_and_random_order_near_zero() -> None:
    y, t, _ = _rct(4, n=2000)
    tiebreak = y if np.sum((y == 1) & (t == 0)) > np.sum((y == 0) & (t == 1)) else t
    assert auuc(y, t, 2.0 * (y == t) + tiebreak) == pytest.approx(1.0, abs=1e-12)
    assert qini_coefficient(y, t, y * t - y * (1 - t)) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    assert abs(qini_coefficient(y, t, rng.normal(size=y.size))) < 0.2


def _confounded(seed: int, n: int = 4000):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-x))
    t = (rng.uniform(size=n) < e).astype(int)
    tau = 1 + x
    mu0 = 2 * x
    y = mu0 + t * tau + rng.normal(size=n)
    return x, t, y, e, mu0, mu0 + tau, tau


def test_dr_curve_tracks_the_true_gain() -> None:
    x, t, y, e, mu0, mu1, tau = _confounded(0)
    _, g = uplift_curve(y, t, x, propensity=e, mu0=mu0, mu1=mu1)
    gamma = dr_scores(y, t, e, mu0, mu1)
    order = np.argsort(-x)
    for k in (1000, 2000, 4000):
        top = order[:k]
        se = gamma[top].std(ddof=1) * np.sqrt(k)
        assert abs(g[k] - tau[top].sum()) < 3 * se
    # arm differences are confounded here: their end point is far from the truth
    _, g_arm = uplift_curve(y, t, x)
    assert abs(g_arm[-1] - tau.sum()) > 10 * gamma.std() * np.sqrt(x.size)
    # Qini = N_T(k) / k * G(k)
    _, q = qini_curve(y, t, x, propensity=e, mu0=mu0, mu1=mu1)
    n_t = np.cumsum(t[order])
    np.testing.assert_allclose(q[1:], n_t / np.arange(1, x.size + 1) * g[1:], atol=1e-9)
    # the DR perfect curve ranks by the scores: normalised area at most 1
    assert 0 < auuc(y, t, x, propensity=e, mu0=mu0, mu1=mu1) < 1


def test_uplift_by_bin_welch_interval_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    n = 400
    t = rng.integers(0, 2, n)
    y = rng.normal(size=n) * (1 + t) + t
    s = rng.normal(size=n)
    table = uplift_by_bin(y, t, s, bins=4, level=0.9)
    order = np.argsort(s, kind="mergesort")[::-1]
    for row, idx in zip(table.itertuples(), np.array_split(order, 4), strict=True):
        y1, y0 = y[idx][t[idx] == 1], y[idx][t[idx] == 0]
        res = stats.ttest_ind(y1, y0, equal_var=False)
        ci = res.confidence_interval(0.9)
        assert row.uplift == pytest.approx(y1.mean() - y0.mean(), abs=1e-12)
        assert row.ci_lower == pytest.approx(ci.low, abs=1e-8)
        assert row.ci_upper == pytest.approx(ci.high, abs=1e-8)
        assert row.n_treated == y1.size and row.n_control == y0.size
        assert row.treated_share == pytest.approx(y1.size / idx.size)
    assert table["n"].sum() == n


def test_uplift_by_bin_doubly_robust() -> None:
    x, t, y, e, mu0, mu1, tau = _confounded(1)
    table = uplift_by_bin(y, t, x, bins=5, propensity=e, mu0=mu0, mu1=mu1)
    order = np.argsort(x, kind="mergesort")[::-1]
    gamma = dr_scores(y, t, e, mu0, mu1)
    for row, idx in zip(table.itertuples(), np.array_split(order, 5), strict=True):
        assert row.uplift == pytest.approx(gamma[idx].mean(), abs=1e-12)
        assert row.ci_lower == pytest.approx(
            gamma[idx].mean() - 1.959963984540054 * gamma[idx].std(ddof=1) / np.sqrt(idx.size)
        )
        assert abs(row.uplift - tau[idx].mean()) < 3 * row.std_error


def test_plots_draw() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from paribus.uplift.evaluation import plot_uplift_by_bin, plot_uplift_curve

    y, t, s = _rct(0)
    ax = plot_uplift_curve(y, t, s, kind="uplift")
    assert len(ax.lines) == 3  # model, random, perfect
    ax = plot_uplift_curve(y, t, s, kind="qini")
    ax = plot_uplift_by_bin(uplift_by_bin(y, t, s))
    assert len(ax.patches) == 10
    plt.close("all")


def test_refusals() -> None:
    y, t, s = _rct(0, n=50)
    with pytest.raises(DataError, match="coded 0"):
        uplift_curve(y, t + 1, s)
    with pytest.raises(DataError, match="only the value"):
        qini_curve(y, np.ones(50), s)
    with pytest.raises(DataError, match="has 49 values"):
        uplift_curve(y, t, s[:-1])
    with pytest.raises(DataError, match="missing or infinite"):
        uplift_curve(np.r_[np.nan, y[1:]], t, s)
    with pytest.raises(ParameterError, match="definition="):
        auuc(y, t, s, definition="econml")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="binary 0/1 outcome"):
        auuc(y + 0.5, t, s)
    assert np.isfinite(auuc(y + 0.5, t, s, normalize=False))
    with pytest.raises(ParameterError, match=r"k=1\.5"):
        uplift_at_k(y, t, s, k=1.5)
    with pytest.raises(ParameterError, match="k=True"):
        uplift_at_k(y, t, s, k=True)
    with pytest.raises(ParameterError, match="strategy="):
        uplift_at_k(y, t, s, strategy="top")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="an arm is empty"):
        uplift_at_k(y, np.r_[np.ones(25), np.zeros(25)], np.arange(50.0)[::-1], k=10)
    with pytest.raises(ParameterError, match="both mu0 and mu1"):
        uplift_curve(y, t, s, propensity=0.5, mu0=np.zeros(50))
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        uplift_curve(y, t, s, propensity=np.r_[1.0, np.full(49, 0.5)])
    with pytest.raises(ParameterError, match="definition='sklift' only"):
        qini_curve(y, t, s, propensity=0.5, definition="causalml")
    with pytest.raises(ParameterError, match="negative_effect"):
        perfect_qini_curve(y, t, negative_effect=1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="bins=0"):
        uplift_by_bin(y, t, s, bins=0)
    with pytest.raises(ParameterError, match="only together with propensity"):
        uplift_by_bin(y, t, s, mu0=np.zeros(50), mu1=np.zeros(50))

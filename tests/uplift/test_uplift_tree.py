"""UpliftTree: the numba split gain against a slow numpy reference, brute-force splits,
invariances and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.uplift._uplift_tree import split_gain
from paribus.uplift.forest import UpliftTree

CRITERIA = ["kl", "ed", "chi", "ddp"]


# ---------------------------------------------------------------- slow reference
def _clip(q: float) -> float:
    return min(max(q, 1e-6), 1 - 1e-6)


def _div(P: np.ndarray, Q: np.ndarray, criterion: str) -> float:
    """Divergence of two discrete distributions (Rzepakowski & Jaroszewicz 2012, Sec. 3)."""
    if criterion == "kl":
        keep = P > 0
        return float(np.sum(P[keep] * np.log2(P[keep] / Q[keep])))
    if criterion == "ed":
        return float(np.sum((P - Q) ** 2))
    return float(np.sum((P - Q) ** 2 / Q))


def _bernoulli_div(p: float, q: float, criterion: str) -> float:
    q = _clip(q)
    return _div(np.array([p, 1 - p]), np.array([q, 1 - q]), criterion)


def _penalty(share: float, criterion: str) -> float:
    P = np.array([share, 1 - share])
    if criterion == "kl":
        keep = P > 0
        return float(-np.sum(P[keep] * np.log2(P[keep])))
    return float(1 - np.sum(P**2))


def _node_div(v: np.ndarray, criterion: str, binary: bool) -> float:
    if binary:
        terms = [_bernoulli_div(v[k], v[0], criterion) for k in range(1, v.size)]
    else:
        terms = [(v[k] - v[0]) ** 2 for k in range(1, v.size)]
    return float(np.mean(terms))


def reference_gain(
    n_left, s_left, n_node, s_node, v_node, criterion, normalize=True, n_reg=100.0, binary=True
) -> float:
    nL, sL = np.asarray(n_left, float), np.asarray(s_left, float)
    n, s, v = np.asarray(n_node, float), np.asarray(s_node, float), np.asarray(v_node, float)
    nR, sR = n - nL, s - sL
    vL = (sL + n_reg * v) / (nL + n_reg)
    vR = (sR + n_reg * v) / (nR + n_reg)
    if criterion == "ddp":
        return abs((vL[1] - vL[0]) - (vR[1] - vR[0]))
    N = n.sum()
    gain = (
        nL.sum() / N * _node_div(vL, criterion, binary)
        + nR.sum() / N * _node_div(vR, criterion, binary)
        - _node_div(v, criterion, binary)
    )
    if not normalize:
        return gain
    NT, NC = n[1:].sum(), n[0]
    share_t, share_c = nL[1:].sum() / NT, nL[0] / NC
    norm = (
        _penalty(NT / N, criterion) * _bernoulli_div(share_t, share_c, criterion)
        + sum(n[k] / N * _penalty(nL[k] / n[k], criterion) for k in range(1, n.size))
        + NC / N * _penalty(share_c, criterion)
        + 0.5
    )
    return gain / norm


def _random_split(rng: np.random.Generator, arms: int, binary: bool):
    n = rng.integers(20, 200, arms).astype(float)
    n_left = np.array([rng.integers(1, k) for k in n.astype(int)], dtype=float)
    if binary:
        s = np.array([rng.integers(0, k + 1) for k in n.astype(int)], dtype=float)
        s_left = np.array(
            [
                rng.integers(max(0, sk - (nk - lk)), min(sk, lk) + 1)
                for sk, nk, lk in zip(s, n, n_left, strict=True)
            ],
            dtype=float,
        )
        v = np.clip(s / n + rng.normal(0, 0.05, arms), 0.01, 0.99)
    else:
        s = rng.normal(0, 5, arms) * n
        s_left = s * n_left / n + rng.normal(0, 3, arms)
        v = s / n + rng.normal(0, 0.1, arms)
    return n_left, s_left, n, s, v


@pytest.mark.parametrize(
    ("criterion", "arms"), [(c, a) for c in CRITERIA for a in (2, 4) if c != "ddp" or a == 2]
)
@pytest.mark.parametrize("normalize", [True, False])
def test_gain_matches_numpy_reference(criterion, arms, normalize):
    rng = np.random.default_rng(arms * 10 + len(criterion))
    for binary in (True, False):
        if not binary and criterion in ("kl", "chi"):
            continue
        for n_reg in (0.0, 10.0, 100.0):
            args = _random_split(rng, arms, binary)
            fast = split_gain(*args, criterion, normalize=normalize, n_reg=n_reg, binary=binary)
            slow = reference_gain(*args, criterion, normalize, n_reg, binary)
            assert fast == pytest.approx(slow, rel=1e-12, abs=1e-12)


def test_gain_of_pure_and_extreme_nodes_is_finite():
    # a control arm with no responders: q is clipped, the gain stays finite
    args = (np.array([30.0, 20.0]), np.array([0.0, 5.0]), np.array([60.0, 60.0]),
            np.array([0.0, 30.0]), np.array([0.0, 0.5]))  # fmt: skip
    for criterion in CRITERIA:
        fast = split_gain(*args, criterion, n_reg=0.0)
        assert np.isfinite(fast)
        assert fast == pytest.approx(reference_gain(*args, criterion, n_reg=0.0), rel=1e-12)


# ---------------------------------------------------------------- brute force
def _tiny(seed: int, n: int = 90, arms: int = 2, binary: bool = True):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, 3)), 2)
    t = rng.integers(0, arms, n)
    lift = 0.4 * (X[:, 1] > 0.3) * (t > 0)
    if binary:
        y = (rng.random(n) < 0.3 + lift).astype(float)
    else:
        y = X[:, 0] + 2 * lift + rng.normal(size=n)
    return X, y, t


def _brute_force(X, y, t, criterion, min_leaf, min_treat, n_reg, normalize, binary):
    arms = np.unique(t).size
    n = np.bincount(t, minlength=arms).astype(float)
    s = np.bincount(t, weights=y, minlength=arms)
    v = s / n
    best = (-np.inf, -1, np.nan)
    for f in range(X.shape[1]):
        values = np.unique(X[:, f])
        for cut in (values[:-1] + values[1:]) / 2:
            left = X[:, f] <= cut
            nL = np.bincount(t[left], minlength=arms).astype(float)
            sL = np.bincount(t[left], weights=y[left], minlength=arms)
            if left.sum() < min_leaf or (~left).sum() < min_leaf:
                continue
            if nL.min() < min_treat or (n - nL).min() < min_treat:
                continue
            g = reference_gain(nL, sL, n, s, v, criterion, normalize, n_reg, binary)
            if g > best[0]:
                best = (g, f, cut)
    return best


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("seed", [0, 1])
def test_root_split_is_the_brute_force_best(criterion, seed):
    X, y, t = _tiny(seed)
    kw = {"min_samples_leaf": 10, "min_samples_treatment": 3, "n_reg": 5.0, "normalize": True}
    tree = UpliftTree(criterion=criterion, max_depth=1, **kw).fit(X, y, t)
    gain, f, cut = _brute_force(X, y, t, criterion, 10, 3, 5.0, True, True)
    assert tree.tree_.feature[0] == f
    assert tree.bin_edges_[f, tree.tree_.threshold[0]] == pytest.approx(cut, abs=1e-12)
    assert tree.tree_.gain[0] == pytest.approx(gain, rel=1e-12)


@pytest.mark.parametrize("criterion", ["kl", "ed"])
def test_root_split_brute_force_three_arms_and_continuous(criterion):
    X, y, t = _tiny(3, n=150, arms=3)
    tree = UpliftTree(criterion=criterion, max_depth=1, min_samples_leaf=10,
                      min_samples_treatment=3, n_reg=0).fit(X, y, t)  # fmt: skip
    gain, f, cut = _brute_force(X, y, t, criterion, 10, 3, 0.0, True, True)
    assert (tree.tree_.feature[0], tree.tree_.gain[0]) == (f, pytest.approx(gain, rel=1e-12))
    Xc, yc, tc = _tiny(4, n=120, binary=False)
    tree = UpliftTree(criterion="ed", max_depth=1, min_samples_leaf=10,
                      min_samples_treatment=3, n_reg=2).fit(Xc, yc, tc)  # fmt: skip
    gain, f, cut = _brute_force(Xc, yc, tc, "ed", 10, 3, 2.0, True, False)
    assert tree.outcome_type_ == "continuous"
    assert tree.tree_.feature[0] == f
    assert tree.bin_edges_[f, tree.tree_.threshold[0]] == pytest.approx(cut, abs=1e-12)
    assert tree.tree_.gain[0] == pytest.approx(gain, rel=1e-12)


@pytest.mark.parametrize("m", [1, 3, 9])
def test_quantile_thresholds_are_the_brute_force_best_among_node_quantiles(m):
    """``n_thresholds=m``: only the first cut whose left share reaches k / (m + 1)."""
    X, y, t = _tiny(12, n=200)
    kw = {"min_samples_leaf": 5, "min_samples_treatment": 2, "n_reg": 3.0}
    tree = UpliftTree(max_depth=1, n_thresholds=m, **kw).fit(X, y, t)
    n = np.bincount(t).astype(float)
    s = np.bincount(t, weights=y)
    best = (-np.inf, -1, np.nan)
    for f in range(X.shape[1]):
        values = np.unique(X[:, f])
        cuts = (values[:-1] + values[1:]) / 2
        shares = np.array([np.mean(X[:, f] <= c) for c in cuts])
        chosen = sorted({int(np.argmax(shares >= k / (m + 1))) for k in range(1, m + 1)
                         if (shares >= k / (m + 1)).any()})  # fmt: skip
        for cut in cuts[chosen]:
            left = X[:, f] <= cut
            nL = np.bincount(t[left], minlength=2).astype(float)
            sL = np.bincount(t[left], weights=y[left], minlength=2)
            if min(left.sum(), (~left).sum()) < 5 or min(nL.min(), (n - nL).min()) < 2:
                continue
            g = reference_gain(nL, sL, n, s, s / n, "kl", True, 3.0, True)
            if g > best[0]:
                best = (g, f, cut)
    assert tree.tree_.feature[0] == best[1]
    assert tree.bin_edges_[best[1], tree.tree_.threshold[0]] == pytest.approx(best[2])
    assert tree.tree_.gain[0] == pytest.approx(best[0], rel=1e-12)


def test_predictions_are_the_shrunk_leaf_rates():
    """Route rows by the real-valued thresholds by hand; leaf rates shrink to the parent."""
    X, y, t = _tiny(5, n=400)
    n_reg = 7.0
    tree = UpliftTree(max_depth=2, min_samples_leaf=20, min_samples_treatment=5,
                      n_reg=n_reg).fit(X, y, t)  # fmt: skip
    tr = tree.tree_
    assert tr.left[0] >= 0, "the root should split"
    expected = np.empty(X.shape[0])
    for i in range(X.shape[0]):
        node, v = 0, None
        rows = np.ones(X.shape[0], bool)
        while True:
            n = np.bincount(t[rows], minlength=2)
            s = np.bincount(t[rows], weights=y[rows], minlength=2)
            v = s / n if v is None else (s + n_reg * v) / (n + n_reg)
            if tr.left[node] < 0:
                break
            f, cut = tr.feature[node], tree.bin_edges_[tr.feature[node], tr.threshold[node]]
            go_left = X[i, f] <= cut
            rows &= (X[:, f] <= cut) == go_left
            node = tr.left[node] if go_left else tr.right[node]
        expected[i] = v[1] - v[0]
    np.testing.assert_allclose(tree.predict(X), expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- invariances
def test_row_permutation_and_monotone_feature_transform_leave_predictions_unchanged():
    X, y, t = _tiny(6, n=300)
    kw = {"max_depth": 3, "min_samples_leaf": 20, "min_samples_treatment": 5}
    base = UpliftTree(**kw).fit(X, y, t).predict(X)
    perm = np.random.default_rng(0).permutation(X.shape[0])
    permuted = UpliftTree(**kw).fit(X[perm], y[perm], t[perm]).predict(X)
    np.testing.assert_array_equal(base, permuted)
    Z = np.exp(X)  # exact bins (few distinct values): the same partitions
    np.testing.assert_array_equal(base, UpliftTree(**kw).fit(Z, y, t).predict(Z))


def test_translating_a_continuous_outcome_leaves_uplift_unchanged():
    X, y, t = _tiny(7, n=300, binary=False)
    kw = {"criterion": "ed", "max_depth": 3, "min_samples_leaf": 20, "min_samples_treatment": 5}
    a = UpliftTree(**kw).fit(X, y, t).predict(X)
    b = UpliftTree(**kw).fit(X, y + 100.0, t).predict(X)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_treatment_labels_and_control():
    X, y, t = _tiny(8, n=300)
    kw = {"max_depth": 2, "min_samples_leaf": 20, "min_samples_treatment": 5}
    a = UpliftTree(**kw).fit(X, y, t).predict(X)
    labels = np.where(t == 1, "mail", "none")
    m = UpliftTree(control="none", **kw).fit(X, y, labels)
    np.testing.assert_array_equal(a, m.predict(X))
    table = m.predict_table(X)
    assert list(table.columns) == ["mail vs none"]
    np.testing.assert_array_equal(table.iloc[:, 0].to_numpy(), a)


def test_honest_tree_estimates_leaves_on_other_rows():
    X, y, t = _tiny(9, n=2000)
    kw = {"max_depth": 3, "min_samples_leaf": 50, "min_samples_treatment": 10, "random_state": 1}
    adaptive = UpliftTree(**kw).fit(X, y, t)
    honest = UpliftTree(honest=True, **kw).fit(X, y, t)
    assert honest.tree_.n_node[0] == 1000  # split on half of the rows
    assert not np.allclose(honest.predict(X), adaptive.predict(X))
    np.testing.assert_array_equal(
        honest.predict(X), UpliftTree(honest=True, **kw).fit(X, y, t).predict(X)
    )


def test_simulation_finds_the_effect_modifier():
    rng = np.random.default_rng(11)
    n = 20_000
    X = rng.normal(size=(n, 4))
    t = rng.integers(0, 2, n)
    tau = np.where(X[:, 2] > 0, 0.2, 0.0)
    y = (rng.random(n) < 0.2 + t * tau).astype(float)
    tree = UpliftTree(max_depth=2, random_state=0).fit(X, y, t)
    assert np.argmax(tree.feature_importances_) == 2
    assert tree.feature_importances_.sum() == pytest.approx(1.0)
    pred = tree.predict(X)
    # leaf uplifts vs the truth, within 3 standard errors of a difference of proportions
    for side in (X[:, 2] > 0.1, X[:, 2] < -0.1):
        se = np.sqrt(0.4 * 0.6 / (side.sum() / 2) + 0.2 * 0.8 / (side.sum() / 2))
        assert abs(pred[side].mean() - tau[side].mean()) < 3 * se


# ---------------------------------------------------------------- refusals
def test_refusals():
    X, y, t = _tiny(10, n=200)
    with pytest.raises(ParameterError, match="criterion='gini' is invalid"):
        UpliftTree(criterion="gini").fit(X, y, t)
    with pytest.raises(ParameterError, match="max_depth=0 is invalid"):
        UpliftTree(max_depth=0).fit(X, y, t)
    with pytest.raises(ParameterError, match="needs a binary"):
        UpliftTree(criterion="kl").fit(X, y + 0.5, t)
    with pytest.raises(ParameterError, match="'ddp' compares one treatment"):
        UpliftTree(criterion="ddp", min_samples_treatment=2).fit(X, y, np.arange(200) % 3)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(DataError, match=r"missing or infinite values in columns \[1\]"):
        UpliftTree().fit(Xn, y, t)
    with pytest.raises(DataError, match="control level 'c'"):
        UpliftTree(control="c").fit(X, y, t)
    with pytest.raises(DataError, match="2 \\* min_samples_treatment"):
        UpliftTree(min_samples_treatment=200).fit(X, y, t)
    with pytest.raises(DataError, match="y has 5"):
        UpliftTree().fit(X, y[:5], t)
    with pytest.raises(NotFittedError, match="not fitted"):
        UpliftTree().predict(X)
    tree = UpliftTree(min_samples_leaf=10).fit(X, y, t)
    with pytest.raises(DataError, match="X has 2 columns but the model was fitted on 3"):
        tree.predict(X[:, :2])
    with pytest.raises(ParameterError, match="treatment=5 is not a treated level"):
        tree.predict(X, treatment=5)


def test_bins_are_numpy_quantiles_and_searchsorted_codes():
    from paribus.uplift._uplift_tree import bin_columns
    from paribus.uplift.forest import bin_edges

    rng = np.random.default_rng(0)
    X = np.c_[
        rng.normal(size=(5000, 2)), rng.integers(0, 5, (5000, 1)), rng.exponential(size=5000) ** 3
    ]
    edges, n_edges = bin_edges(X, 32, seed=0)
    assert edges.shape == (4, 31)
    for f in range(X.shape[1]):
        values = np.unique(X[:, f])
        if values.size <= 32:
            expected = (values[:-1] + values[1:]) / 2
        else:
            expected = np.unique(np.quantile(X[:, f], np.arange(1, 32) / 32))
        np.testing.assert_allclose(edges[f, : n_edges[f]], expected, rtol=0, atol=1e-12)
        codes = np.searchsorted(edges[f, : n_edges[f]], X[:, f], side="left")
        np.testing.assert_array_equal(bin_columns(X, edges)[:, f], codes)


def test_to_text_shows_the_splits():
    X, y, t = _tiny(13, n=400)
    tree = UpliftTree(max_depth=1, min_samples_leaf=20, min_samples_treatment=5).fit(X, y, t)
    f = tree.tree_.feature[0]
    cut = tree.bin_edges_[f, tree.tree_.threshold[0]]
    text = tree.to_text()
    assert text.splitlines()[0] == f"if X[{f}] <= {cut:.3g}:"
    assert text.count("uplift [") == tree.n_leaves_ == 2

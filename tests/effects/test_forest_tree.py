"""The compiled honest tree against a slow, obvious numpy reference.

The reference grows the same tree from the same splitting and estimation rows: at
every node it sorts the node's rows by each candidate feature (ties by row id, as the
compiled tree's stable presort does), evaluates the criterion of every admissible cut
with cumulative sums, and takes the first maximum. Candidate features come from the
same seeded draws (``draw_features``), so the two trees must agree exactly: same
split features, same thresholds (data values), same children and same leaf rows.
"""

from __future__ import annotations

import numpy as np
import pytest

from paribus.effects.forest._tree import (
    RULE_CAUSAL,
    RULE_REGRESSION,
    draw_features,
    find_leaf,
    grow_tree,
)


def _total(v: np.ndarray) -> float:
    """Sequential sum (the compiled loops add in order; np.sum is pairwise)."""
    return float(np.cumsum(v)[-1])


def _relabel(ids, y, z, w):
    sw = _total(w[ids])
    sy = _total(w[ids] * y[ids])
    sz = _total(w[ids] * z[ids])
    ybar, zbar = sy / sw, sz / sw
    dz = z[ids] - zbar
    szz = _total(w[ids] * dz * dz)
    szy = _total(w[ids] * dz * (y[ids] - ybar))
    if not szz > 0:
        return None
    tau = szy / szz
    var = szz / sw
    return dz * (y[ids] - ybar - tau * dz) / var, zbar, szz


def _scan(row, x, r, w, z, rule, min_child, min_side, zbar, min_size, penalty, tol, totals):
    """Best admissible cut of one sorted feature: (criterion, last left position).

    ``totals`` are the node's sums (w, w r, w dz, w dz^2, #dz<0), taken in the order
    of feature 0 as the compiled tree does.
    """
    m = row.size
    wr_, rr_ = w[row], w[row] * r[row]
    tw, tr, tz, tzz, tlow = totals
    cw, cr = np.cumsum(wr_)[:-1], np.cumsum(rr_)[:-1]
    nl = np.arange(1, m)
    nr = m - nl
    wr = tw - cw
    valid = (x[row][1:] != x[row][:-1]) & (cw > 0) & (wr > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = tr - cr
        dec = cr * cr / cw + rr * rr / wr
        if rule == RULE_CAUSAL:
            dz = z[row] - zbar
            cz, czz = np.cumsum(w[row] * dz)[:-1], np.cumsum(w[row] * dz * dz)[:-1]
            low = dz < 0
            clow = np.cumsum(low)[:-1]
            size_l = czz - cz * cz / cw
            size_r = (tzz - czz) - (tz - cz) * (tz - cz) / wr
            valid &= (size_l >= min_size) & (size_r >= min_size)
            rlow = tlow - clow
            valid &= (clow >= min_side) & (nl - clow >= min_side)
            valid &= (rlow >= min_side) & (nr - rlow >= min_side)
            if penalty > 0:
                valid &= (size_l > 0) & (size_r > 0)
                dec = dec - penalty * (1.0 / size_l + 1.0 / size_r)
        else:
            valid &= (nl >= min_child) & (nr >= min_child)
            dec = dec - penalty * (1.0 / nl + 1.0 / nr)
    best, pos = -np.inf, -1
    for k in np.flatnonzero(valid):  # a cut must beat the incumbent by more than tol
        if dec[k] > best + tol:
            best, pos = dec[k], k
    return best, pos


def reference_tree(X, grow, est, y, z, w, rule, mtry, min_node_size, alpha, penalty, prune, seed):
    """The slow tree: same contract as the compiled ``grow_tree``."""
    p = X.shape[1]
    state = np.array([np.uint64(seed)], dtype=np.uint64)
    feature, threshold, left, right = [-1], [0.0], [-1], [-1]
    members = [np.sort(np.asarray(grow))]
    r = y.copy()
    stack = [0]
    while stack:
        node = stack.pop()
        ids = members[node]
        m = ids.size
        if m <= min_node_size:
            continue

        def by(j, ids=ids):
            return ids[np.lexsort((ids, X[ids, j]))]

        zbar = min_size = 0.0
        if rule == RULE_CAUSAL:
            out = _relabel(by(0), y, z, w)
            if out is None:
                continue
            rho, zbar, size = out
            r[by(0)] = rho
            min_size = alpha * size
        else:
            row0 = by(0)
            ybar = _total(w[row0] * y[row0]) / _total(w[row0])
            r[row0] = y[row0] - ybar
        row0 = by(0)
        sw, sr = _total(w[row0]), _total(w[row0] * r[row0])
        ss = _total(w[row0] * r[row0] * r[row0])
        parent = sr * sr / sw
        tol = 1e-10 * ss
        totals = (sw, sr, 0.0, 0.0, 0)
        if rule == RULE_CAUSAL:
            dz0 = z[row0] - zbar
            totals = (
                sw,
                sr,
                _total(w[row0] * dz0),
                _total(w[row0] * dz0 * dz0),
                int((dz0 < 0).sum()),
            )
        min_child = max(int(np.ceil(alpha * m)), 1)
        best, best_var, best_pos, best_row = -np.inf, -1, -1, None
        for j in draw_features(state, p, mtry):
            row = by(j)
            dec, pos = _scan(
                row,
                X[:, j],
                r,
                w,
                z,
                rule,
                min_child,
                min_node_size,
                zbar,
                min_size,
                penalty,
                tol,
                totals,
            )
            if pos >= 0 and dec > best + tol:
                best, best_var, best_pos, best_row = dec, int(j), pos, row
        if best_var < 0 or not best > parent + tol:
            continue
        lo, hi = len(feature), len(feature) + 1
        feature[node], threshold[node] = best_var, X[best_row[best_pos], best_var]
        left[node], right[node] = lo, hi
        for _ in range(2):
            feature.append(-1)
            threshold.append(0.0)
            left.append(-1)
            right.append(-1)
        members += [best_row[: best_pos + 1], best_row[best_pos + 1 :]]
        stack += [hi, lo]
    f, t = np.array(feature), np.array(threshold)
    lf, rt = np.array(left), np.array(right)

    def leaves():
        out = [[] for _ in f]
        for i in est:
            out[find_leaf(X[i], f, t, lf, rt)].append(int(i))
        return out

    rows = leaves()
    if prune:
        count = np.array([len(v) for v in rows])
        for node in range(len(f) - 1, -1, -1):
            if f[node] < 0:
                continue
            a, b = lf[node], rt[node]
            keep = b if count[a] == 0 else a if count[b] == 0 else -1
            if keep >= 0:
                f[node], t[node], lf[node], rt[node] = f[keep], t[keep], lf[keep], rt[keep]
            count[node] = count[a] + count[b]
        rows = leaves()
    return f, t, lf, rt, rows


def _compiled_rows(tree):
    f, _, _, _, start, end, samples = tree
    return [sorted(samples[start[k] : end[k]].tolist()) for k in range(f.size)]


def _problem(seed, n=300, p=5, ties=False, weights=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if ties:
        X = np.round(X * 2) / 2  # a few distinct values per feature
    w_true = rng.binomial(1, 0.4, n).astype(float)
    y = X[:, 0] + 0.8 * w_true * (X[:, 1] > 0) + rng.normal(size=n)
    z = w_true - w_true.mean()
    w = rng.uniform(0.5, 2.0, n) if weights else np.ones(n)
    order = np.argsort(X, axis=0, kind="stable").T.astype(np.int32).copy()
    perm = rng.permutation(n)
    grow, est = np.sort(perm[: n // 3]), np.sort(perm[n // 3 : 2 * n // 3])
    return X, order, grow.astype(np.int64), est.astype(np.int64), y, z, w


CASES = [
    dict(rule=RULE_REGRESSION, mtry=5, min_node_size=5, alpha=0.05, penalty=0.0, prune=True),
    dict(rule=RULE_REGRESSION, mtry=2, min_node_size=3, alpha=0.1, penalty=0.5, prune=False),
    dict(rule=RULE_REGRESSION, mtry=3, min_node_size=1, alpha=0.0, penalty=0.0, prune=True),
    dict(rule=RULE_CAUSAL, mtry=5, min_node_size=5, alpha=0.05, penalty=0.0, prune=True),
    dict(rule=RULE_CAUSAL, mtry=2, min_node_size=2, alpha=0.05, penalty=1.0, prune=False),
    dict(rule=RULE_CAUSAL, mtry=4, min_node_size=4, alpha=0.15, penalty=0.0, prune=True),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_compiled_tree_equals_reference(case, ties, weights):
    X, order, grow, est, y, z, w = _problem(7, ties=ties, weights=weights)
    args = (case["rule"], case["mtry"], case["min_node_size"], case["alpha"], case["penalty"])
    tree = grow_tree(X, order, grow, est, y, z, w, *args, case["prune"], 12345)
    f, t, lf, rt, rows = reference_tree(X, grow, est, y, z, w, *args, case["prune"], 12345)
    assert (tree[0] >= 0).sum() >= 3  # a real tree, not a stump
    np.testing.assert_array_equal(tree[0], f)
    np.testing.assert_array_equal(tree[1], t)
    np.testing.assert_array_equal(tree[2], lf)
    np.testing.assert_array_equal(tree[3], rt)
    assert _compiled_rows(tree) == [sorted(v) for v in rows]


def test_pruned_tree_has_no_empty_reachable_leaf():
    X, order, grow, est, y, z, w = _problem(3)
    tree = grow_tree(X, order, grow, est[:20], y, z, w, RULE_REGRESSION, 5, 1, 0.0, 0.0, True, 9)
    f, t, lf, rt, start, end, _ = tree
    reached = {find_leaf(x, f, t, lf, rt) for x in np.random.default_rng(0).normal(size=(500, 5))}
    assert all(end[k] > start[k] for k in reached)
    unpruned = grow_tree(
        X, order, grow, est[:20], y, z, w, RULE_REGRESSION, 5, 1, 0.0, 0.0, False, 9
    )
    sizes = unpruned[5] - unpruned[4]
    assert np.any(sizes[unpruned[0] < 0] == 0)  # without pruning some leaves stay empty


def test_leaves_hold_every_estimation_row_once():
    X, order, grow, est, y, z, w = _problem(5)
    tree = grow_tree(X, order, grow, est, y, z, w, RULE_CAUSAL, 5, 5, 0.05, 0.0, True, 1)
    np.testing.assert_array_equal(np.sort(tree[6]), est)
    f, t, lf, rt, start, end, samples = tree
    for k in np.flatnonzero(f < 0):
        for i in samples[start[k] : end[k]]:
            assert find_leaf(X[i], f, t, lf, rt) == k


def test_min_node_size_stops_splitting():
    X, order, grow, _est, y, z, w = _problem(11)
    tree = grow_tree(X, order, grow, grow, y, z, w, RULE_REGRESSION, 5, 40, 0.0, 0.0, False, 1)
    f, _, lf, rt, start, end, _ = tree
    internal = np.flatnonzero(f >= 0)
    assert internal.size > 0
    assert np.all(end[internal] - start[internal] == 0)  # internal nodes hold no rows
    parent_sizes = [
        (end[lf[k]] - start[lf[k]]) + (end[rt[k]] - start[rt[k]])
        for k in internal
        if f[lf[k]] < 0 and f[rt[k]] < 0
    ]
    assert min(parent_sizes) > 40  # a node of 40 or fewer rows is never split


def test_feature_draws_are_distinct_and_seeded():
    s1 = np.array([np.uint64(42)], dtype=np.uint64)
    s2 = np.array([np.uint64(42)], dtype=np.uint64)
    a = [draw_features(s1, 10, 4) for _ in range(50)]
    b = [draw_features(s2, 10, 4) for _ in range(50)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert all(np.unique(u).size == 4 and u.min() >= 0 and u.max() < 10 for u in a)
    counts = np.bincount(np.concatenate(a), minlength=10)
    assert counts.min() > 5  # every feature gets drawn (200 draws, 20 expected each)


def test_constant_treatment_node_is_a_leaf():
    X, order, grow, est, y, _, w = _problem(2)
    z = np.zeros_like(y)  # no treatment variation: the causal moment is not identified
    tree = grow_tree(X, order, grow, est, y, z, w, RULE_CAUSAL, 5, 5, 0.05, 0.0, True, 1)
    assert tree[0].size == 1 and tree[0][0] == -1

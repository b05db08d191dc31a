"""One honest tree of a generalized random forest, grown in numba.

A tree is grown on the *splitting* half of its subsample and then populated with the
*estimation* half (honesty; Wager & Athey 2018, Sec. 2.4; Athey, Tibshirani & Wager
2019, "Generalized random forests", Ann. Statist. 47(2), Sec. 2). Two splitting rules
share one exact split search:

* ``RULE_REGRESSION``: CART variance reduction on the response ``y``. A split of the
  parent ``P`` into children ``L, R`` maximises
  ``S_L^2 / W_L + S_R^2 / W_R - imbalance_penalty * (1 / n_L + 1 / n_R)`` with ``S`` the
  weighted response sums and ``W`` the weight sums; each child keeps at least
  ``max(ceil(alpha * n_P), 1)`` samples.
* ``RULE_CAUSAL``: gradient-based relabeling (GRF Sec. 2.3, Algorithm 1 with the
  causal moment). Once per parent node the pseudo-outcomes
  ``rho_i = (W_i - Wbar_P) (Y_i - Ybar_P - tau_P (W_i - Wbar_P)) / Var_P(W)`` are
  computed, ``tau_P`` being the node's least-squares slope of ``Y`` on ``W``; the
  split is then a regression split on ``rho``. Each child must keep at least
  ``alpha`` of the parent's treatment "size" ``sum_i w_i (W_i - Wbar)^2`` (its own,
  centred at the child mean) and at least ``min_node_size`` units on each side of
  ``Wbar_P`` (so every leaf has treated and control units to contrast); the imbalance
  penalty is ``imbalance_penalty * (1 / size_L + 1 / size_R)``.

Split search is exact, on sorted values, like grf's: the splitting sample is presorted
once per tree from a forest-wide argsort of every covariate (stable, so ties keep the
row order), and each split partitions every feature's sorted list stably into the two
children, so no node ever sorts again (cost ``O(n p)`` per tree level). A split sits
between two distinct values; ``x <= threshold`` goes left, ``threshold`` being the
largest left value. A node with ``min_node_size`` or fewer splitting samples is a leaf;
so is one where no admissible split raises the criterion above the parent's
``S_P^2 / W_P``. For the regression rule the response is centred at the node mean
first (the criterion is then unchanged by a shift of ``y``, to rounding). A cut
replaces the best so far only if it beats it by more than ``1e-10`` of the node's
weighted sum of squares, so cuts tied up to rounding go to the first feature drawn
and the first position.

Candidate features: ``mtry`` distinct features per node, drawn by a partial
Fisher-Yates shuffle from :func:`rng_next` (splitmix64), seeded once per tree, so
a slow reference implementation given the same seed draws the same candidates.

After growing, the estimation half is dropped down the tree. With ``prune`` (grf's
``honesty.prune.leaves``) a node one of whose children received no estimation sample
is replaced by its other child, bottom up, so no leaf is empty.

A tree is returned as flat arrays (``feature`` is -1 at leaves): ``feature, threshold,
left, right, leaf_start, leaf_end, samples`` where ``samples[leaf_start[k]:leaf_end[k]]``
are the estimation rows in leaf ``k``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "RULE_CAUSAL",
    "RULE_REGRESSION",
    "draw_features",
    "find_leaf",
    "grow_tree",
    "rng_next",
]

RULE_REGRESSION = 0
RULE_CAUSAL = 1

#: a cut must beat the incumbent (or the unsplit parent) by this share of the node's
#: weighted sum of squares: cuts tied up to rounding (e.g. two features separating the
#: same rows) go to the first in draw order, whatever rounding a shift of y brings
_TIE = 1e-10

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def rng_next(state: np.ndarray) -> np.uint64:
    """The next 64-bit draw of the splitmix64 generator whose state is ``state[0]``."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def draw_features(state: np.ndarray, p: int, mtry: int) -> np.ndarray:
    """``mtry`` distinct features of ``p`` (partial Fisher-Yates shuffle), in draw order."""
    perm = np.arange(p)
    for k in range(mtry):
        j = k + np.int64(rng_next(state) % np.uint64(p - k))
        perm[k], perm[j] = perm[j], perm[k]
    return perm[:mtry].copy()


@njit(cache=True, nogil=True)
def _relabel(
    row: np.ndarray, y: np.ndarray, z: np.ndarray, w: np.ndarray, rho: np.ndarray
) -> tuple[bool, float, float]:
    """Causal pseudo-outcomes of one node (module docstring); sums run in ``row`` order.

    Returns (identified, Wbar, size) where size is ``sum w (W - Wbar)^2``.
    """
    sw = 0.0
    sy = 0.0
    sz = 0.0
    for k in row:
        sw += w[k]
        sy += w[k] * y[k]
        sz += w[k] * z[k]
    ybar = sy / sw
    zbar = sz / sw
    szz = 0.0
    szy = 0.0
    for k in row:
        dz = z[k] - zbar
        szz += w[k] * dz * dz
        szy += w[k] * dz * (y[k] - ybar)
    if not szz > 0.0:
        return False, zbar, szz
    tau = szy / szz
    var = szz / sw
    for k in row:
        dz = z[k] - zbar
        rho[k] = dz * (y[k] - ybar - tau * dz) / var
    return True, zbar, szz


@njit(cache=True, nogil=True)
def _scan_feature(
    xs: np.ndarray,
    row: np.ndarray,
    w: np.ndarray,
    wr: np.ndarray,
    wz: np.ndarray,
    wzz: np.ndarray,
    low: np.ndarray,
    rule: int,
    min_child: int,
    min_side: int,
    min_size: float,
    penalty: float,
    tol: float,
    totals: np.ndarray,
) -> tuple[float, int]:
    """Best admissible split of one sorted feature: (criterion, last left position).

    ``xs`` are the dense ranks of the feature's sorted values and ``row`` the matching
    local ids; ``wr``,
    ``wz``, ``wzz`` hold ``w r``, ``w dz``, ``w dz^2`` (``dz = W - Wbar_P``) and ``low``
    flags ``dz < 0``; ``totals`` are the node's sums of ``w, wr, wz, wzz, low``.
    """
    m = row.size
    tw, tr, tz, tzz, tlow = totals[0], totals[1], totals[2], totals[3], totals[4]
    causal = rule == RULE_CAUSAL
    best = -np.inf
    best_pos = -1
    cw = 0.0
    cr = 0.0
    cz = 0.0
    czz = 0.0
    clow = 0.0
    for t in range(m - 1):
        k = row[t]
        cw += w[k]
        cr += wr[k]
        if causal:
            cz += wz[k]
            czz += wzz[k]
            clow += low[k]
        if xs[t + 1] == xs[t]:
            continue
        nl = t + 1
        nr = m - nl
        wright = tw - cw
        if not (cw > 0.0 and wright > 0.0):
            continue
        rr = tr - cr
        dec = cr * cr / cw + rr * rr / wright
        if causal:
            size_l = czz - cz * cz / cw
            size_r = (tzz - czz) - (tz - cz) * (tz - cz) / wright
            if size_l < min_size or size_r < min_size:
                continue
            rlow = tlow - clow
            if clow < min_side or nl - clow < min_side or rlow < min_side or nr - rlow < min_side:
                continue
            if penalty > 0.0:
                if not (size_l > 0.0 and size_r > 0.0):
                    continue
                dec -= penalty * (1.0 / size_l + 1.0 / size_r)
        else:
            if nl < min_child or nr < min_child:
                continue
            dec -= penalty * (1.0 / nl + 1.0 / nr)
        if dec > best + tol:
            best = dec
            best_pos = t
    return best, best_pos


@njit(cache=True, nogil=True)
def _partition(
    row: np.ndarray, xs: np.ndarray, left: np.ndarray, buf: np.ndarray, xbuf: np.ndarray
) -> None:
    """Stable in-place partition of ``row`` (and its ranks ``xs``): ``left`` first."""
    a = 0
    b = 0
    for t in range(row.size):  # branch-free: both writes, one counter moves (a <= t)
        k = row[t]
        v = xs[t]
        f = left[k]
        row[a] = k
        xs[a] = v
        buf[b] = k
        xbuf[b] = v
        a += f
        b += 1 - f
    for t in range(b):
        row[a + t] = buf[t]
        xs[a + t] = xbuf[t]


@njit(cache=True, nogil=True)
def find_leaf(
    x: np.ndarray, feature: np.ndarray, threshold: np.ndarray, left: np.ndarray, right: np.ndarray
) -> int:
    """The leaf of one row ``x`` in a tree given by its flat arrays."""
    node = 0
    while feature[node] >= 0:
        node = left[node] if x[feature[node]] <= threshold[node] else right[node]
    return node


@njit(cache=True, nogil=True)
def _presort(X: np.ndarray, order: np.ndarray, grow: np.ndarray) -> np.ndarray:
    """Local ids of the splitting sample in each feature's sorted order, shape (p, g)."""
    n, p = X.shape
    loc = np.full(n, -1, dtype=np.int32)
    for k in range(grow.size):
        loc[grow[k]] = k
    srt = np.empty((p, grow.size), dtype=np.int32)
    for j in range(p):
        c = 0
        for i in order[j]:
            k = loc[i]
            if k >= 0:
                srt[j, c] = k
                c += 1
    return srt


@njit(cache=True, nogil=True)
def _populate(
    X: np.ndarray,
    est: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    n_nodes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Leaf of every estimation row and the estimation count of every node."""
    leaf = np.empty(est.size, dtype=np.int64)
    count = np.zeros(n_nodes, dtype=np.int64)
    for k in range(est.size):
        node = find_leaf(X[est[k]], feature, threshold, left, right)
        leaf[k] = node
        count[node] += 1
    return leaf, count


@njit(cache=True, nogil=True)
def _prune(
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    count: np.ndarray,
    n_nodes: int,
) -> None:
    """Replace, bottom up, every node with an empty child by its other child."""
    for node in range(n_nodes - 1, -1, -1):  # children have larger ids than parents
        if feature[node] < 0:
            continue
        lo = left[node]
        hi = right[node]
        keep = -1
        if count[lo] == 0:
            keep = hi
        elif count[hi] == 0:
            keep = lo
        if keep >= 0:
            feature[node] = feature[keep]
            threshold[node] = threshold[keep]
            left[node] = left[keep]
            right[node] = right[keep]
        count[node] = count[lo] + count[hi]


@njit(cache=True, nogil=True)
def grow_tree(
    X: np.ndarray,
    order: np.ndarray,
    grow: np.ndarray,
    est: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    w: np.ndarray,
    rule: int,
    mtry: int,
    min_node_size: int,
    alpha: float,
    penalty: float,
    prune: bool,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grow one honest tree (module docstring).

    Parameters
    ----------
    X : (n, p) float64 covariates; order : (p, n) stable argsort of each column.
    grow, est : int64 row ids of the splitting and the estimation half.
    y, z, w : (n,) response, treatment (causal rule only) and sample weights.
    rule : RULE_REGRESSION or RULE_CAUSAL.
    seed : seeds the candidate-feature draws.

    Returns
    -------
    feature, threshold, left, right, leaf_start, leaf_end, samples
    """
    p = X.shape[1]
    g = grow.size
    srt = _presort(X, order, grow)
    xl = np.empty((p, g))  # gathered row by row (cache friendly), then sorted per feature
    yl = np.empty(g)
    zl = np.empty(g)
    wl = np.empty(g)
    for k in range(g):
        i = grow[k]
        for j in range(p):
            xl[j, k] = X[i, j]
        yl[k] = y[i]
        zl[k] = z[i]
        wl[k] = w[i]
    # dense ranks of the sorted values (equal values, equal ranks), partitioned along
    # with srt: the scan compares neighbours on them; 4 bytes moved instead of 8
    xs = np.empty((p, g), dtype=np.int32)
    for j in range(p):
        rank = 0
        for c in range(g):
            if c > 0 and xl[j, srt[j, c]] != xl[j, srt[j, c - 1]]:
                rank += 1
            xs[j, c] = rank
    r = yl.copy()
    wr = np.zeros(g)
    wz = np.zeros(g)
    wzz = np.zeros(g)
    low = np.zeros(g)
    totals = np.zeros(5)
    goes_left = np.zeros(g, dtype=np.int64)
    buf = np.empty(g, dtype=np.int32)
    xbuf = np.empty(g, dtype=np.int32)
    cap = 2 * g + 1
    feature = np.full(cap, -1, dtype=np.int32)
    threshold = np.zeros(cap)
    left = np.full(cap, -1, dtype=np.int32)
    right = np.full(cap, -1, dtype=np.int32)
    start = np.zeros(cap, dtype=np.int64)
    end = np.zeros(cap, dtype=np.int64)
    end[0] = g
    stack = np.zeros(cap, dtype=np.int64)
    sp = 1
    n_nodes = 1
    state = np.array([np.uint64(seed)], dtype=np.uint64)
    while sp > 0:
        sp -= 1
        node = stack[sp]
        s = start[node]
        e = end[node]
        m = e - s
        if m <= min_node_size:
            continue
        row0 = srt[0, s:e]
        min_size = 0.0
        totals[:] = 0.0
        if rule == RULE_CAUSAL:
            ok, zbar, size = _relabel(row0, yl, zl, wl, r)
            if not ok:
                continue
            min_size = alpha * size
            for k in row0:
                dz = zl[k] - zbar
                wz[k] = wl[k] * dz
                wzz[k] = wl[k] * dz * dz
                low[k] = 1.0 if dz < 0.0 else 0.0
                totals[2] += wz[k]
                totals[3] += wzz[k]
                totals[4] += low[k]
        else:  # centre the response in the node: the criterion then ignores a shift of y
            sw = 0.0
            sy = 0.0
            for k in row0:
                sw += wl[k]
                sy += wl[k] * yl[k]
            ybar = sy / sw
            for k in row0:
                r[k] = yl[k] - ybar
        ss = 0.0
        for k in row0:
            wr[k] = wl[k] * r[k]
            totals[0] += wl[k]
            totals[1] += wr[k]
            ss += wr[k] * r[k]
        parent = totals[1] * totals[1] / totals[0]
        tol = _TIE * ss
        min_child = max(int(np.ceil(alpha * m)), 1)
        feats = draw_features(state, p, mtry)
        best = -np.inf
        best_var = -1
        best_pos = -1
        for j in feats:
            dec, pos = _scan_feature(
                xs[j, s:e],
                srt[j, s:e],
                wl,
                wr,
                wz,
                wzz,
                low,
                rule,
                min_child,
                min_node_size,
                min_size,
                penalty,
                tol,
                totals,
            )
            if pos >= 0 and dec > best + tol:
                best = dec
                best_var = j
                best_pos = pos
        if best_var < 0 or not best > parent + tol:
            continue
        row = srt[best_var, s:e]
        for t in range(m):
            goes_left[row[t]] = t <= best_pos
        feature[node] = best_var
        threshold[node] = xl[best_var, row[best_pos]]
        for j in range(p):
            _partition(srt[j, s:e], xs[j, s:e], goes_left, buf, xbuf)
        lo = n_nodes
        hi = n_nodes + 1
        n_nodes += 2
        left[node] = lo
        right[node] = hi
        start[lo] = s
        end[lo] = s + best_pos + 1
        start[hi] = s + best_pos + 1
        end[hi] = e
        stack[sp] = hi
        stack[sp + 1] = lo
        sp += 2
    feature = feature[:n_nodes].copy()
    threshold = threshold[:n_nodes].copy()
    left = left[:n_nodes].copy()
    right = right[:n_nodes].copy()
    leaf, count = _populate(X, est, feature, threshold, left, right, n_nodes)
    if prune:
        _prune(feature, threshold, left, right, count, n_nodes)
        leaf, count = _populate(X, est, feature, threshold, left, right, n_nodes)
    leaf_start = np.zeros(n_nodes, dtype=np.int64)
    acc = 0
    for node in range(n_nodes):
        leaf_start[node] = acc
        acc += count[node]
    leaf_end = leaf_start.copy()
    samples = np.empty(est.size, dtype=np.int32)
    for k in range(est.size):
        node = leaf[k]
        samples[leaf_end[node]] = est[k]
        leaf_end[node] += 1
    return feature, threshold, left, right, leaf_start, leaf_end, samples

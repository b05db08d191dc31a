"""Numba kernels that grow uplift trees on pre-binned features (used by :mod:`.forest`).

Notation (Rzepakowski & Jaroszewicz 2012, "Decision trees for uplift modeling with
single and multiple treatments", *Knowledge and Information Systems* 32, 303-327).
Arm 0 is the control, arms ``1..K`` the treatments. In a node, arm ``a`` has ``n_a``
units and outcome sum ``s_a``; its outcome rate (binary ``y``) or mean (continuous
``y``) is shrunk towards the parent's: ``v_a = (s_a + n_reg v_a^parent) / (n_a +
n_reg)`` (the root uses ``s_a / n_a``). The divergence of a node compares each arm with
the control, with equal weights (the paper's multiple-treatment divergence with
``alpha = 1`` and ``lambda_k = 1 / K``)::

    D(node) = (1 / K) sum_k d(v_k, v_0)

where ``d`` is, for a binary outcome, the divergence between the Bernoulli
distributions ``(p, 1 - p)`` and ``(q, 1 - q)``:

* ``"kl"``: ``p log2(p / q) + (1 - p) log2((1 - p) / (1 - q))``;
* ``"ed"`` (squared Euclidean distance): ``(p - q)^2 + ((1 - p) - (1 - q))^2 = 2 (p - q)^2``;
* ``"chi"`` (chi-squared divergence): ``(p - q)^2 / q + (p - q)^2 / (1 - q)``;

``q`` is clipped to ``[1e-6, 1 - 1e-6]`` so a pure control leaf stays finite. For a
continuous outcome only ``"ed"`` (and ``"ddp"``) apply, with ``d = (m_k - m_0)^2`` the
squared difference in arm means.

The gain of a split into ``L`` and ``R`` (``N``, ``N_L``, ``N_R`` all units) is the
increase of the conditional divergence ``(N_L / N) D(L) + (N_R / N) D(R) - D(node)``,
divided, when ``normalize`` is set, by the paper's normalisation (eqs. for ``I(A)`` and
``J(A)``), which penalises splits that separate the arms or cut off small groups::

    I(A) = pen(N_T / N) d(P_T(A), P_C(A)) + sum_k (N_k / N) pen(P_k(A))
           + (N_C / N) pen(P_C(A)) + 1/2

with ``P_a(A) = n_{a,L} / n_a`` the share of arm ``a`` sent left, ``P_T`` that of all
treated units, ``pen`` the binary entropy (base 2) for ``"kl"`` and the Gini impurity
``1 - p^2 - (1 - p)^2`` for ``"ed"`` and ``"chi"``, and ``d`` the criterion's own
divergence. ``"ddp"`` (delta-delta-p; Hansotia & Rukstales 2002, "Incremental value
modeling", *Journal of Interactive Marketing* 16(3), 35-46) is single-treatment only and
un-normalised: ``|(v_1^L - v_0^L) - (v_1^R - v_0^R)|``.

Features arrive as ``uint8`` bin codes; a split ``(feature, b)`` sends bins ``<= b``
left. Per node, the counts and outcome sums of every (bin, arm) pair of the sampled
features are accumulated once, then every threshold is scanned from the cumulative
sums. Every kernel releases the GIL so trees grow in parallel threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = [
    "CRITERIA",
    "FlatTree",
    "bin_columns",
    "find_split",
    "grow_tree",
    "leaf_values",
    "partition",
    "predict_forest",
    "route_sums",
    "split_gain",
]

#: criterion name -> kernel code
CRITERIA = {"kl": 0, "ed": 1, "chi": 2, "ddp": 3}
_EPS = 1e-6


@numba.njit(cache=True, nogil=True)
def _bdiv(p: float, q: float, crit: int) -> float:
    """Divergence of Bernoulli(p) from Bernoulli(q) (module docstring)."""
    q = min(max(q, _EPS), 1.0 - _EPS)
    if crit == 0:
        out = 0.0
        if p > 0.0:
            out += p * math.log2(p / q)
        if p < 1.0:
            out += (1.0 - p) * math.log2((1.0 - p) / (1.0 - q))
        return out
    if crit == 1:
        return 2.0 * (p - q) ** 2
    return (p - q) ** 2 / q + (p - q) ** 2 / (1.0 - q)


@numba.njit(cache=True, nogil=True)
def _penalty(p: float, crit: int) -> float:
    """Entropy (base 2) of (p, 1 - p) for KL, Gini impurity otherwise."""
    if crit == 0:
        out = 0.0
        if p > 0.0:
            out -= p * math.log2(p)
        if p < 1.0:
            out -= (1.0 - p) * math.log2(1.0 - p)
        return out
    return 1.0 - p * p - (1.0 - p) * (1.0 - p)


@numba.njit(cache=True, nogil=True)
def _divergence(v: np.ndarray, crit: int, binary: bool) -> float:
    """``D(node)``: mean divergence of each treated arm from the control."""
    k = v.shape[0] - 1
    out = 0.0
    for a in range(1, k + 1):
        if binary:
            out += _bdiv(v[a], v[0], crit)
        else:
            out += (v[a] - v[0]) ** 2
    return out / k


@numba.njit(cache=True, nogil=True)
def _normaliser(n_left: np.ndarray, n_node: np.ndarray, crit: int) -> float:
    """``I(A)`` (KL) or ``J(A)`` (ED, chi-squared) of Rzepakowski & Jaroszewicz."""
    n_arms = n_node.shape[0]
    total = 0.0
    treated = 0.0
    treated_left = 0.0
    for a in range(n_arms):
        total += n_node[a]
        if a > 0:
            treated += n_node[a]
            treated_left += n_left[a]
    share_c = n_left[0] / n_node[0]
    out = _penalty(treated / total, crit) * _bdiv(treated_left / treated, share_c, crit)
    for a in range(1, n_arms):
        out += n_node[a] / total * _penalty(n_left[a] / n_node[a], crit)
    out += n_node[0] / total * _penalty(share_c, crit)
    return out + 0.5


@numba.njit(cache=True, nogil=True)
def _gain(
    n_left: np.ndarray,
    s_left: np.ndarray,
    n_node: np.ndarray,
    s_node: np.ndarray,
    v_node: np.ndarray,
    crit: int,
    normalize: bool,
    n_reg: float,
    binary: bool,
    v_left: np.ndarray,
    v_right: np.ndarray,
) -> float:
    """Split gain (module docstring); ``v_left``/``v_right`` are scratch arrays."""
    n_arms = n_node.shape[0]
    tot_left = 0.0
    tot = 0.0
    for a in range(n_arms):
        n_right = n_node[a] - n_left[a]
        v_left[a] = (s_left[a] + n_reg * v_node[a]) / (n_left[a] + n_reg)
        v_right[a] = (s_node[a] - s_left[a] + n_reg * v_node[a]) / (n_right + n_reg)
        tot_left += n_left[a]
        tot += n_node[a]
    if crit == 3:
        return abs((v_left[1] - v_left[0]) - (v_right[1] - v_right[0]))
    w = tot_left / tot
    gain = (
        w * _divergence(v_left, crit, binary)
        + (1.0 - w) * _divergence(v_right, crit, binary)
        - _divergence(v_node, crit, binary)
    )
    if normalize:
        gain /= _normaliser(n_left, n_node, crit)
    return gain


def split_gain(
    n_left: np.ndarray,
    s_left: np.ndarray,
    n_node: np.ndarray,
    s_node: np.ndarray,
    v_node: np.ndarray,
    criterion: str,
    *,
    normalize: bool = True,
    n_reg: float = 100.0,
    binary: bool = True,
) -> float:
    """The kernel's gain of one split, callable from Python (per-arm arrays, control first)."""
    a = len(n_node)
    return float(
        _gain(
            np.asarray(n_left, dtype=np.float64),
            np.asarray(s_left, dtype=np.float64),
            np.asarray(n_node, dtype=np.float64),
            np.asarray(s_node, dtype=np.float64),
            np.asarray(v_node, dtype=np.float64),
            CRITERIA[criterion],
            normalize,
            float(n_reg),
            binary,
            np.empty(a),
            np.empty(a),
        )
    )


@numba.njit(cache=True, nogil=True)
def find_split(
    xb: np.ndarray,
    y: np.ndarray,
    arm: np.ndarray,
    idx: np.ndarray,
    start: int,
    stop: int,
    features: np.ndarray,
    n_bins: np.ndarray,
    v_node: np.ndarray,
    crit: int,
    normalize: bool,
    n_reg: float,
    binary: bool,
    min_leaf: int,
    min_treat: int,
    levels: np.ndarray,
) -> tuple[int, int, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best ``(feature, bin, gain)`` over the sampled features; feature -1 if none is valid.

    Also returned: the best split's left per-arm counts and outcome sums, and the node's.

    With ``levels`` (increasing shares in (0, 1)) only the node's quantile thresholds
    are tried: for each level, the first bin at which the share of the node's rows sent
    left reaches it. Without (an empty array) every bin edge is tried. Ties keep the
    first split found (features in the given order, bins ascending).
    """
    n_arms = v_node.shape[0]
    n_feat = features.shape[0]
    max_bins = 0
    for j in range(n_feat):
        max_bins = max(max_bins, n_bins[features[j]])
    cnt = np.zeros((n_feat, max_bins, n_arms))
    sy = np.zeros((n_feat, max_bins, n_arms))
    for i in range(start, stop):
        r = idx[i]
        a = arm[r]
        yy = y[r]
        for j in range(n_feat):
            b = xb[r, features[j]]
            cnt[j, b, a] += 1.0
            sy[j, b, a] += yy
    n_node = np.zeros(n_arms)
    s_node = np.zeros(n_arms)
    for b in range(max_bins):
        for a in range(n_arms):
            n_node[a] += cnt[0, b, a]
            s_node[a] += sy[0, b, a]
    n_left = np.zeros(n_arms)
    s_left = np.zeros(n_arms)
    v_left = np.zeros(n_arms)
    v_right = np.zeros(n_arms)
    total = 0.0
    for a in range(n_arms):
        total += n_node[a]
    best_f, best_b, best_gain = -1, -1, -np.inf
    best_n = np.zeros(n_arms)
    best_s = np.zeros(n_arms)
    for j in range(n_feat):
        n_left[:] = 0.0
        s_left[:] = 0.0
        tot_left = 0.0
        level = 0
        for b in range(n_bins[features[j]] - 1):
            for a in range(n_arms):
                n_left[a] += cnt[j, b, a]
                s_left[a] += sy[j, b, a]
                tot_left += cnt[j, b, a]
            if levels.shape[0] > 0:
                if level >= levels.shape[0] or tot_left < levels[level] * total:
                    continue
                while level < levels.shape[0] and tot_left >= levels[level] * total:
                    level += 1
            if tot_left < min_leaf:
                continue
            if total - tot_left < min_leaf:
                break
            ok = True
            for a in range(n_arms):
                if n_left[a] < min_treat or n_node[a] - n_left[a] < min_treat:
                    ok = False
            if not ok:
                continue
            g = _gain(
                n_left, s_left, n_node, s_node, v_node, crit, normalize, n_reg, binary,
                v_left, v_right,
            )  # fmt: skip
            if g > best_gain:
                best_f, best_b, best_gain = features[j], b, g
                best_n[:] = n_left
                best_s[:] = s_left
    return best_f, best_b, best_gain, best_n, best_s, n_node, s_node


@numba.njit(cache=True, nogil=True)
def partition(
    xb: np.ndarray, idx: np.ndarray, start: int, stop: int, f: int, b: int, buf: np.ndarray
) -> int:
    """Stably reorder ``idx[start:stop]``: rows with bin ``<= b`` on ``f`` first; their end.

    Keeping the rows in increasing order makes the histogram pass read memory forward.
    """
    lo = start
    hi = 0
    for i in range(start, stop):
        r = idx[i]
        if xb[r, f] <= b:
            idx[lo] = r
            lo += 1
        else:
            buf[hi] = r
            hi += 1
    idx[lo:stop] = buf[:hi]
    return lo


@numba.njit(cache=True, nogil=True)
def route_sums(
    xb: np.ndarray,
    rows: np.ndarray,
    y: np.ndarray,
    arm: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    n_arms: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-node, per-arm counts and outcome sums of ``rows`` sent down one tree."""
    n_nodes = feature.shape[0]
    cnt = np.zeros((n_nodes, n_arms))
    sy = np.zeros((n_nodes, n_arms))
    for i in range(rows.shape[0]):
        r = rows[i]
        a = arm[r]
        node = 0
        while True:
            cnt[node, a] += 1.0
            sy[node, a] += y[r]
            if left[node] < 0:
                break
            node = left[node] if xb[r, feature[node]] <= threshold[node] else right[node]
    return cnt, sy


@numba.njit(cache=True, nogil=True)
def leaf_values(
    cnt: np.ndarray, sy: np.ndarray, parent: np.ndarray, n_reg: float, fallback: np.ndarray
) -> np.ndarray:
    """Shrunk arm rates of every node, top-down (parents precede children)."""
    n_nodes, n_arms = cnt.shape
    v = np.empty((n_nodes, n_arms))
    for a in range(n_arms):
        v[0, a] = sy[0, a] / cnt[0, a] if cnt[0, a] > 0 else fallback[a]
    for node in range(1, n_nodes):
        p = parent[node]
        for a in range(n_arms):
            den = cnt[node, a] + n_reg
            v[node, a] = (sy[node, a] + n_reg * v[p, a]) / den if den > 0 else v[p, a]
    return v


@numba.njit(cache=True, nogil=True)
def bin_columns(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin codes: the number of a feature's edges strictly below each value.

    ``edges`` has ``2^k - 1`` columns per feature, padded with ``inf``: a fixed ``k``-step
    binary search whose steps compile to branch-free selects.
    """
    n, p = x.shape
    width = edges.shape[1] + 1
    out = np.empty((n, p), dtype=np.uint8)
    for i in range(n):
        for f in range(p):
            v = x[i, f]
            pos = 0
            step = width // 2
            while step > 0:
                if edges[f, pos + step - 1] < v:
                    pos += step
                step //= 2
            out[i, f] = pos
    return out


@numba.njit(cache=True, nogil=True)
def predict_forest(
    xb: np.ndarray,
    roots: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    uplift: np.ndarray,
) -> np.ndarray:
    """Mean over trees of the leaf uplifts, shape (n, K); trees are stored back to back."""
    n = xb.shape[0]
    k = uplift.shape[1]
    out = np.zeros((n, k))
    for i in range(n):
        for t in range(roots.shape[0]):
            node = roots[t]
            while left[node] >= 0:
                node = left[node] if xb[i, feature[node]] <= threshold[node] else right[node]
            for a in range(k):
                out[i, a] += uplift[node, a]
    return out / roots.shape[0]


@dataclass(frozen=True)
class FlatTree:
    """One tree as flat arrays; node 0 is the root and ``left == -1`` marks a leaf.

    ``value[node, a]`` is the shrunk outcome rate (mean) of arm ``a`` (control first),
    ``uplift[node, k - 1] = value[node, k] - value[node, 0]``; ``gain`` is the split's
    criterion value (0 at leaves) and ``n_node`` its count of splitting units.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    parent: np.ndarray
    value: np.ndarray
    uplift: np.ndarray
    gain: np.ndarray
    n_node: np.ndarray

    @property
    def n_leaves(self) -> int:
        return int(np.sum(self.left < 0))


@dataclass(frozen=True)
class GrowParams:
    """Settings of one tree (validated by the estimator)."""

    crit: int
    normalize: bool
    n_reg: float
    binary: bool
    max_depth: int
    min_leaf: int
    min_treat: int
    max_features: int
    levels: np.ndarray


def grow_tree(
    xb: np.ndarray,
    y: np.ndarray,
    arm: np.ndarray,
    n_bins: np.ndarray,
    split_rows: np.ndarray,
    estimate_rows: np.ndarray | None,
    n_arms: int,
    params: GrowParams,
    seed: int,
) -> FlatTree:
    """Grow one tree depth first on ``split_rows``; leaf rates from ``estimate_rows``.

    With ``estimate_rows=None`` the leaf rates come from the splitting rows (adaptive);
    otherwise from the other, disjoint half (honest: Athey & Imbens 2016).
    ``max_features`` features are drawn afresh at every node.
    """
    rng = np.random.default_rng(seed)
    idx = np.sort(np.asarray(split_rows, dtype=np.int64))
    buf = np.empty_like(idx)
    p = xb.shape[1]
    feature: list[int] = [-1]
    threshold: list[int] = [0]
    left: list[int] = [-1]
    right: list[int] = [-1]
    parent: list[int] = [-1]
    gain: list[float] = [0.0]
    n_node: list[int] = [idx.size]
    root_n = np.bincount(arm[idx], minlength=n_arms).astype(float)
    root_s = np.bincount(arm[idx], weights=y[idx], minlength=n_arms)
    root_v = root_s / np.maximum(root_n, 1.0)
    values = [root_v]
    stack = [(0, 0, idx.size, 0)]
    all_features = np.arange(p)
    while stack:
        node, start, stop, depth = stack.pop()
        if depth >= params.max_depth or stop - start < 2 * params.min_leaf:
            continue
        if params.max_features < p:
            feats = np.sort(rng.choice(p, params.max_features, replace=False))
        else:
            feats = all_features
        f, b, g, n_left, s_left, n_here, s_here = find_split(
            xb, y, arm, idx, start, stop, feats, n_bins, values[node], params.crit,
            params.normalize, params.n_reg, params.binary, params.min_leaf, params.min_treat,
            params.levels,
        )  # fmt: skip
        if f < 0 or not g > 0.0:
            continue
        mid = partition(xb, idx, start, stop, f, b, buf)
        feature[node], threshold[node], gain[node] = int(f), int(b), float(g)
        halves = ((start, mid, n_left, s_left), (mid, stop, n_here - n_left, s_here - s_left))
        for lo, hi, n, s in halves:
            child = len(feature)
            values.append((s + params.n_reg * values[node]) / (n + params.n_reg))
            feature.append(-1)
            threshold.append(0)
            left.append(-1)
            right.append(-1)
            parent.append(node)
            gain.append(0.0)
            n_node.append(hi - lo)
            if lo == start:
                left[node] = child
            else:
                right[node] = child
            stack.append((child, lo, hi, depth + 1))
    tree_feature = np.asarray(feature, dtype=np.int64)
    tree_threshold = np.asarray(threshold, dtype=np.int64)
    tree_left = np.asarray(left, dtype=np.int64)
    tree_right = np.asarray(right, dtype=np.int64)
    tree_parent = np.asarray(parent, dtype=np.int64)
    value = np.vstack(values)
    if estimate_rows is not None:
        cnt, sy = route_sums(
            xb, np.asarray(estimate_rows, dtype=np.int64), y, arm, tree_feature,
            tree_threshold, tree_left, tree_right, n_arms,
        )  # fmt: skip
        value = leaf_values(cnt, sy, tree_parent, params.n_reg, root_v)
    return FlatTree(
        feature=tree_feature,
        threshold=tree_threshold,
        left=tree_left,
        right=tree_right,
        parent=tree_parent,
        value=value,
        uplift=value[:, 1:] - value[:, :1],
        gain=np.asarray(gain),
        n_node=np.asarray(n_node, dtype=np.int64),
    )

"""Forest predictions: leaf statistics, forest weights and the little-bags variance.

Every forest here estimates a ratio of local averages. Its forest weights are
(Athey, Tibshirani & Wager 2019, Eq. 3)

    alpha_i(x) = (1 / B) sum_b 1{i in L_b(x)} / |L_b(x)|

over the ``B`` trees whose leaf ``L_b(x)`` (estimation samples) is not empty, and the
estimate solves the weighted local moment ``sum_i alpha_i(x) (a_i - theta b_i) = 0``:

* regression forest: ``a_i = w_i Y_i``, ``b_i = w_i`` (a weighted local mean);
* causal forest: ``a_i = w_i (W_i - What_i)(Y_i - Yhat_i)``, ``b_i = w_i (W_i - What_i)^2``.

Because ``sum_i alpha_i a_i = (1/B) sum_b A_b`` with ``A_b`` the leaf mean of ``a``,
predictions never build the weights: each tree stores its leaf means ``A, B`` and a
query adds them up along its path (``O(B depth)`` per query, memory free of ``n``).
:func:`forest_weights` builds the weights themselves, sparsely, for summaries and tests.

Variance by the bootstrap of little bags (Sexton & Laake 2009; GRF Sec. 4): trees
come in groups of ``ell`` sharing a half-sample. With per-tree moments
``psi_b = A_b - theta B_b`` and group means ``psi_g``, over the ``G`` groups whose
every tree has a non-empty leaf,

    between = (1/G) sum_g psi_g^2,   within = (1/(G ell)) sum_g sum_b (psi_b - psi_g)^2,

the half-sample variance is ``between - within / (ell - 1)`` (the within-group Monte
Carlo noise removed). That difference can be negative with few trees, so it is
replaced by its posterior mean under a flat prior on ``[0, inf)`` given a normal
observation with standard error ``max(between, noise) sqrt(2 / G)``:
``v + s phi(v / s) / Phi(v / s)`` (grf's Bayesian debiasing). The variance of
``theta`` is that, divided by the squared Jacobian ``(mean_b B_b)^2`` (delta method).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from scipy import sparse
from scipy.special import log_ndtr

from paribus.effects.forest._tree import find_leaf

__all__ = [
    "N_ACC",
    "accumulate",
    "debias_variance",
    "forest_weights_csr",
    "leaf_means",
    "ratio_and_variance",
    "split_counts",
]

#: accumulators per query: sums of A, B, tree count; group sums A^2, AB, B^2 (means);
#: tree sums A^2, AB, B^2 within good groups; good-group count
N_ACC = 10
#: queries per block in :func:`accumulate`
_BLOCK = 512


@njit(cache=True, nogil=True)
def leaf_means(
    feature: np.ndarray,
    leaf_start: np.ndarray,
    leaf_end: np.ndarray,
    samples: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Leaf means of ``a`` and ``b`` over each leaf's estimation samples (0 elsewhere)."""
    A = np.zeros(feature.size)
    B = np.zeros(feature.size)
    for node in range(feature.size):
        lo = leaf_start[node]
        hi = leaf_end[node]
        if feature[node] >= 0 or hi == lo:
            continue
        sa = 0.0
        sb = 0.0
        for t in range(lo, hi):
            i = samples[t]
            sa += a[i]
            sb += b[i]
        A[node] = sa / (hi - lo)
        B[node] = sb / (hi - lo)
    return A, B


@njit(cache=True, nogil=True)
def accumulate(
    Xq: np.ndarray,
    node_ptr: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    size: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    first_tree: int,
    n_groups: int,
    group_size: int,
    inbag: np.ndarray,
    acc: np.ndarray,
) -> None:
    """Add the groups' leaf statistics at every query row to ``acc`` (m, N_ACC).

    ``inbag`` (trees, m) marks trees that must skip a query (its own subsample, for
    out-of-bag predictions); pass shape (0, m) to use every tree.
    """
    use_inbag = inbag.shape[0] > 0
    av = np.empty(group_size)
    bv = np.empty(group_size)
    m = Xq.shape[0]
    # blocks of queries walk one group of trees at a time, so its nodes stay in cache
    for q0 in range(0, m, _BLOCK):
        for g in range(n_groups):
            for i in range(q0, min(q0 + _BLOCK, m)):
                _accumulate_one(
                    Xq[i],
                    i,
                    g,
                    node_ptr,
                    feature,
                    threshold,
                    left,
                    right,
                    size,
                    A,
                    B,
                    first_tree,
                    group_size,
                    use_inbag,
                    inbag,
                    acc,
                    av,
                    bv,
                )


@njit(cache=True, nogil=True, inline="always")
def _accumulate_one(
    x: np.ndarray,
    i: int,
    g: int,
    node_ptr: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    size: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    first_tree: int,
    group_size: int,
    use_inbag: bool,
    inbag: np.ndarray,
    acc: np.ndarray,
    av: np.ndarray,
    bv: np.ndarray,
) -> None:
    """One query, one group of trees (see :func:`accumulate`)."""
    good = True
    for el in range(group_size):
        k = g * group_size + el
        if use_inbag and inbag[k, i]:
            good = False
            continue
        off = node_ptr[first_tree + k]
        leaf = off + find_leaf(x, feature[off:], threshold[off:], left[off:], right[off:])
        if size[leaf] == 0:
            good = False
            continue
        acc[i, 0] += A[leaf]
        acc[i, 1] += B[leaf]
        acc[i, 2] += 1.0
        av[el] = A[leaf]
        bv[el] = B[leaf]
    if good and group_size > 1:
        ga = av.mean()
        gb = bv.mean()
        acc[i, 3] += ga * ga
        acc[i, 4] += ga * gb
        acc[i, 5] += gb * gb
        for el in range(group_size):
            acc[i, 6] += av[el] * av[el]
            acc[i, 7] += av[el] * bv[el]
            acc[i, 8] += bv[el] * bv[el]
        acc[i, 9] += 1.0


def debias_variance(between: np.ndarray, noise: np.ndarray, n_groups: np.ndarray) -> np.ndarray:
    """Posterior mean of a non-negative variance (module docstring)."""
    initial = between - noise
    se = np.maximum(between, noise) * np.sqrt(2.0 / np.maximum(n_groups, 1.0))
    out = np.maximum(initial, 0.0)
    ok = se > 0
    ratio = initial[ok] / se[ok]
    log_pdf = -0.5 * ratio**2 - 0.5 * np.log(2 * np.pi)
    out[ok] = initial[ok] + se[ok] * np.exp(log_pdf - log_ndtr(ratio))
    return out


def ratio_and_variance(acc: np.ndarray, group_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The estimate ``sum A / sum B`` and its little-bags variance (NaN where undefined)."""
    sa, sb, nt = acc[:, 0], acc[:, 1], acc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where((nt > 0) & (sb != 0), sa / sb, np.nan)
        var = np.full(theta.shape, np.nan)
        ng = acc[:, 9]
        ok = (ng >= 2) & np.isfinite(theta) & (group_size > 1)
        if ok.any():
            t = theta[ok]
            between = (acc[ok, 3] - 2 * t * acc[ok, 4] + t**2 * acc[ok, 5]) / ng[ok]
            total = (acc[ok, 6] - 2 * t * acc[ok, 7] + t**2 * acc[ok, 8]) / (ng[ok] * group_size)
            noise = (total - between) / (group_size - 1)
            v = debias_variance(between, noise, ng[ok])
            jacobian = sb[ok] / nt[ok]
            var[ok] = v / jacobian**2
    return theta, var


@njit(cache=True, nogil=True)
def _weights_kernel(
    Xq: np.ndarray,
    node_ptr: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_start: np.ndarray,
    leaf_end: np.ndarray,
    samples: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dense = np.zeros(n)
    touched = np.empty(n, dtype=np.int64)
    indptr = np.zeros(Xq.shape[0] + 1, dtype=np.int64)
    idx_parts = []
    val_parts = []
    for q in range(Xq.shape[0]):
        x = Xq[q]
        n_touched = 0
        n_valid = 0
        for t in range(node_ptr.size - 1):
            off = node_ptr[t]
            leaf = off + find_leaf(x, feature[off:], threshold[off:], left[off:], right[off:])
            lo = leaf_start[leaf]
            hi = leaf_end[leaf]
            if hi == lo:
                continue
            n_valid += 1
            share = 1.0 / (hi - lo)
            for s in range(lo, hi):
                i = samples[s]
                if dense[i] == 0.0:
                    touched[n_touched] = i
                    n_touched += 1
                dense[i] += share
        idx = np.sort(touched[:n_touched])
        val = np.empty(n_touched)
        for k in range(n_touched):
            val[k] = dense[idx[k]] / n_valid
            dense[idx[k]] = 0.0
        idx_parts.append(idx)
        val_parts.append(val)
        indptr[q + 1] = indptr[q] + n_touched
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1])
    for q in range(Xq.shape[0]):
        indices[indptr[q] : indptr[q + 1]] = idx_parts[q]
        data[indptr[q] : indptr[q + 1]] = val_parts[q]
    return indptr, indices, data


def forest_weights_csr(forest: Any, Xq: np.ndarray, n: int) -> sparse.csr_matrix:
    """The forest weights ``alpha_i(x)`` of every query row, a sparse (m, n) matrix."""
    indptr, indices, data = _weights_kernel(
        np.ascontiguousarray(Xq, dtype=float),
        forest.node_ptr,
        forest.feature,
        forest.threshold,
        forest.left,
        forest.right,
        forest.leaf_start,
        forest.leaf_end,
        forest.samples,
        n,
    )
    return sparse.csr_matrix((data, indices, indptr), shape=(Xq.shape[0], n))


@njit(cache=True, nogil=True)
def split_counts(
    node_ptr: np.ndarray,
    feature: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    p: int,
    max_depth: int,
) -> np.ndarray:
    """Splits on each feature at each depth ``< max_depth``, over all trees: (max_depth, p)."""
    out = np.zeros((max_depth, p), dtype=np.int64)
    stack = np.empty(2 * max_depth + 2, dtype=np.int64)
    depth = np.empty(2 * max_depth + 2, dtype=np.int64)
    for t in range(node_ptr.size - 1):
        off = node_ptr[t]
        stack[0] = 0
        depth[0] = 0
        sp = 1
        while sp > 0:
            sp -= 1
            node = stack[sp]
            d = depth[sp]
            f = feature[off + node]
            if f < 0 or d >= max_depth:
                continue
            out[d, f] += 1
            stack[sp] = left[off + node]
            depth[sp] = d + 1
            stack[sp + 1] = right[off + node]
            depth[sp + 1] = d + 1
            sp += 2
    return out

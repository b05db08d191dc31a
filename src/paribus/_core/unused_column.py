"""Proving that an added column cannot change a LightGBM regression fit, without refitting.

The random-common-cause refuter refits each nuisance with one more column, pure noise.
A gradient-boosted model grown leaf-wise on the original columns plus the new one is
the same model, tree for tree, unless at some node of some tree the new column offers a
split at least as good as the one chosen (or, at a leaf left unsplit above the depth
limit, any split worth making). Up to that point the trees and hence the gradients are
the original fit's, so the check can follow the original fit alone:

* the original booster gives every training row's leaf in every tree, and the leaf
  values; cumulating them gives the raw scores before each tree (the first tree's leaf
  values include LightGBM's initial score, the mean label), and from them the L2
  gradients ``g = float32(score - float32(y))`` with unit hessians, as LightGBM
  computes them;
* at every node above the depth limit the best gain the new column could offer is at
  most the best over *every* cut of the node's rows sorted by that column (LightGBM can
  only cut between its bins, a subset of these cuts) that leaves ``min_child_samples``
  rows (exact counts: the hessians are 1) on each side, with LightGBM's gain
  ``G_L^2 / (n_L + lambda) + G_R^2 / (n_R + lambda)`` (no L1 penalty, no output
  limit, no path smoothing);
* if that bound stays below the chosen split's gain (computed from the children's
  rows the same way), and below ``parent gain + min_split_gain`` at unsplit leaves, by
  a relative margin of ``1e-6`` that covers summation order and float32 rounding, the
  new column is never chosen and the refit is the original model: its predictions are
  reused. Otherwise the caller refits.

Only what makes that argument hold is accepted (:func:`skip_supported`): the L2
objective, gbdt, every column and every row in every tree (no column or row sampling,
no extra trees), no L1 penalty, ``num_leaves >= 2^max_depth`` with a finite depth (so
every node above the depth limit with a positive gain is split, whatever the order of
leaf-wise growth), and a single added column. On the 50k-row refutation bench
(``bench/bench_refute.py``, default learners: depth 3, 8 leaves, 100 rounds) the added
check skipped the refit in 10 of 12 draws for the outcome model on 40k rows and in 8
of 12 for the control-arm model on 23k rows, each skipped one equal to LightGBM's own
refit to the bit (``tests/test_unused_column.py`` checks this on other data and
settings); the check costs about 37 ms against about 170 ms for the fit. The
propensity (binary log-loss) models are always refitted: LightGBM estimates child
counts there from hessians, which this bound does not reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

__all__ = ["BaseModel", "column_may_split", "skip_supported", "summarise_booster"]

#: relative margin by which the added column's best gain must stay below the chosen one
MARGIN = 1e-6


@dataclass(frozen=True)
class BaseModel:
    """What the check needs of a fitted booster on its training rows."""

    leaves: np.ndarray  # (T, n) int16: each training row's leaf in each tree
    leaf_value: np.ndarray  # (T, L) float64 (the first tree's include the initial score)
    path: np.ndarray  # (T, L, D + 1) int32: node id at each depth on a leaf's path, -1 beyond
    left: np.ndarray  # (T, M) int32: left child node id, -1 for a leaf
    right: np.ndarray  # (T, M) int32
    depth: np.ndarray  # (T, M) int32
    label32: np.ndarray  # (n,) float64 values of the float32 labels LightGBM trains on
    init_score: float
    max_depth: int
    reg_lambda: float
    min_child_samples: int
    min_child_weight: float
    min_split_gain: float


def skip_supported(params: dict[str, Any]) -> bool:
    """Whether a regression fit with these ``lightgbm.train`` parameters can be checked."""
    depth = params.get("max_depth", -1)
    leaves = params.get("num_leaves", 31)
    return bool(
        params.get("objective") == "regression"
        and params.get("boosting_type", "gbdt") == "gbdt"
        and not params.get("extra_trees", False)
        and params.get("colsample_bytree", 1.0) == 1.0
        and (params.get("subsample", 1.0) == 1.0 or params.get("subsample_freq", 0) == 0)
        and params.get("reg_alpha", 0.0) == 0.0
        and params.get("max_delta_step", 0.0) == 0.0
        and params.get("path_smooth", 0.0) == 0.0
        and "min_sum_hessian_in_leaf" not in params  # an alias: its precedence is LightGBM's
        and isinstance(depth, (int, np.integer))
        and 0 < depth <= 12
        and leaves >= 2**depth
    )


def summarise_booster(
    booster: Any, X_train: np.ndarray, label: np.ndarray, params: dict[str, Any]
) -> BaseModel | None:
    """The :class:`BaseModel` of a booster fitted on ``X_train``, or None if not checkable."""
    n_trees = booster.num_trees()
    if n_trees != booster.current_iteration() or n_trees == 0:
        return None
    trees = booster.dump_model()["tree_info"]
    max_depth = int(params["max_depth"])
    n_leaves = max(t["num_leaves"] for t in trees)
    n_nodes = 2 * n_leaves - 1
    leaf_value = np.zeros((n_trees, n_leaves))
    path = np.full((n_trees, n_leaves, max_depth + 1), -1, dtype=np.int32)
    left = np.full((n_trees, n_nodes), -1, dtype=np.int32)
    right = np.full((n_trees, n_nodes), -1, dtype=np.int32)
    depth = np.zeros((n_trees, n_nodes), dtype=np.int32)
    for t, tree in enumerate(trees):
        arrays = (leaf_value[t], path[t], left[t], right[t], depth[t])
        _walk(tree["tree_structure"], 0, [], [0], arrays)
    leaves = np.ascontiguousarray(booster.predict(X_train, pred_leaf=True).T.astype(np.int16))
    label32 = np.asarray(label, dtype=np.float32).astype(np.float64)
    return BaseModel(
        leaves=leaves.reshape(n_trees, -1),
        leaf_value=leaf_value,
        path=path,
        left=left,
        right=right,
        depth=depth,
        label32=label32,
        init_score=float(np.mean(label32)),
        max_depth=max_depth,
        reg_lambda=float(params.get("reg_lambda", 0.0)),
        min_child_samples=int(params.get("min_child_samples", 20)),
        min_child_weight=float(params.get("min_child_weight", 1e-3)),
        min_split_gain=float(params.get("min_split_gain", 0.0)),
    )


def _walk(
    node: dict[str, Any],
    d: int,
    ancestors: list[int],
    counter: list[int],
    arrays: tuple[np.ndarray, ...],
) -> int:
    """Number the nodes of one dumped tree depth-first and fill its rows of the arrays."""
    leaf_value, path, left, right, depth = arrays
    me = counter[0]
    counter[0] += 1
    depth[me] = d
    if "split_feature" not in node:
        leaf = int(node.get("leaf_index", 0))
        leaf_value[leaf] = float(node["leaf_value"])
        for k, a in enumerate([*ancestors, me]):
            path[leaf, k] = a
        return me
    left[me] = _walk(node["left_child"], d + 1, [*ancestors, me], counter, arrays)
    right[me] = _walk(node["right_child"], d + 1, [*ancestors, me], counter, arrays)
    return me


def column_may_split(model: BaseModel, column: np.ndarray) -> bool:
    """False when ``column`` provably enters no tree of a refit (module docstring)."""
    u = np.asarray(column, dtype=np.float64)
    if u.shape != model.label32.shape or not np.isfinite(u).all():
        return True
    order = np.argsort(u, kind="stable").astype(np.int64)
    return bool(
        _may_split(
            order,
            model.leaves,
            model.leaf_value,
            model.path,
            model.left,
            model.right,
            model.depth,
            model.label32,
            model.init_score,
            model.max_depth,
            model.reg_lambda,
            model.min_child_samples,
            model.min_child_weight,
            model.min_split_gain,
            MARGIN,
        )
    )


@njit(cache=True, nogil=True)
def _may_split(
    order: np.ndarray,
    leaves: np.ndarray,
    leaf_value: np.ndarray,
    path: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    depth: np.ndarray,
    y: np.ndarray,
    init_score: float,
    max_depth: int,
    lam: float,
    min_n: int,
    min_h: float,
    min_gain: float,
    margin: float,
) -> bool:
    # Rows are kept in the order of the added column. Per tree: one pass gathers each
    # row's leaf and gradient and sums them per leaf (node sums follow from the leaf
    # sums); per depth below the root one pass lays each node's gradients out
    # contiguously (a stable counting sort, so still in that order); each node's cuts
    # are then one sequential scan with running sums in registers.
    n = y.size
    n_trees, n_nodes = left.shape
    n_leaves = leaf_value.shape[1]
    ys = np.empty(n)
    for k in range(n):
        ys[k] = y[order[k]]
    score = np.full(n, init_score)
    lv = np.empty(n, dtype=np.int64)
    buf = np.empty((max_depth, n))
    G = np.empty(n_nodes)
    N = np.empty(n_nodes, dtype=np.int64)
    g_leaf = np.empty(n_leaves)
    n_leaf = np.empty(n_leaves, dtype=np.int64)
    fill = np.empty(n_nodes, dtype=np.int64)
    first = np.empty(n_nodes, dtype=np.int64)
    inv = 1.0 / (np.arange(n + 1) + lam)  # 1 / (count + lambda): no division per cut
    lo = max(min_n, int(np.ceil(min_h)), 1)  # smallest child (unit hessians)
    for t in range(n_trees):
        g = buf[0]  # the root holds every row, already in order
        g_leaf[:] = 0.0
        n_leaf[:] = 0
        for k in range(n):
            leaf = leaves[t, order[k]]
            lv[k] = leaf
            gk = np.float64(np.float32(score[k] - ys[k]))
            g[k] = gk
            g_leaf[leaf] += gk
            n_leaf[leaf] += 1
        G[:] = 0.0
        N[:] = 0
        for leaf in range(n_leaves):
            if n_leaf[leaf] == 0:
                continue
            for d in range(max_depth + 1):
                node = path[t, leaf, d]
                if node < 0:
                    break
                G[node] += g_leaf[leaf]
                N[node] += n_leaf[leaf]
        first[0] = 0
        for d in range(1, max_depth):
            at = 0
            for node in range(n_nodes):
                if depth[t, node] == d and N[node] > 0:
                    first[node] = at
                    fill[node] = at
                    at += N[node]
            row = buf[d]
            for k in range(n):
                node = path[t, lv[k], d]
                if node >= 0:
                    row[fill[node]] = g[k]
                    fill[node] += 1
        for node in range(n_nodes):
            m = N[node]
            d = depth[t, node]
            if m < 2 * lo or d >= max_depth:
                continue  # no admissible cut, or at the depth limit: nothing to check
            a, b = left[t, node], right[t, node]
            if a >= 0:
                limit = G[a] * G[a] * inv[N[a]] + G[b] * G[b] * inv[N[b]]
            else:
                limit = G[node] * G[node] * inv[m] + min_gain
            limit -= margin * max(abs(limit), 1.0)
            row = buf[d]
            s0 = first[node]
            total = G[node]
            gl = 0.0
            for j in range(m - lo):
                gl += row[s0 + j]
                nl = j + 1
                if nl >= lo:
                    gr = total - gl
                    if gl * gl * inv[nl] + gr * gr * inv[m - nl] >= limit:
                        return True
        for k in range(n):
            value = leaf_value[t, lv[k]]
            score[k] = value if t == 0 else score[k] + value
    return False

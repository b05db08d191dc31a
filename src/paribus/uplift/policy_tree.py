"""Optimal policy trees: exact search over shallow trees (Athey & Wager 2021).

Given a reward matrix ``Gamma`` (n x A; ``Gamma[i, a]`` estimates unit ``i``'s outcome
under action ``a``, e.g. the doubly robust scores of
:func:`paribus.uplift.policy.dr_rewards`), a policy ``pi`` is scored by
``sum_i Gamma[i, pi(X_i)]``. Athey & Wager (2021, "Policy learning with observational
data", Econometrica 89(1), Sec. 2.3 and 5) learn the policy as the depth-``d`` decision
tree maximising this sum over all axis-aligned splits (the ``policytree`` package of
Sverdrup, Kanodia, Zhou, Athey & Wager 2020); the regret of the learned rule is
``O(sqrt(VC / n))``.

The search here is exact (every split at the end of a run of tied values of every
feature, every action in every leaf) and returns the best tree of depth at most ``d``
in which every split leaves at least ``min_node_size`` units on each side:

* depth 1: sort each feature once; cumulative reward sums give the best action on
  either side of every split (``O(p n A)`` after sorting);
* depth 2: the root split is swept along each sorted feature, adding one unit at a
  time to the left (then right) child. For each child the best depth-1 split is kept up
  to date incrementally: for every feature and pair of actions ``(a, b)``, a segment
  tree over that feature's sorted positions holds the prefix sums of
  ``Gamma[i, a] - Gamma[i, b]`` of the child's units, so the best split with ``a`` left
  and ``b`` right is a range maximum of prefix sums plus ``sum Gamma[., b]``; the range
  of allowed positions (``min_node_size`` on each side) comes from a Fenwick tree of
  counts. Cost ``O(p^2 n A^2 log n)`` (numba), seconds for ``n = 10^4, p = 10``, where
  scanning every child split afresh costs ``O(p^2 n^2 A)``;
* depth 3 and more: plain recursion over root splits (``O(p n)`` depth-(d-1) searches
  each; use for small samples only).

Evaluate the learned policy on rows not used to fit it (:meth:`PolicyTree.policy_value`
on a held-out sample): in-sample values are optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.params import check_level
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.results import Effect

__all__ = ["PolicyNode", "PolicyTree"]

_NEG = -np.inf


# -- numba kernels ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _depth1(x: np.ndarray, g: np.ndarray, m: int) -> tuple[float, int, float]:
    """Best depth-1 split: (reward, feature or -1 for a leaf, threshold)."""
    n, p = x.shape
    k = g.shape[1]
    total = g.sum(axis=0)
    best = total.max()
    best_j, best_thr = -1, 0.0
    if n < 2 * m:
        return best, best_j, best_thr
    for j in range(p):
        order = np.argsort(x[:, j], kind="mergesort")
        cum = np.zeros(k)
        for pos in range(n - 1):
            i = order[pos]
            for a in range(k):
                cum[a] += g[i, a]
            if pos + 1 < m or n - pos - 1 < m or x[i, j] >= x[order[pos + 1], j]:
                continue
            left, right = _NEG, _NEG
            for a in range(k):
                left = max(left, cum[a])
                right = max(right, total[a] - cum[a])
            if left + right > best:
                best, best_j, best_thr = left + right, j, x[i, j]
    return best, best_j, best_thr


@numba.njit(cache=True)
def _seg_set(
    sums: np.ndarray, best: np.ndarray, valid: bool, size: int, pos: int, d: float
) -> None:
    """Add ``d`` at leaf ``pos``; nodes keep (sum, best prefix sum over valid leaves)."""
    i = pos + size
    sums[i] += d
    best[i] = sums[i] if valid else _NEG
    i //= 2
    while i >= 1:
        left, right = 2 * i, 2 * i + 1
        sums[i] = sums[left] + sums[right]
        best[i] = max(best[left], sums[left] + best[right])
        i //= 2


@numba.njit(cache=True)
def _seg_query(sums: np.ndarray, best: np.ndarray, size: int, lo: int, hi: int) -> float:
    """``max_{lo <= t <= hi, t valid} sum_{r <= t} d_r`` (prefix sums from position 0)."""
    acc = 0.0
    left, right = size, lo + size
    while left < right:  # the sum of positions [0, lo)
        if left & 1:
            acc += sums[left]
            left += 1
        if right & 1:
            right -= 1
            acc += sums[right]
        left //= 2
        right //= 2
    out = _NEG
    stack = np.empty(64, dtype=np.int64)
    ns = 0
    left, right = lo + size, hi + 1 + size
    while left < right:
        if left & 1:
            out = max(out, acc + best[left])
            acc += sums[left]
            left += 1
        if right & 1:
            right -= 1
            stack[ns] = right
            ns += 1
        left //= 2
        right //= 2
    for q in range(ns - 1, -1, -1):
        node = stack[q]
        out = max(out, acc + best[node])
        acc += sums[node]
    return out


@numba.njit(cache=True)
def _fen_add(fen: np.ndarray, pos: int) -> None:
    i = pos + 1
    while i < fen.size:
        fen[i] += 1
        i += i & (-i)


@numba.njit(cache=True)
def _fen_kth(fen: np.ndarray, kth: int, log: int) -> int:
    """0-based position of the ``kth`` (1-based) smallest occupied position."""
    pos = 0
    step = 1 << log
    while step > 0:
        nxt = pos + step
        if nxt < fen.size and fen[nxt] < kth:
            pos = nxt
            kth -= fen[nxt]
        step //= 2
    return pos


@numba.njit(cache=True)
def _depth2(x: np.ndarray, g: np.ndarray, m: int) -> tuple[float, int, float]:
    """Best depth-2 tree: (reward, root feature or -1, root threshold) (module docstring)."""
    n, p = x.shape
    k = g.shape[1]
    n_pairs = k * (k - 1)
    pa = np.empty(n_pairs, dtype=np.int64)
    pb = np.empty(n_pairs, dtype=np.int64)
    q = 0
    for a in range(k):
        for b in range(k):
            if a != b:
                pa[q], pb[q] = a, b
                q += 1
    order = np.empty((p, n), dtype=np.int64)
    rank = np.empty((p, n), dtype=np.int64)
    valid = np.zeros((p, n), dtype=np.bool_)
    for j in range(p):
        order[j] = np.argsort(x[:, j], kind="mergesort")
        for pos in range(n):
            rank[j, order[j, pos]] = pos
            if pos < n - 1 and x[order[j, pos], j] < x[order[j, pos + 1], j]:
                valid[j, pos] = True
    size = 1
    while size < n:
        size *= 2
    log = 0
    while (1 << (log + 1)) <= n:
        log += 1
    template = np.full((p, 2 * size), _NEG)
    for j in range(p):
        for pos in range(n):
            if valid[j, pos]:
                template[j, pos + size] = 0.0
        for i in range(size - 1, 0, -1):
            template[j, i] = max(template[j, 2 * i], template[j, 2 * i + 1])
    sums = np.zeros((p, n_pairs, 2 * size))
    best = np.empty((p, n_pairs, 2 * size))
    fen = np.zeros((p, n + 1), dtype=np.int64)
    totals = np.zeros(k)
    child = np.empty((2, n))

    top = g.sum(axis=0).max()
    top_j, top_thr = -1, 0.0
    d1, j1, t1 = _depth1(x, g, m)
    if d1 > top:
        top, top_j, top_thr = d1, j1, t1
    if n < 2 * m:
        return top, top_j, top_thr
    for j in range(p):
        for side in range(2):
            sums[:] = 0.0
            for jj in range(p):
                for q in range(n_pairs):
                    best[jj, q] = template[jj]
            fen[:] = 0
            totals[:] = 0.0
            child[side] = _NEG
            for step in range(n - 1):
                pos = step if side == 0 else n - 1 - step
                split = pos if side == 0 else pos - 1
                i = order[j, pos]
                for a in range(k):
                    totals[a] += g[i, a]
                for jj in range(p):
                    r = rank[jj, i]
                    _fen_add(fen[jj], r)
                    for q in range(n_pairs):
                        _seg_set(
                            sums[jj, q],
                            best[jj, q],
                            valid[jj, r],
                            size,
                            r,
                            g[i, pa[q]] - g[i, pb[q]],
                        )
                cnt = step + 1
                if not valid[j, split] or cnt < m or n - cnt < m:
                    continue
                val = totals.max()
                if cnt >= 2 * m:
                    for jj in range(p):
                        lo = _fen_kth(fen[jj], m, log)
                        hi = _fen_kth(fen[jj], cnt - m + 1, log) - 1
                        if lo > hi:
                            continue
                        for q in range(n_pairs):
                            v = _seg_query(sums[jj, q], best[jj, q], size, lo, hi) + totals[pb[q]]
                            val = max(val, v)
                child[side, split] = val
        for split in range(n - 1):
            v = child[0, split] + child[1, split]
            if v > top:
                top, top_j, top_thr = v, j, x[order[j, split], j]
    return top, top_j, top_thr


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyNode:
    """A node: a leaf (``feature is None``) with its ``action``, or a split sending
    ``X[:, feature] <= threshold`` to ``left``. ``reward`` is the node's summed reward of
    the chosen actions on the fitting sample and ``n`` its number of units."""

    n: int
    reward: float
    action: int | None = None
    feature: int | None = None
    threshold: float = float("nan")
    left: PolicyNode | None = None
    right: PolicyNode | None = None


def _leaf(g: np.ndarray) -> PolicyNode:
    totals = g.sum(axis=0)
    a = int(np.argmax(totals))
    return PolicyNode(n=g.shape[0], reward=float(totals[a]), action=a)


def _split(x: np.ndarray, g: np.ndarray, depth: int, m: int, j: int, thr: float) -> PolicyNode:
    go_left = x[:, j] <= thr
    left = _grow(x[go_left], g[go_left], depth - 1, m)
    right = _grow(x[~go_left], g[~go_left], depth - 1, m)
    if left.feature is None and right.feature is None and left.action == right.action:
        return _leaf(g)  # a split that changes no action is no split
    return PolicyNode(
        n=g.shape[0],
        reward=left.reward + right.reward,
        feature=j,
        threshold=float(thr),
        left=left,
        right=right,
    )


def _grow(x: np.ndarray, g: np.ndarray, depth: int, m: int) -> PolicyNode:
    """The best tree of depth at most ``depth`` on ``(x, g)``."""
    leaf = _leaf(g)
    if depth == 0 or g.shape[0] < 2 * m:
        return leaf
    if depth <= 2:
        kernel = _depth1 if depth == 1 else _depth2
        _, j, thr = kernel(x, g, m)
        return leaf if j < 0 else _split(x, g, depth, m, int(j), float(thr))
    best = leaf
    n = g.shape[0]
    for j in range(x.shape[1]):
        values = np.unique(x[:, j])[:-1]
        for thr in values:
            n_left = int(np.sum(x[:, j] <= thr))
            if n_left < m or n - n_left < m:
                continue
            cand = _split(x, g, depth, m, j, float(thr))
            if cand.reward > best.reward:
                best = cand
    return best


class PolicyTree(BaseEstimator):
    """Depth-``d`` decision tree choosing an action per unit (Athey & Wager 2021).

    Parameters
    ----------
    depth : int, default 2
        Maximum depth (module docstring for the cost of depth >= 3).
    min_node_size : int, default 1
        Smallest number of fitting units on either side of a split.

    Attributes
    ----------
    tree_ : PolicyNode
    actions_ : ndarray
        The action labels (reward columns).
    reward_ : float
        In-sample mean reward of the learned policy (optimistic; see module).
    feature_names_in_ : ndarray of str
    """

    feature_names_in_: np.ndarray
    n_features_in_: int
    actions_: np.ndarray

    def __init__(self, depth: int = 2, min_node_size: int = 1) -> None:
        self.depth = depth
        self.min_node_size = min_node_size

    def _validate(self) -> None:
        for name in ("depth", "min_node_size"):
            value = getattr(self, name)
            low = 0 if name == "depth" else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ParameterError(
                    f"PolicyTree: {name}={value!r} is invalid; expected an integer >= {low}."
                )

    def _features(self, X: Any, fitting: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
            if not fitting and names != list(self.feature_names_in_):
                missing = [c for c in self.feature_names_in_ if c not in names]
                if missing:
                    raise DataError(f"PolicyTree: X lacks the fitted column(s) {missing}.")
                X = X[list(self.feature_names_in_)]
        try:
            M = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"PolicyTree: X must be numeric ({exc}).") from exc
        if M.ndim != 2:
            raise DataError(f"PolicyTree: X must be a 2-d table; found shape {M.shape}.")
        if not np.all(np.isfinite(M)):
            raise DataError("PolicyTree: X has missing or infinite values; impute them first.")
        if fitting:
            self.feature_names_in_ = np.asarray(
                names if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(M.shape[1])],
                dtype=object,
            )
            self.n_features_in_ = M.shape[1]
        elif M.shape[1] != self.n_features_in_:
            raise DataError(
                f"PolicyTree: X has {M.shape[1]} columns; the tree was fitted on "
                f"{self.n_features_in_}."
            )
        return M

    def _rewards(self, rewards: Any, n: int, fitting: bool) -> np.ndarray:
        labels = rewards.columns.to_numpy() if isinstance(rewards, pd.DataFrame) else None
        G = np.asarray(rewards, dtype=float)
        if G.ndim != 2 or G.shape[0] != n or G.shape[1] < 2:
            raise DataError(
                f"PolicyTree: rewards must be an (n, actions) matrix with n = {n} rows and at "
                f"least 2 actions; found shape {G.shape}."
            )
        if not np.all(np.isfinite(G)):
            raise DataError("PolicyTree: rewards have missing or infinite values.")
        if fitting:
            self.actions_ = labels if labels is not None else np.arange(G.shape[1])
        elif G.shape[1] != self.actions_.size:
            raise DataError(
                f"PolicyTree: rewards have {G.shape[1]} columns; the tree chooses among "
                f"{self.actions_.size} actions."
            )
        return G

    def fit(self, X: Any, rewards: Any) -> PolicyTree:
        """Find the reward-maximising tree (module docstring). Returns ``self``."""
        self._validate()
        M = self._features(X, fitting=True)
        G = self._rewards(rewards, M.shape[0], fitting=True)
        if M.shape[0] < 2:
            raise DataError(f"PolicyTree: {M.shape[0]} rows; a policy needs at least 2.")
        self.tree_ = _grow(M, G, int(self.depth), int(self.min_node_size))
        self.reward_ = self.tree_.reward / M.shape[0]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "tree_"):
            raise NotFittedError("PolicyTree is not fitted; call fit(X, rewards) first.")

    def predict_index(self, X: Any) -> np.ndarray:
        """The chosen action's column index (0 .. actions - 1) per row."""
        self._check_fitted()
        M = self._features(X, fitting=False)
        out = np.empty(M.shape[0], dtype=np.intp)
        stack: list[tuple[PolicyNode, np.ndarray]] = [(self.tree_, np.arange(M.shape[0]))]
        while stack:
            node, rows = stack.pop()
            if node.feature is None:
                out[rows] = int(node.action or 0)
                continue
            assert node.left is not None and node.right is not None
            go_left = M[rows, node.feature] <= node.threshold
            stack.append((node.left, rows[go_left]))
            stack.append((node.right, rows[~go_left]))
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The chosen action (its label: a reward column name, or its index) per row."""
        idx = self.predict_index(X)
        return np.asarray(self.actions_[idx])

    def policy_value(self, X: Any, rewards: Any, level: float = 0.95) -> Effect:
        """Mean reward of the tree's actions, ``mean_i Gamma[i, pi(X_i)]``, with its interval.

        With doubly robust rewards this is the policy value estimator of Athey & Wager
        (2021, Sec. 2.2); its standard error is ``sd / sqrt(n)`` of the chosen rewards.
        Pass rows that were not used to fit the tree.
        """
        level = check_level(level)
        self._check_fitted()
        idx = self.predict_index(X)
        G = self._rewards(rewards, idx.size, fitting=False)
        chosen = G[np.arange(idx.size), idx]
        est = float(chosen.mean())
        return Effect.from_normal(
            estimand="policy value",
            estimate=est,
            std_error=float(chosen.std(ddof=1) / np.sqrt(chosen.size)),
            level=level,
            n_obs=int(chosen.size),
            method="policy-tree",
            inference="influence-function",
            diagnostics={
                "depth": int(self.depth),
                "share_by_action": {
                    str(a): float(np.mean(idx == j)) for j, a in enumerate(self.actions_)
                },
            },
            scores=chosen - est,
        )

    def to_text(self) -> str:
        """The tree as indented text (``policytree``'s print layout)."""
        self._check_fitted()
        lines: list[str] = []

        def walk(node: PolicyNode, indent: int, label: str) -> None:
            pad = "  " * indent
            if node.feature is None:
                lines.append(f"{pad}{label}* action = {self.actions_[node.action]} (n = {node.n})")
                return
            name = self.feature_names_in_[node.feature]
            lines.append(f"{pad}{label}split on {name} <= {node.threshold:g} (n = {node.n})")
            assert node.left is not None and node.right is not None
            walk(node.left, indent + 1, "[yes] ")
            walk(node.right, indent + 1, "[no]  ")

        walk(self.tree_, 0, "")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text() if hasattr(self, "tree_") else repr(self)

    def plot(self, ax: Any = None) -> Any:
        """Draw the tree's text rendering on a matplotlib axes (returned)."""
        import matplotlib.pyplot as plt

        text = self.to_text()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.35 * text.count("\n") + 1))
        ax.axis("off")
        ax.text(0, 1, text, family="monospace", va="top", ha="left", transform=ax.transAxes)
        return ax

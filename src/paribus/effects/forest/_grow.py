"""Growing a forest: subsamples, little bags, honesty halves and parallel trees.

A forest is a composition of small parts (as in grf's DEVELOPING.md):

==================  ===============================  =================================
forest              splitting rule (``_tree``)       local moment ``a_i, b_i`` (``_predict``)
==================  ===============================  =================================
RegressionForest    RULE_REGRESSION: CART on ``Y``   ``w Y``, ``w``
CausalForest        RULE_CAUSAL: CART on the causal  ``w Wc Yc``, ``w Wc^2``
                    pseudo-outcomes, per node        (``Wc, Yc`` out-of-bag residuals)
==================  ===============================  =================================

Sampling follows GRF (Athey, Tibshirani & Wager 2019, Sec. 4; grf's algorithm
reference): trees come in groups of ``ci_group_size``; each group draws a half-sample
of the units without replacement and each of its trees a subsample of
``sample_fraction * n`` units from that half (so ``sample_fraction <= 0.5`` when
groups have more than one tree; with one tree per group the subsample comes from all
units). With honesty, a tree's subsample is split at random into a splitting part
(``honesty_fraction``) and an estimation part. With ``cluster`` the units drawn are
clusters and every row of a drawn cluster goes where its cluster goes (grf's default,
without equalising cluster weights), so out-of-bag means out of the cluster's bag.

Trees are grown by the numba kernel :func:`~paribus.effects.forest._tree.grow_tree`,
which releases the GIL: chunks of groups run on the threads of
:func:`paribus._core.parallel.run_tasks` (threading backend, ``n_jobs`` as the session
or estimator says), sharing the covariates and their presort without copies. Threads
rather than ``numba.prange`` so the worker count follows ``paribus.config`` like every
other parallel loop and progress is reported per chunk. Out-of-bag statistics are
accumulated while growing, group by group, so no inbag matrix is ever stored; the
forest keeps only flat node arrays and the estimation rows of each leaf (memory
``O(trees * (nodes + n * sample_fraction / 2))``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import parallel_config

from paribus._core.config import effective_n_jobs
from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds
from paribus.effects.forest._predict import N_ACC, accumulate, leaf_means
from paribus.effects.forest._tree import grow_tree
from paribus.errors import DataError, ParameterError

#: tree chunks per forest (each holds out-of-bag sums of shape (n, 10) while it runs)
_N_CHUNKS = 8

__all__ = ["Forest", "TreeSettings", "check_settings", "grow_forest", "predict_accumulators"]


@dataclass(frozen=True)
class TreeSettings:
    """How each tree is grown (see the estimators' docstrings)."""

    rule: int
    mtry: int
    min_node_size: int
    alpha: float
    imbalance_penalty: float
    honesty: bool
    honesty_fraction: float
    prune: bool
    sample_fraction: float
    group_size: int


@dataclass
class Forest:
    """All trees as flat arrays; tree ``t`` owns nodes ``node_ptr[t]:node_ptr[t + 1]``.

    ``left``/``right`` are node ids within the tree; ``leaf_start``/``leaf_end`` index
    ``samples`` (estimation rows, all trees concatenated). ``A``, ``B`` are the leaf
    means of the moment's two parts (:mod:`._predict`).
    """

    node_ptr: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf_start: np.ndarray
    leaf_end: np.ndarray
    samples: np.ndarray
    A: np.ndarray
    B: np.ndarray
    group_size: int
    n_features: int

    @property
    def n_trees(self) -> int:
        return int(self.node_ptr.size - 1)

    @property
    def size(self) -> np.ndarray:
        return self.leaf_end - self.leaf_start


def check_settings(owner: str, s: TreeSettings, n_trees: int, n_units: int, p: int) -> None:
    """Refuse settings that cannot grow the requested forest on these data."""
    if s.group_size > 1 and s.sample_fraction > 0.5:
        raise ParameterError(
            f"{owner}: sample_fraction={s.sample_fraction} exceeds 0.5, but with "
            f"ci_group_size={s.group_size} each tree subsamples a half-sample; use "
            "sample_fraction <= 0.5, or ci_group_size=1 (no confidence intervals)."
        )
    if n_trees % s.group_size:
        raise ParameterError(
            f"{owner}: n_estimators={n_trees} is not a multiple of ci_group_size="
            f"{s.group_size}; trees are grown in groups, so use e.g. "
            f"n_estimators={s.group_size * math.ceil(n_trees / s.group_size)}."
        )
    if s.mtry > p:
        raise ParameterError(f"{owner}: mtry={s.mtry} exceeds the {p} covariates; use mtry <= {p}.")
    drawn = int(s.sample_fraction * n_units)
    need = 2 if s.honesty else 1
    if drawn < need or (s.honesty and int(drawn * s.honesty_fraction) < 1):
        raise DataError(
            f"{owner}: each tree draws sample_fraction * n = {drawn} of the {n_units} units "
            f"(clusters), too few to {'split into honest halves' if s.honesty else 'grow'}; "
            "use more data or a larger sample_fraction."
        )


def _draw(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    return pool[rng.permutation(pool.size)[:k]]


def _rows(units: np.ndarray, ptr: np.ndarray | None, members: np.ndarray | None) -> np.ndarray:
    """Rows of the drawn units (the units themselves without clusters), sorted."""
    if ptr is None or members is None:
        return np.sort(units).astype(np.int64)
    parts = [members[ptr[u] : ptr[u + 1]] for u in units]
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.empty(0, np.int64)


def tree_samples(
    rng: np.random.Generator,
    pool: np.ndarray,
    s: TreeSettings,
    n_units: int,
    ptr: np.ndarray | None,
    members: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One tree's (splitting rows, estimation rows) drawn from the unit ``pool``."""
    sub = _draw(rng, pool, int(s.sample_fraction * n_units))
    if not s.honesty:
        rows = _rows(sub, ptr, members)
        return rows, rows
    n_grow = int(sub.size * s.honesty_fraction)
    return _rows(sub[:n_grow], ptr, members), _rows(sub[n_grow:], ptr, members)


def _grow_chunk(
    data: tuple[np.ndarray, ...],
    s: TreeSettings,
    seeds: list[int],
    clusters: tuple[np.ndarray, np.ndarray] | None,
    n_units: int,
) -> tuple[list[tuple[np.ndarray, ...]], np.ndarray]:
    """Grow the groups seeded by ``seeds``; returns their trees and out-of-bag sums."""
    X, order, y, z, w, a, b = data
    n = X.shape[0]
    ptr, members = clusters if clusters is not None else (None, None)
    ell = s.group_size
    acc = np.zeros((n, N_ACC))
    trees: list[tuple[np.ndarray, ...]] = []
    all_units = np.arange(n_units)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        pool = _draw(rng, all_units, n_units // 2) if ell > 1 else all_units
        inbag = np.zeros((ell, n), dtype=np.bool_)
        group: list[tuple[np.ndarray, ...]] = []
        for el in range(ell):
            grow, est = tree_samples(rng, pool, s, n_units, ptr, members)
            tree_seed = int(rng.integers(0, 2**62))
            tree = grow_tree(
                X,
                order,
                grow,
                est,
                y,
                z,
                w,
                s.rule,
                s.mtry,
                s.min_node_size,
                s.alpha,
                s.imbalance_penalty,
                s.prune,
                tree_seed,
            )
            A, B = leaf_means(tree[0], tree[4], tree[5], tree[6], a, b)
            inbag[el, grow] = True
            inbag[el, est] = True
            group.append((*tree, A, B))
        f = _concat(group, ell, X.shape[1])
        accumulate(
            X,
            f.node_ptr,
            f.feature,
            f.threshold,
            f.left,
            f.right,
            f.size,
            f.A,
            f.B,
            0,
            1,
            ell,
            inbag,
            acc,
        )
        trees.extend(group)
    return trees, acc


def _concat(trees: list[tuple[np.ndarray, ...]], group_size: int, p: int) -> Forest:
    """Stack per-tree arrays into one :class:`Forest` (leaf ranges made global)."""
    nodes = np.array([t[0].size for t in trees], dtype=np.int64)
    node_ptr = np.concatenate([[0], np.cumsum(nodes)]).astype(np.int64)
    n_samples = np.array([t[6].size for t in trees], dtype=np.int64)
    sample_off = np.concatenate([[0], np.cumsum(n_samples)[:-1]]).astype(np.int64)
    shift = np.repeat(sample_off, nodes)
    return Forest(
        node_ptr=node_ptr,
        feature=np.concatenate([t[0] for t in trees]),
        threshold=np.concatenate([t[1] for t in trees]),
        left=np.concatenate([t[2] for t in trees]),
        right=np.concatenate([t[3] for t in trees]),
        leaf_start=np.concatenate([t[4] for t in trees]) + shift,
        leaf_end=np.concatenate([t[5] for t in trees]) + shift,
        samples=np.concatenate([t[6] for t in trees]),
        A=np.concatenate([t[7] for t in trees]),
        B=np.concatenate([t[8] for t in trees]),
        group_size=group_size,
        n_features=p,
    )


def _cluster_members(cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    codes = np.unique(cluster, return_inverse=True)[1].ravel()
    members = np.argsort(codes, kind="stable").astype(np.int64)
    counts = np.bincount(codes)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ptr, members, int(counts.size)


def grow_forest(
    X: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    w: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    s: TreeSettings,
    n_trees: int,
    root: np.random.SeedSequence,
    cluster: np.ndarray | None,
    n_jobs: int | None,
    desc: str,
) -> tuple[Forest, np.ndarray]:
    """Grow ``n_trees`` trees; returns the forest and the out-of-bag accumulators (n, 10)."""
    X = np.ascontiguousarray(X, dtype=float)
    order = np.ascontiguousarray(np.argsort(X, axis=0, kind="stable").T.astype(np.int32))
    clusters: tuple[np.ndarray, np.ndarray] | None = None
    n_units = X.shape[0]
    if cluster is not None:
        ptr, members, n_units = _cluster_members(cluster)
        clusters = (ptr, members)
    seeds = child_seeds(root, n_trees // s.group_size)
    # a fixed number of chunks, whatever n_jobs, so out-of-bag sums add up in one order
    n_chunks = min(len(seeds), _N_CHUNKS)
    chunks = [list(c) for c in np.array_split(np.asarray(seeds, dtype=np.int64), n_chunks)]
    data = (X, order, y, z, w, a, b)
    tasks = [(data, s, [int(v) for v in c], clusters, n_units) for c in chunks]
    with parallel_config(backend="threading"):
        results = run_tasks(_grow_chunk, tasks, n_jobs=n_jobs, desc=desc)
    trees = [t for chunk_trees, _ in results for t in chunk_trees]
    acc = np.sum([r[1] for r in results], axis=0)
    return _concat(trees, s.group_size, X.shape[1]), acc


def _predict_chunk(forest: Forest, Xq: np.ndarray) -> np.ndarray:
    acc = np.zeros((Xq.shape[0], N_ACC))
    f = forest
    accumulate(
        Xq,
        f.node_ptr,
        f.feature,
        f.threshold,
        f.left,
        f.right,
        f.size,
        f.A,
        f.B,
        0,
        f.n_trees // f.group_size,
        f.group_size,
        np.zeros((0, Xq.shape[0]), np.bool_),
        acc,
    )
    return acc


def predict_accumulators(forest: Forest, Xq: Any, n_jobs: int | None) -> np.ndarray:
    """Accumulated leaf statistics of every query row over all trees (m, 10)."""
    Xq = np.ascontiguousarray(Xq, dtype=float)
    m = Xq.shape[0]
    workers = effective_n_jobs(n_jobs)
    n_chunks = max(1, min(m // 256, 4 * workers)) if workers > 1 else 1
    parts = np.array_split(np.arange(m), n_chunks)
    tasks = [(forest, Xq[p]) for p in parts]
    with parallel_config(backend="threading"):
        results = run_tasks(_predict_chunk, tasks, n_jobs=n_jobs, show_progress=False)
    return np.concatenate(results) if results else np.zeros((0, N_ACC))

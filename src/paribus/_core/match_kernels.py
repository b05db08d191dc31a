"""Nearest-neighbour search for matching estimators: with and without replacement.

Two entry points, :func:`nearest` (every query independently: matching with
replacement, and the same-arm neighbours of the variance estimator) and
:func:`greedy` (queries in a given order, each reference used at most once).
Both search only within *cells* (integer codes; exact matching) and within a
``radius`` (the caliper), and both follow one tie rule, so their output is a
deterministic function of the data order: among references at equal distance
the one with the smaller position in ``ref`` comes first, and exactly ``k`` are
taken (no tie expansion).

* One-dimensional points (propensity scores) use a sort: references are ordered
  by (cell, score, position), and numba kernels walk outward from each query's
  insertion point, so a query costs ``O(log n + k)``. Greedy matching keeps two
  union-find "next unused" pointers (left and right) over that order, so a full
  pass costs ``O(n log n)``.
* Points in several dimensions (whitened covariates) use scipy's ``cKDTree``;
  a tie at the k-th distance is resolved by collecting every point at that
  distance. Greedy search queries the tree of unused points, doubling ``k``
  while the nearest candidates are used up and rebuilding the tree once half of
  its points are used.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.spatial import cKDTree

__all__ = ["greedy", "nearest"]

_INT = np.int64


# -- one-dimensional kernels ---------------------------------------------------------------------


@numba.njit(cache=True)
def _find(parent: np.ndarray, i: int) -> int:  # pragma: no cover - compiled
    """Root of ``i`` in a union-find forest, with path compression."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@numba.njit(cache=True)
def _knn_sorted(
    s: np.ndarray,
    sid: np.ndarray,
    run_start: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    q: np.ndarray,
    qcell: np.ndarray,
    qself: np.ndarray,
    k: int,
    radius: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    nq = q.size
    out_i = np.full((nq, k), -1, dtype=np.int64)
    out_d = np.full((nq, k), np.inf)
    for i in range(nq):
        a = lo[qcell[i]]
        b = hi[qcell[i]]
        if a >= b:
            continue
        x = q[i]
        me = qself[i]
        p = a + np.searchsorted(s[a:b], x)
        r = p
        # the left side is walked run by run (equal scores), each run from its
        # smallest position upwards, so equal distances come out by position
        l_end = p - 1
        l_start = run_start[l_end] if l_end >= a else a
        left = l_start
        m = 0
        while m < k:
            if r < b and sid[r] == me:
                r += 1
                continue
            if l_end >= a and sid[left] == me:
                left += 1
                if left > l_end:
                    l_end = l_start - 1
                    if l_end >= a:
                        l_start = run_start[l_end]
                        left = l_start
                continue
            has_r = r < b
            has_l = l_end >= a
            if not has_r and not has_l:
                break
            dr = abs(s[r] - x) if has_r else np.inf
            dl = abs(s[left] - x) if has_l else np.inf
            take_left = has_l and (not has_r or dl < dr or (dl == dr and sid[left] < sid[r]))
            d = dl if take_left else dr
            if d > radius:
                break
            if take_left:
                out_i[i, m] = sid[left]
                left += 1
                if left > l_end:
                    l_end = l_start - 1
                    if l_end >= a:
                        l_start = run_start[l_end]
                        left = l_start
            else:
                out_i[i, m] = sid[r]
                r += 1
            out_d[i, m] = d
            m += 1
    return out_i, out_d


@numba.njit(cache=True)
def _greedy_sorted(
    s: np.ndarray,
    sid: np.ndarray,
    run_start: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    q: np.ndarray,
    qcell: np.ndarray,
    order: np.ndarray,
    k: int,
    radius: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = s.size
    nq = q.size
    out_i = np.full((nq, k), -1, dtype=np.int64)
    out_d = np.full((nq, k), np.inf)
    # nxt: smallest unused sorted position >= i (n: none); prv (shifted by one):
    # largest unused position <= i is _find(prv, i + 1) - 1 (-1: none)
    nxt = np.arange(n + 1)
    prv = np.arange(n + 1)
    for i in order:
        a = lo[qcell[i]]
        b = hi[qcell[i]]
        if a >= b:
            continue
        x = q[i]
        p = a + np.searchsorted(s[a:b], x)
        for m in range(k):
            r = _find(nxt, p)
            has_r = r < b
            left = _find(prv, p) - 1  # largest unused position <= p - 1
            has_l = left >= a
            if has_l:
                # the smallest unused position in that score run
                left = _find(nxt, run_start[left])
            if not has_r and not has_l:
                break
            dr = abs(s[r] - x) if has_r else np.inf
            dl = abs(s[left] - x) if has_l else np.inf
            take_left = has_l and (not has_r or dl < dr or (dl == dr and sid[left] < sid[r]))
            j = left if take_left else r
            d = dl if take_left else dr
            if d > radius:
                break
            out_i[i, m] = sid[j]
            out_d[i, m] = d
            nxt[j] = j + 1
            prv[j + 1] = j
    return out_i, out_d


def _sorted_refs(ref: np.ndarray, ref_cell: np.ndarray, n_cells: int) -> tuple[np.ndarray, ...]:
    n = ref.size
    perm = np.lexsort((np.arange(n), ref, ref_cell))
    s, c = ref[perm], ref_cell[perm]
    new = np.ones(n, dtype=bool)
    new[1:] = (s[1:] != s[:-1]) | (c[1:] != c[:-1])
    run_start = np.maximum.accumulate(np.where(new, np.arange(n), 0)).astype(_INT)
    cells = np.arange(n_cells)
    lo = np.searchsorted(c, cells, "left").astype(_INT)
    hi = np.searchsorted(c, cells, "right").astype(_INT)
    return np.ascontiguousarray(s), perm.astype(_INT), run_start, lo, hi


# -- several dimensions: k-d trees ---------------------------------------------------------------


def _distances(ref: np.ndarray, point: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum((ref - point) ** 2, axis=-1))


def _query(tree: cKDTree, query: np.ndarray, k: int, bound: float, workers: int) -> np.ndarray:
    """Tree positions of each query's ``k`` nearest points (``tree.n``: none within bound)."""
    # queries sorted along one axis keep the tree in cache: about twice as fast
    by_x = np.argsort(query[:, 0], kind="stable")
    j = np.empty((query.shape[0], k), dtype=_INT)
    found = tree.query(query[by_x], k=k, distance_upper_bound=bound, workers=workers)[1]
    j[by_x] = found.reshape(query.shape[0], k)
    return j


def _tree_nearest(
    ref: np.ndarray,
    query: np.ndarray,
    k: int,
    radius: float,
    qself: np.ndarray | None,
    workers: int,
) -> tuple[np.ndarray, np.ndarray]:
    nr = ref.shape[0]
    tree = cKDTree(ref)
    kk = min(k + 1 + (qself is not None), nr)
    bound = radius * (1 + 1e-9) if np.isfinite(radius) else np.inf
    j = _query(tree, query, kk, bound, workers)
    missing = j >= nr
    j = np.where(missing, 0, j)
    d = _distances(ref[j], query[:, None, :])
    bad = missing | (d > radius)
    if qself is not None:
        bad |= j == qself[:, None]
    d[bad] = np.inf
    j[bad] = nr
    o = np.lexsort((j, d), axis=-1)
    d, j = np.take_along_axis(d, o, axis=1), np.take_along_axis(j, o, axis=1)
    out_i, out_d = j[:, :k].copy(), d[:, :k].copy()
    out_i[~np.isfinite(out_d)] = -1
    if kk > k:
        # a tie at the k-th distance may hide references with smaller positions
        tied = np.flatnonzero(np.isfinite(d[:, k - 1]) & (d[:, k - 1] == d[:, k]))
        for row in tied:
            cand = np.asarray(
                tree.query_ball_point(query[row], d[row, k - 1] * (1 + 1e-9)), dtype=_INT
            )
            dc = _distances(ref[cand], query[row])
            ok = dc <= min(radius, d[row, k - 1])
            if qself is not None:
                ok &= cand != qself[row]
            cand, dc = cand[ok], dc[ok]
            o = np.lexsort((cand, dc))[:k]
            out_i[row, : o.size], out_d[row, : o.size] = cand[o], dc[o]
    return out_i, out_d


@numba.njit(cache=True)
def _assign_greedy(
    order: np.ndarray,
    start: int,
    cand: np.ndarray,
    cand_d: np.ndarray,
    limit: np.ndarray,
    alive: np.ndarray,
    k: int,
    radius: float,
    out_i: np.ndarray,
    out_d: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Walk ``order[start:]``, each query taking its ``k`` nearest live candidates.

    ``cand[i]`` lists references by (distance, position) and holds every tree
    point closer than ``limit[i]``. Stops at the first query whose list cannot
    certify its choice and returns its place in ``order`` (the length of ``order``
    when all are done) and the number of references taken.
    """
    width = cand.shape[1]
    taken = 0
    for pos in range(start, order.size):
        i = order[pos]
        m = 0
        d_last = 0.0
        for c in range(width):
            j = cand[i, c]
            if j < 0 or cand_d[i, c] > radius:
                break
            if alive[j]:
                out_i[i, m] = j
                out_d[i, m] = cand_d[i, c]
                d_last = cand_d[i, c]
                m += 1
                if m == k:
                    break
        settled = d_last < limit[i] if m == k else radius < limit[i]
        if not settled:
            for c in range(m):
                out_i[i, c] = -1
                out_d[i, c] = np.inf
            return pos, taken
        for c in range(m):
            alive[out_i[i, c]] = False
        taken += m
    return order.size, taken


def _candidates(
    tree: cKDTree,
    ids: np.ndarray,
    ref: np.ndarray,
    query: np.ndarray,
    width: int,
    radius: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``width`` nearest tree points of each query by (distance, position), and
    the distance below which that list is complete (inf: it holds all within radius)."""
    nq, kk = query.shape[0], min(width, ids.size)
    bound = radius * (1 + 1e-9) if np.isfinite(radius) else np.inf
    j = _query(tree, query, kk, bound, 1)
    missing = j >= ids.size
    g = ids[np.where(missing, 0, j)]
    d = _distances(ref[g], query[:, None, :])
    d[missing] = np.inf
    g[missing] = ref.shape[0]
    o = np.lexsort((g, d), axis=-1)
    d, g = np.take_along_axis(d, o, axis=1), np.take_along_axis(g, o, axis=1)
    complete = missing.any(axis=1) | (kk >= ids.size)
    limit = np.where(complete, np.inf, d[:, -1])
    cand = np.full((nq, width), -1, dtype=_INT)
    cand_d = np.full((nq, width), np.inf)
    cand[:, :kk] = np.where(np.isfinite(d), g, -1)
    cand_d[:, :kk] = d
    return cand, cand_d, limit


def _one_greedy(
    tree: cKDTree,
    ids: np.ndarray,
    ref: np.ndarray,
    point: np.ndarray,
    k: int,
    radius: float,
    alive: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One query's ``k`` nearest live references, widening the search until it is sure."""
    kk = min(k + 32, ids.size)
    while True:
        cand, cand_d, limit = _candidates(tree, ids, ref, point[None, :], kk, radius)
        ok = (cand[0] >= 0) & (cand_d[0] <= radius)
        ok[ok] = alive[cand[0][ok]]
        ca, da = cand[0][ok][:k], cand_d[0][ok][:k]
        settled = da[-1] < limit[0] if ca.size == k else radius < limit[0]
        if settled or kk >= ids.size:
            return ca, da
        kk = min(2 * kk, ids.size)


def _tree_greedy(
    ref: np.ndarray,
    query: np.ndarray,
    k: int,
    radius: float,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching on a k-d tree: candidate lists for all queries at once, a
    compiled pass that takes them in order, and a search of its own for each query
    whose candidates were used up (on a tree of live points, rebuilt as it thins)."""
    nr, nq = ref.shape[0], query.shape[0]
    out_i = np.full((nq, k), -1, dtype=_INT)
    out_d = np.full((nq, k), np.inf)
    alive = np.ones(nr, dtype=np.bool_)
    ids = np.arange(nr)
    tree = cKDTree(ref)
    width = k + 16
    parts = [
        _candidates(tree, ids, ref, query[b : b + 65536], width, radius)
        for b in range(0, nq, 65536)
    ]
    cand, cand_d, limit = (np.concatenate(x) for x in zip(*parts, strict=True))
    pos, n_alive, dead_in_tree = 0, nr, 0
    while True:
        pos, taken = _assign_greedy(order, pos, cand, cand_d, limit, alive, k, radius, out_i, out_d)
        n_alive -= taken
        dead_in_tree += taken
        if pos >= nq or n_alive == 0:
            return out_i, out_d
        if dead_in_tree > ids.size // 8:
            ids = np.flatnonzero(alive)
            tree = cKDTree(ref[ids])
            dead_in_tree = 0
        i = order[pos]
        take, dist = _one_greedy(tree, ids, ref, query[i], k, radius, alive)
        out_i[i, : take.size], out_d[i, : take.size] = take, dist
        alive[take] = False
        n_alive -= take.size
        dead_in_tree += take.size
        pos += 1


def _by_cell(ref_cell: np.ndarray, query_cell: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Reference and query positions of each cell that has both."""
    r_order = np.argsort(ref_cell, kind="stable")
    q_order = np.argsort(query_cell, kind="stable")
    r_cells, r_first = np.unique(ref_cell[r_order], return_index=True)
    q_cells, q_first = np.unique(query_cell[q_order], return_index=True)
    r_groups = dict(zip(r_cells.tolist(), np.split(r_order, r_first[1:]), strict=True))
    q_groups = dict(zip(q_cells.tolist(), np.split(q_order, q_first[1:]), strict=True))
    return [(r_groups[c], q_groups[c]) for c in q_groups if c in r_groups]


# -- public entry points -------------------------------------------------------------------------


def nearest(
    ref: np.ndarray,
    ref_cell: np.ndarray,
    query: np.ndarray,
    query_cell: np.ndarray,
    k: int,
    radius: float = np.inf,
    query_self: np.ndarray | None = None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest references of every query, within its cell and ``radius``.

    Parameters
    ----------
    ref, query : ndarray
        Points, shape ``(n,)`` (scores) or ``(n, p)`` (Euclidean coordinates).
    ref_cell, query_cell : ndarray of int
        Non-negative cell codes; a query only sees references in its own cell.
    k : int
        Neighbours per query.
    radius : float
        Largest admissible distance (inclusive).
    query_self : ndarray of int, optional
        A reference position to skip for each query (-1: none), to find a
        unit's neighbours among its own arm.
    workers : int
        Threads for the k-d tree queries.

    Returns
    -------
    idx, dist : ndarray, shape ``(n_query, k)``
        Reference positions by increasing distance (ties: smaller position
        first), ``-1`` / ``inf`` where fewer than ``k`` qualify.
    """
    ref_cell, query_cell = np.asarray(ref_cell, dtype=_INT), np.asarray(query_cell, dtype=_INT)
    nq = query_cell.size
    qself = None if query_self is None else np.asarray(query_self, dtype=_INT)
    if ref.ndim == 1:
        n_cells = int(max(ref_cell.max(initial=0), query_cell.max(initial=0))) + 1
        s, sid, run_start, lo, hi = _sorted_refs(np.asarray(ref, dtype=float), ref_cell, n_cells)
        return _knn_sorted(
            s,
            sid,
            run_start,
            lo,
            hi,
            np.asarray(query, dtype=float),
            query_cell,
            np.full(nq, -1, dtype=_INT) if qself is None else qself,
            int(k),
            float(radius),
        )
    out_i = np.full((nq, k), -1, dtype=_INT)
    out_d = np.full((nq, k), np.inf)
    for rpos, qpos in _by_cell(ref_cell, query_cell):
        local_self = None
        if qself is not None:
            # translate global reference positions into this cell's local ones
            lookup = np.full(ref_cell.size + 1, -1, dtype=_INT)
            lookup[rpos] = np.arange(rpos.size)
            local_self = lookup[qself[qpos]]
        i, d = _tree_nearest(ref[rpos], query[qpos], k, radius, local_self, workers)
        out_i[qpos] = np.where(i >= 0, rpos[np.maximum(i, 0)], -1)
        out_d[qpos] = d
    return out_i, out_d


def greedy(
    ref: np.ndarray,
    ref_cell: np.ndarray,
    query: np.ndarray,
    query_cell: np.ndarray,
    k: int,
    radius: float,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching without replacement: queries in ``order`` each take their ``k``
    nearest references not yet taken (within cell and ``radius``; ties as in
    :func:`nearest`). Returns ``(idx, dist)`` aligned with ``query`` rows.
    """
    ref_cell, query_cell = np.asarray(ref_cell, dtype=_INT), np.asarray(query_cell, dtype=_INT)
    order = np.asarray(order, dtype=_INT)
    if ref.ndim == 1:
        n_cells = int(max(ref_cell.max(initial=0), query_cell.max(initial=0))) + 1
        s, sid, run_start, lo, hi = _sorted_refs(np.asarray(ref, dtype=float), ref_cell, n_cells)
        return _greedy_sorted(
            s,
            sid,
            run_start,
            lo,
            hi,
            np.asarray(query, dtype=float),
            query_cell,
            order,
            int(k),
            float(radius),
        )
    nq = query_cell.size
    out_i = np.full((nq, k), -1, dtype=_INT)
    out_d = np.full((nq, k), np.inf)
    rank = np.empty(nq, dtype=_INT)
    rank[order] = np.arange(nq)
    for rpos, qpos in _by_cell(ref_cell, query_cell):
        local_order = np.argsort(rank[qpos], kind="stable")
        i, d = _tree_greedy(ref[rpos], query[qpos], k, radius, local_order)
        out_i[qpos] = np.where(i >= 0, rpos[np.maximum(i, 0)], -1)
        out_d[qpos] = d
    return out_i, out_d

"""The Andrews-Roth-Pakes conditional and hybrid tests by dual-vertex enumeration.

See :mod:`paribus.designs.did.honest` for the method and references.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
from scipy import stats

from paribus.errors import ParameterError

_MAX_SUBSETS = 1_000_000


def _dual_vertices(w: np.ndarray) -> np.ndarray | None:
    """Vertices of ``{g >= 0, w'g = 0, 1'g = 1}`` (rows); ``None`` when it is empty."""
    k = w.shape[0]
    if w.shape[1] > 0:
        u, sv, _ = np.linalg.svd(w, full_matrices=False)
        w = u[:, : int(np.sum(sv > 1e-10 * sv[0]))] if sv[0] > 0 else w[:, :0]
    eq = np.vstack([w.T, np.ones((1, k))])
    m = eq.shape[0]
    if np.linalg.matrix_rank(eq, tol=1e-10) < m:
        return None  # 1 lies in the span of the nuisance directions: eta is unbounded below
    if math.comb(k, m) > _MAX_SUBSETS:
        raise ParameterError(
            f"the ARP test would enumerate C({k}, {m}) = {math.comb(k, m)} bases; use fewer "
            "post periods (or inference='flci' with method='smoothness')."
        )
    combos = itertools.combinations(range(k), m)
    found = []
    while chunk := list(itertools.islice(combos, 20_000)):  # bounded memory
        subsets = np.array(chunk, dtype=np.intp)
        mats = eq[:, subsets].transpose(1, 0, 2)
        sv = np.linalg.svd(mats, compute_uv=False)
        ok = sv[:, -1] > 1e-10 * sv[:, 0]
        rhs = np.zeros((int(ok.sum()), m, 1))
        rhs[:, -1, 0] = 1.0
        sol = np.linalg.solve(mats[ok], rhs)[:, :, 0]
        feasible = np.all(sol >= -1e-10, axis=1)
        verts = np.zeros((int(feasible.sum()), k))
        rows = np.arange(verts.shape[0])[:, None]
        verts[rows, subsets[ok][feasible]] = np.clip(sol[feasible], 0.0, None)
        found.append(verts)
    verts = np.vstack(found)
    if verts.shape[0] == 0:
        return None
    return np.unique(np.round(verts, 12), axis=0)


@dataclasses.dataclass(frozen=True)
class _ArpPiece:
    """One polyhedron's standardized moments ``z(theta) = z0 - a theta`` and dual vertices."""

    z0: np.ndarray
    a: np.ndarray
    vertices: np.ndarray | None
    gram: np.ndarray | None
    lf_cv: float


def _arp_piece(
    beta: np.ndarray,
    cov: np.ndarray,
    amat: np.ndarray,
    d: np.ndarray,
    num_pre: int,
    lv: np.ndarray,
    kappa: float,
    post_only: bool,
    draws: int,
    seed: int,
) -> _ArpPiece:
    a_post = amat[:, num_pre:]
    if post_only and lv.size > 1:
        keep = np.any(a_post != 0, axis=1)
        amat, d, a_post = amat[keep], d[keep], a_post[keep]
    t1 = lv / (lv @ lv)
    null = _null_space(lv[None, :])
    cov_y = amat @ cov @ amat.T
    sd = np.sqrt(np.clip(np.diag(cov_y), 0.0, None))
    if np.any(sd <= 1e-12 * max(float(np.sqrt(np.max(np.diag(cov)))), 1e-300)):
        raise ParameterError(
            "sigma gives a moment inequality of the restriction zero variance; the ARP "
            "test needs each of them estimated with noise (check sigma's rank)."
        )
    omega = cov_y / np.outer(sd, sd)
    z0 = (amat @ beta - d) / sd
    direction = a_post @ t1 / sd
    verts = _dual_vertices((a_post @ null) / sd[:, None])
    if verts is None:
        return _ArpPiece(z0, direction, None, None, np.inf)
    lf_cv = np.inf
    if kappa > 0:
        ev, evec = np.linalg.eigh(omega)
        root = evec * np.sqrt(np.clip(ev, 0.0, None))
        xi = np.random.default_rng(seed).standard_normal((draws, omega.shape[0])) @ root.T
        lf_cv = float(np.quantile(np.max(xi @ verts.T, axis=1), 1.0 - kappa))
    return _ArpPiece(z0, direction, verts, verts @ omega @ verts.T, lf_cv)


def _null_space(mat: np.ndarray) -> np.ndarray:
    _, sv, vt = np.linalg.svd(mat)
    rank = int(np.sum(sv > 1e-12 * max(sv.max(initial=0.0), 1e-300)))
    return np.asarray(vt[rank:].T)


def _arp_accept(piece: _ArpPiece, thetas: np.ndarray, alpha: float, kappa: float) -> np.ndarray:
    """ARP conditional (``kappa = 0``) or LF-hybrid test of ``theta`` for one polyhedron."""
    if piece.vertices is None or piece.gram is None:
        return np.ones(thetas.size, dtype=bool)
    verts, gram = piece.vertices, piece.gram
    z = piece.z0[:, None] - piece.a[:, None] * thetas[None, :]
    vals = verts @ z
    best = np.argmax(vals, axis=0)
    cols = np.arange(thetas.size)
    eta = vals[best, cols]
    var = gram[best, best]
    sd = np.sqrt(np.clip(var, 0.0, None))
    degenerate = sd < 1e-10
    sd = np.where(degenerate, 1.0, sd)
    vb = gram[:, best] / np.where(degenerate, 1.0, var)[None, :]
    vs = vals - vb * eta[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = vs / (1.0 - vb)
    tol = 1e-8
    vlo = np.max(np.where(vb < 1.0 - tol, ratio, -np.inf), axis=0)
    vup = np.min(np.where(vb > 1.0 + tol, ratio, np.inf), axis=0)
    if kappa > 0:
        size = (alpha - kappa) / (1.0 - kappa)
        first = eta > piece.lf_cv
        vup = np.minimum(vup, piece.lf_cv)
    else:
        size, first = alpha, np.zeros(thetas.size, dtype=bool)
    stat, zlo, zup = eta / sd, vlo / sd, vup / sd
    inside = (zlo - 1e-9 <= stat) & (stat <= zup + 1e-9) & (zlo < zup)
    cv = np.full(thetas.size, np.inf)
    if np.any(inside):
        q = stats.truncnorm.ppf(1.0 - size, zlo[inside], zup[inside])
        cv[inside] = np.maximum(0.0, q)
    reject = first | (inside & (stat > cv)) | (degenerate & (eta > 0))
    return ~reject


def _union_accept(
    pieces: list[_ArpPiece], thetas: np.ndarray, alpha: float, kappa: float
) -> np.ndarray:
    out = np.zeros(thetas.size, dtype=bool)
    for piece in pieces:
        out |= _arp_accept(piece, thetas, alpha, kappa)
    return out


def _invert(accept: Any, lo: float, hi: float, points: int) -> tuple[float, float]:
    """Hull of the accepted ``theta``: a grid, widened while an end is accepted, then each
    end refined by bisection between the last rejected and the first accepted point
    (``-inf``/``inf`` when an end is still accepted after widening ``2^8`` times)."""
    width = hi - lo
    tol = 1e-9 * width
    for _ in range(8):
        grid = np.linspace(lo, hi, points)
        acc = accept(grid)
        if not acc.any():
            return float("nan"), float("nan")
        if not (acc[0] or acc[-1]):
            break
        lo, hi = (lo - width if acc[0] else lo), (hi + width if acc[-1] else hi)
        width *= 2
    idx = np.flatnonzero(acc)

    def refine(inside: float, outside: float) -> float:
        while abs(inside - outside) > tol:
            mid = 0.5 * (inside + outside)
            if accept(np.array([mid]))[0]:
                inside = mid
            else:
                outside = mid
        return inside

    lower = -np.inf if acc[0] else refine(grid[idx[0]], grid[idx[0] - 1])
    upper = np.inf if acc[-1] else refine(grid[idx[-1]], grid[idx[-1] + 1])
    return float(lower), float(upper)

"""Residuals for the RD variance: nearest-neighbour residuals.

The nearest-neighbour residual of Calonico, Cattaneo & Titiunik (2014, Section 3.2;
after Abadie & Imbens 2006) compares each unit with the mean of its ``J >= nnmatch``
closest units on the same side of the cutoff, ``sqrt(J / (J + 1)) (y_i - mean_J y)``.
Units sharing a running value are always neighbours of each other, and the
neighbourhood grows by whole groups of tied values, nearest first (both sides on a
tie in distance).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["nn_residuals"]


@numba.njit(cache=True)
def _neighbourhoods(values: np.ndarray, gstart: np.ndarray, target: int) -> tuple:
    """First and last group of each group's neighbourhood (groups of tied values)."""
    m = values.shape[0]
    lo = np.empty(m, np.int64)
    hi = np.empty(m, np.int64)
    for g in range(m):
        a, b = g, g
        total = gstart[g + 1] - gstart[g]
        while total - 1 < target:
            if a == 0:
                b += 1
            elif b == m - 1:
                a -= 1
            else:
                dl = values[g] - values[a - 1]
                dr = values[b + 1] - values[g]
                if dl > dr:
                    b += 1
                elif dl < dr:
                    a -= 1
                else:
                    a -= 1
                    b += 1
            total = gstart[b + 1] - gstart[a]
        lo[g] = a
        hi[g] = b
    return lo, hi


def nn_residuals(x: np.ndarray, d: np.ndarray, nnmatch: int) -> np.ndarray:
    """Nearest-neighbour residuals of each column of ``d`` (rows sorted by ``x``)."""
    n = x.shape[0]
    if n < 2:
        return np.zeros_like(d)
    start = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))  # runs of ties
    gstart = np.concatenate([start, [n]]).astype(np.int64)
    lo, hi = _neighbourhoods(np.ascontiguousarray(x[start]), gstart, min(nnmatch, n - 1))
    csum = np.zeros((n + 1, d.shape[1]))
    np.cumsum(d, axis=0, out=csum[1:])
    counts = np.diff(gstart)
    first, last = np.repeat(gstart[lo], counts), np.repeat(gstart[hi + 1], counts)
    j = (last - first - 1).astype(float)[:, None]
    mean_others = (csum[last] - csum[first] - d) / j
    return np.sqrt(j / (j + 1.0)) * (d - mean_others)

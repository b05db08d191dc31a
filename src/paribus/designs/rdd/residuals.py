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


@numba.njit(cache=True)
def _nn_distinct(x: np.ndarray, d: np.ndarray, csum: np.ndarray, target: int) -> np.ndarray:
    """:func:`_nn_residuals` when no two running values tie (every group one row)."""
    n, k = d.shape
    out = np.empty((n, k))
    for g in range(n):
        a, b = g, g
        value = x[g]
        while b - a < target:
            dl = value - x[max(a - 1, 0)]
            dr = x[min(b + 1, n - 1)] - value
            go_left = a > 0 and (b == n - 1 or dl <= dr)
            go_right = b < n - 1 and (a == 0 or dr <= dl)
            if go_left:
                a -= 1
            if go_right:
                b += 1
        j = float(b - a)
        factor = np.sqrt(j / (j + 1.0))
        for c in range(k):
            mean_others = (csum[b + 1, c] - csum[a, c] - d[g, c]) / j
            out[g, c] = factor * (d[g, c] - mean_others)
    return out


@numba.njit(cache=True)
def _nn_residuals(x: np.ndarray, d: np.ndarray, nnmatch: int) -> np.ndarray:
    """One pass: tie groups, each group's neighbourhood (as :func:`_neighbourhoods`, with
    the two-way comparison written without branches) and the residuals."""
    n, k = d.shape
    target = min(nnmatch, n - 1)
    # runs of tied values: group g holds rows gstart[g] .. gstart[g + 1] - 1
    gstart = np.empty(n + 1, np.int64)
    m = 0
    for i in range(n):
        if i == 0 or x[i] != x[i - 1]:
            gstart[m] = i
            m += 1
    gstart[m] = n
    csum = np.zeros((n + 1, k))
    for i in range(n):
        for c in range(k):
            csum[i + 1, c] = csum[i, c] + d[i, c]
    if m == n:
        return _nn_distinct(x, d, csum, target)
    out = np.empty((n, k))
    for g in range(m):
        a, b = g, g
        value = x[gstart[g]]
        total = gstart[g + 1] - gstart[g]
        while total - 1 < target:
            dl = value - x[gstart[max(a - 1, 0)]]
            dr = x[gstart[min(b + 1, m - 1)]] - value
            go_left = a > 0 and (b == m - 1 or dl <= dr)
            go_right = b < m - 1 and (a == 0 or dr <= dl)
            if go_left:
                a -= 1
            if go_right:
                b += 1
            total = gstart[b + 1] - gstart[a]
        first, last = gstart[a], gstart[b + 1]
        j = float(last - first - 1)
        factor = np.sqrt(j / (j + 1.0))
        for i in range(gstart[g], gstart[g + 1]):
            for c in range(k):
                mean_others = (csum[last, c] - csum[first, c] - d[i, c]) / j
                out[i, c] = factor * (d[i, c] - mean_others)
    return out


def nn_residuals(x: np.ndarray, d: np.ndarray, nnmatch: int) -> np.ndarray:
    """Nearest-neighbour residuals of each column of ``d`` (rows sorted by ``x``)."""
    n = x.shape[0]
    if n < 2:
        return np.zeros_like(d)
    xs = np.ascontiguousarray(x, dtype=float)
    ds = np.ascontiguousarray(d, dtype=float)
    return _nn_residuals(xs, ds, int(nnmatch))

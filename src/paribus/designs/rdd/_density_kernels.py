"""Kernel constants of the local polynomial density estimator, computed exactly.

The matrices of Cattaneo, Jansson & Ma (2020, JASA, "Simple local polynomial density
estimators", Sec. 2-3) for the basis ``r(u) = (1, u, ..., u^p)`` and a kernel ``K``
supported on ``[-1, 1]``::

    S = int r(u) r(u)' K(u) du                     (Gram matrix)
    C_k = int r(u) u^k K(u) du                     (leading bias)
    G = int int r(u) r(v)' min(u, v) K(u) K(v)     (variance of the CDF fit)

over ``[low, up]``. The kernels are polynomial on ``[-1, 0]`` and ``[0, 1]`` with rational
coefficients, so every entry is a rational number; we integrate in ``Fraction`` arithmetic
and invert exactly, which keeps high orders (a Hilbert-like ``S``) accurate.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import factorial

import numpy as np

__all__ = ["KERNELS", "kernel_matrices", "kernel_weights", "pilot_constants"]

KERNELS = ("triangular", "epanechnikov", "uniform")

Poly = tuple[Fraction, ...]  # coefficients, lowest power first

_F = Fraction
# (left piece on [-1, 0], right piece on [0, 1])
_PIECES: dict[str, tuple[Poly, Poly]] = {
    "triangular": ((_F(1), _F(1)), (_F(1), _F(-1))),
    "uniform": ((_F(1, 2),), (_F(1, 2),)),
    "epanechnikov": ((_F(3, 4), _F(0), _F(-3, 4)), (_F(3, 4), _F(0), _F(-3, 4))),
}


def _mul(a: Poly, b: Poly) -> Poly:
    out = [_F(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return tuple(out)


def _shift(a: Poly, k: int) -> Poly:
    """``u^k * a(u)``."""
    return (_F(0),) * k + a


def _antiderivative(a: Poly) -> Poly:
    return (_F(0), *(c / (i + 1) for i, c in enumerate(a)))


def _eval(a: Poly, x: Fraction) -> Fraction:
    return sum((c * x**i for i, c in enumerate(a)), _F(0))


def _integral(a: Poly, lo: Fraction, hi: Fraction) -> Fraction:
    big = _antiderivative(a)
    return _eval(big, hi) - _eval(big, lo)


def _pieces(low: int, up: int, kernel: str) -> list[tuple[Fraction, Fraction, Poly]]:
    left, right = _PIECES[kernel]
    out = []
    for a, b, poly in ((-1, 0, left), (0, 1, right)):
        lo, hi = max(a, low), min(b, up)
        if hi > lo:
            out.append((_F(lo), _F(hi), poly))
    return out


def _inverse(m: list[list[Fraction]]) -> list[list[Fraction]]:
    """Gauss-Jordan inverse in exact arithmetic."""
    n = len(m)
    a = [[*row, *(_F(int(i == j)) for j in range(n))] for i, row in enumerate(m)]
    for col in range(n):
        piv = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[piv] = a[piv], a[col]
        inv_p = 1 / a[col][col]
        a[col] = [x * inv_p for x in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


@lru_cache(maxsize=64)
def _exact(p: int, low: int, up: int, kernel: str, k: int) -> tuple:
    pcs = _pieces(low, up, kernel)
    s = [
        [sum((_integral(_shift(K, i + j), a, b) for a, b, K in pcs), _F(0)) for j in range(p + 1)]
        for i in range(p + 1)
    ]
    c = [sum((_integral(_shift(K, i + k), a, b) for a, b, K in pcs), _F(0)) for i in range(p + 1)]
    # G = T + T' with T_ij = int int_{u < v} u^(i+1) v^j K(u) K(v)
    t = [[_F(0)] * (p + 1) for _ in range(p + 1)]
    for i in range(p + 1):
        before = _F(0)
        for a, b, K in pcs:
            inner = _antiderivative(_shift(K, i + 1))
            inner = (inner[0] - _eval(inner, a) + before, *inner[1:])  # int_low^v
            for j in range(p + 1):
                t[i][j] += _integral(_mul(_shift(K, j), inner), a, b)
            before += _integral(_shift(K, i + 1), a, b)
    g = [[t[i][j] + t[j][i] for j in range(p + 1)] for i in range(p + 1)]
    return s, c, g, _inverse(s)


def kernel_matrices(
    p: int, kernel: str, *, low: int = 0, up: int = 1, k: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(S, C_k, G, S^{-1})`` for order ``p`` on ``[low, up]``; ``k`` defaults to ``p + 1``."""
    s, c, g, s_inv = _exact(p, low, up, kernel, p + 1 if k is None else k)
    as_float = np.vectorize(float, otypes=[float])
    return (
        as_float(np.array(s)),
        as_float(np.array(c)),
        as_float(np.array(g)),
        as_float(np.array(s_inv)),
    )


def _ratio(p: int, nu: int) -> float:
    """``((p+1)!)^2 V / B^2`` for the ``nu``-th coefficient of an order-``p`` boundary fit."""
    _, c, g, si = _exact(p, 0, 1, "uniform", p + 1)
    n = p + 1
    row = si[nu]
    var = sum(row[i] * g[i][j] * row[j] for i in range(n) for j in range(n))
    bias = sum(row[i] * c[i] for i in range(n))
    return float(factorial(p + 1) ** 2 * var / bias**2)


@lru_cache(maxsize=16)
def pilot_constants(p: int) -> tuple[float, float]:
    """Normal-reference constants of the two pilot bandwidths for order ``p``.

    The first is for the ``(p+1)``-th derivative from an order ``p + 2`` fit (bias
    pilot), the second for the density from an order ``p`` fit (variance pilot); both
    are the boundary constants of the uniform kernel, as in the reference implementation
    of Cattaneo, Jansson & Ma (2018, Stata Journal), whatever kernel is used afterwards.
    """
    return _ratio(p + 2, p + 1), _ratio(p, 1)


def kernel_weights(u: np.ndarray, kernel: str) -> np.ndarray:
    """``K(u)`` for ``|u| <= 1`` (callers pass only points inside the window)."""
    if kernel == "triangular":
        return 1.0 - np.abs(u)
    if kernel == "epanechnikov":
        return 0.75 * (1.0 - u**2)
    return np.full_like(u, 0.5)

"""Fused kernel-weighted moment sums of one side's local polynomial fits (numba).

A ``p``-th order fit at bandwidth ``h`` needs only sums over its window: with
``t = u / h`` and ``w = K(t) / h``, the Gram matrix ``R'WR`` is the Hankel matrix of
``S_m = sum w t^m`` (``m <= 2p``), ``R'W d`` is ``T_{m,c} = sum w t^m d_c`` and the
sandwich meat ``sum (w r)(w r)' e^2`` is the Hankel matrix of ``Q_m = sum w^2 e^2 t^m``.
One pass over the (contiguous, sorted) window computes each, without forming the
design matrix.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "KERNEL_CODES",
    "fit_meats",
    "hankel",
    "hc_combined",
    "hc_matrix",
    "meat_sums",
    "moment_sums",
    "window",
]

KERNEL_CODES = {"triangular": 0, "uniform": 1, "epanechnikov": 2}


@numba.njit(cache=True, inline="always")
def _weight(u: float, h: float, code: int) -> float:
    """``K(u / h) / h`` (as :func:`paribus.designs.rdd.kernels.kernel_weights`)."""
    a = abs(u) / h
    if a > 1.0:
        return 0.0
    if code == 0:
        return (1.0 - a) / h
    if code == 2:
        return 0.75 * (1.0 - a * a) / h
    return 0.5 / h


@numba.njit(cache=True)
def _window(u: np.ndarray, h: float, code: int) -> tuple:
    """``[lo, hi)``: the units of sorted ``u`` with positive weight at ``h``."""
    n = u.shape[0]
    lo = np.searchsorted(u, -h, side="left")
    hi = np.searchsorted(u, h, side="right")
    while lo < hi and _weight(u[lo], h, code) <= 0.0:
        lo += 1
    while hi > lo and _weight(u[hi - 1], h, code) <= 0.0:
        hi -= 1
    if hi <= lo:
        return 0, 0
    return min(lo, n), hi


def window(u: np.ndarray, h: float, kernel: str) -> tuple[int, int]:
    """Slice bounds of the units with positive kernel weight (``u`` sorted; the weight
    is monotone in ``|u|`` on one side, so zero weights can only sit at the ends)."""
    lo, hi = _window(u, float(h), KERNEL_CODES[kernel])
    return int(lo), int(hi)


_BLOCK = 512


@numba.njit(cache=True, fastmath=True)
def _block_sums(pw: np.ndarray, t: np.ndarray, nb: int) -> float:
    """``sum pw[:nb]``, then ``pw *= t`` (vectorised: the order of the sum is free)."""
    acc = 0.0
    for i in range(nb):
        acc += pw[i]
    for i in range(nb):
        pw[i] *= t[i]
    return acc


@numba.njit(cache=True, fastmath=True)
def _block_weights(
    u: np.ndarray, start: int, nb: int, h: float, code: int, pw: np.ndarray, t: np.ndarray
) -> None:
    """Kernel weights and ``u / h`` of ``u[start : start + nb]`` (vectorised)."""
    for i in range(nb):
        pw[i] = _weight(u[start + i], h, code)
        t[i] = u[start + i] / h


@numba.njit(cache=True, fastmath=True)
def _block_dot(pw: np.ndarray, d: np.ndarray, start: int, nb: int, c: int) -> float:
    acc = 0.0
    for i in range(nb):
        acc += pw[i] * d[start + i, c]
    return acc


@numba.njit(cache=True)
def _moment_sums(
    u: np.ndarray, d: np.ndarray, h: float, code: int, order_s: int, order_t: int
) -> tuple:
    n, k = d.shape
    s = np.zeros(order_s + 1)
    t_sums = np.zeros((order_t + 1, k))
    pw = np.empty(_BLOCK)
    t = np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        nb = min(_BLOCK, n - start)
        _block_weights(u, start, nb, h, code, pw, t)
        for m in range(order_s + 1):
            if m <= order_t:
                for c in range(k):
                    t_sums[m, c] += _block_dot(pw, d, start, nb, c)
            s[m] += _block_sums(pw, t, nb)
    return s, t_sums


def moment_sums(
    u: np.ndarray, d: np.ndarray, h: float, kernel: str, order_s: int, order_t: int
) -> tuple[np.ndarray, np.ndarray]:
    """``S_m`` (``m <= order_s``) and ``T_{m,c}`` (``m <= order_t``) over a window."""
    return _moment_sums(u, d, float(h), KERNEL_CODES[kernel], order_s, order_t)


@numba.njit(cache=True)
def _meat_sums(u: np.ndarray, e: np.ndarray, h: float, code: int, order: int) -> np.ndarray:
    n = u.shape[0]
    q = np.zeros(2 * order + 1)
    pw = np.empty(_BLOCK)
    t = np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        nb = min(_BLOCK, n - start)
        _block_weights(u, start, nb, h, code, pw, t)
        for i in range(nb):
            pw[i] *= pw[i] * e[start + i] * e[start + i]
        for m in range(2 * order + 1):
            q[m] += _block_sums(pw, t, nb)
    return q


def meat_sums(u: np.ndarray, e: np.ndarray, h: float, kernel: str, order: int) -> np.ndarray:
    """``Q_m = sum w^2 e^2 t^m`` for ``m <= 2 order`` over a window."""
    return _meat_sums(u, e, float(h), KERNEL_CODES[kernel], order)


@numba.njit(cache=True)
def _hc_combined(
    u: np.ndarray,
    d: np.ndarray,
    s: np.ndarray,
    coef: np.ndarray,
    ginv: np.ndarray,
    h: float,
    code: int,
    vce: int,
) -> np.ndarray:
    n = u.shape[0]
    k = coef.shape[0]
    out = np.empty(n)
    r = np.empty(k)
    for i in range(n):
        t = u[i] / h
        pw = 1.0
        fit = 0.0
        for j in range(k):
            r[j] = pw
            fit += pw * coef[j]
            pw *= t
        e = -fit
        for c in range(d.shape[1]):
            e += s[c] * d[i, c]
        if vce >= 2:
            lev = 0.0
            for j in range(k):
                acc = 0.0
                for m in range(k):
                    acc += ginv[j, m] * r[m]
                lev += r[j] * acc
            lev *= _weight(u[i], h, code)
            e = e / (np.sqrt(1.0 - lev) if vce == 2 else 1.0 - lev)
        out[i] = e
    if vce == 1:
        factor = np.sqrt(n / (n - k))
        for i in range(n):
            out[i] *= factor
    return out


def hc_combined(
    u: np.ndarray,
    d: np.ndarray,
    s: np.ndarray,
    beta: np.ndarray,
    ginv: np.ndarray,
    h: float,
    kernel: str,
    vce: str,
) -> np.ndarray:
    """HC0-HC3 residuals of the combination ``s`` of the columns of ``d``.

    ``beta`` holds the scaled coefficients of the fit (``(order + 1, k)``) and ``ginv``
    the inverse scaled Gram matrix (for the leverage of HC2/HC3).
    """
    code = {"hc0": 0, "hc1": 1, "hc2": 2, "hc3": 3}[vce]
    return _hc_combined(u, d, s, beta @ s, ginv, float(h), KERNEL_CODES[kernel], code)


def hankel(sums: np.ndarray, order: int, shift: int = 0) -> np.ndarray:
    """``(order + 1) x (order + 1)`` matrix with entries ``sums[shift + j + l]``."""
    idx = np.arange(order + 1)
    return sums[shift + idx[:, None] + idx[None, :]]


@numba.njit(cache=True)
def _hc_matrix(
    u: np.ndarray, d: np.ndarray, beta: np.ndarray, ginv: np.ndarray, h: float, code: int, vce: int
) -> np.ndarray:
    n, k = d.shape
    order = beta.shape[0]
    out = np.empty((n, k))
    r = np.empty(order)
    factor = np.sqrt(n / (n - order)) if vce == 1 else 1.0
    for i in range(n):
        t = u[i] / h
        pw = 1.0
        for j in range(order):
            r[j] = pw
            pw *= t
        scale = factor
        if vce >= 2:
            lev = 0.0
            for j in range(order):
                acc = 0.0
                for m in range(order):
                    acc += ginv[j, m] * r[m]
                lev += r[j] * acc
            lev *= _weight(u[i], h, code)
            scale = 1.0 / (np.sqrt(1.0 - lev) if vce == 2 else 1.0 - lev)
        for c in range(k):
            fit = 0.0
            for j in range(order):
                fit += r[j] * beta[j, c]
            out[i, c] = (d[i, c] - fit) * scale
    return out


def hc_matrix(
    u: np.ndarray,
    d: np.ndarray,
    beta: np.ndarray,
    ginv: np.ndarray,
    h: float,
    kernel: str,
    vce: str,
) -> np.ndarray:
    """HC0-HC3 residuals of every column of ``d`` for scaled coefficients ``beta``."""
    code = {"hc0": 0, "hc1": 1, "hc2": 2, "hc3": 3}[vce]
    return _hc_matrix(u, d, beta, ginv, float(h), KERNEL_CODES[kernel], code)


@numba.njit(cache=True)
def _fit_meats(
    u: np.ndarray,
    e_h: np.ndarray,
    e_b: np.ndarray,
    h: float,
    b: float,
    code: int,
    p: int,
    q: int,
    gq_col: np.ndarray,
    lead: np.ndarray,
    rho: float,
) -> tuple:
    k = e_h.shape[1]
    m_cl = np.zeros((k, k, p + 1, p + 1))
    m_rb = np.zeros((k, k, p + 1, p + 1))
    a_cl = np.empty(p + 1)
    a_rb = np.empty(p + 1)
    for i in range(u.shape[0]):
        th = u[i] / h
        tb = u[i] / b
        pw = _weight(u[i], h, code)
        for j in range(p + 1):
            a_cl[j] = pw
            pw *= th
        pw = _weight(u[i], b, code)
        a_q = 0.0
        for j in range(q + 1):
            a_q += pw * gq_col[j]
            pw *= tb
        for j in range(p + 1):
            a_rb[j] = a_cl[j] - rho * a_q * lead[j]
        for c in range(k):
            for c2 in range(k):
                ee_h = e_h[i, c] * e_h[i, c2]
                ee_b = e_b[i, c] * e_b[i, c2]
                for j in range(p + 1):
                    for m in range(p + 1):
                        m_cl[c, c2, j, m] += a_cl[j] * a_cl[m] * ee_h
                        m_rb[c, c2, j, m] += a_rb[j] * a_rb[m] * ee_b
    return m_cl, m_rb


def fit_meats(
    u: np.ndarray,
    e_h: np.ndarray,
    e_b: np.ndarray,
    h: float,
    b: float,
    kernel: str,
    p: int,
    q: int,
    gq_col: np.ndarray,
    lead: np.ndarray,
    rho: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Meats of the conventional and bias-corrected fits for every pair of columns.

    ``m[c, c']`` is ``sum a_i a_i' e_ic e_ic'`` with ``a_i`` the conventional weight row
    ``W_h r_i`` or the bias-corrected one ``W_h r_i - rho L a_q,i`` (see
    :mod:`paribus.designs.rdd.local_poly`); the meat of a combination ``s`` of columns
    is ``sum_cc' s_c s_c' m[c, c']``.
    """
    return _fit_meats(
        u, e_h, e_b, float(h), float(b), KERNEL_CODES[kernel], p, q, gq_col, lead, float(rho)
    )

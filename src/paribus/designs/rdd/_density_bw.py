"""MSE-optimal bandwidths for the density estimators at the cutoff.

Cattaneo, Jansson & Ma (2020, JASA, Sec. 4; 2018, Stata Journal, ``rdbwdensity``): the
bandwidth minimising the asymptotic MSE of an order-``p`` boundary density estimator is
``h = (V / (2p B^2 n))^(1/(2p+1))`` with ``V = n h Var(f_hat)`` and ``B`` the leading bias
constant ``F^(p+1)(c)/(p+1)! * (S^{-1} C_{p+1})_1``. ``V`` is estimated by the variance of
an order-``p`` fit at a normal-reference pilot bandwidth, and ``F^(p+1)`` by an order
``p + 2`` fit at a second pilot. The four targets are the left density, the right
density, their difference and their sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import hermite_e
from scipy import stats

from paribus.designs.rdd._density_fit import (
    SideFit,
    ecdf_values,
    embed,
    fit_sides,
    reflection,
)
from paribus.designs.rdd._density_kernels import kernel_matrices, pilot_constants

__all__ = ["Bandwidths", "select_bandwidths"]


@dataclass(frozen=True)
class Bandwidths:
    """MSE-optimal bandwidths for ``left, right, diff, sum`` with their variance and bias^2."""

    h: np.ndarray
    variance: np.ndarray
    bias_sq: np.ndarray


def _kth_nearest(values: np.ndarray, k: int) -> float:
    """The ``k``-th smallest absolute value (or the largest when fewer)."""
    a = np.sort(np.abs(values))
    return float(a[min(k, a.size) - 1])


def _pilots(
    x: np.ndarray, xu: np.ndarray, p: int, regularize: bool, local_min: bool, unique_min: bool
) -> tuple[float, float]:
    """Normal-reference pilots: ``b`` for ``F^(p+1)`` (order p+2), ``c`` for the variance."""
    n = x.size
    mu, sd = float(np.mean(x)), float(np.std(x, ddof=1))
    z = mu / sd
    phi = float(stats.norm.pdf(z))
    he_b = float(hermite_e.hermeval(z, [0] * (p + 2) + [1]))
    he_c = float(hermite_e.hermeval(z, [0] * p + [1]))
    cb, cc = pilot_constants(p)
    b = ((2 * p + 1) / 4 * cb / (he_b**2 * phi) / n) ** (1 / (2 * p + 5)) * sd
    c = (1 / (2 * p) * cc / (he_c**2 * phi) / n) ** (1 / (2 * p + 1)) * sd
    if regularize:
        far = float(np.max(np.abs(xu)))
        b, c = min(b, far), min(c, far)
        for vals, use in ((x, local_min), (xu, unique_min)):
            if use:
                left, right = vals[vals < 0], vals[vals >= 0]
                b = max(b, _kth_nearest(left, p + 23), _kth_nearest(right, p + 23))
                c = max(c, _kth_nearest(left, p + 21), _kth_nearest(right, p + 21))
    return b, c


def _bias(fit_b: np.ndarray, f_c: np.ndarray, p: int, kernel: str, restricted: bool) -> np.ndarray:
    """Leading bias constants (left, right, diff, sum) at unit bandwidth."""
    s_mat, c_vec, _, s_inv = kernel_matrices(p, kernel)
    if not restricted:
        const = (s_inv @ c_vec)[1]
        bl, br = fit_b[0] * const * (-1) ** p, fit_b[1] * const
    else:
        sp, cp, psi = embed(s_mat), embed(c_vec), reflection(p)
        a_inv = np.linalg.inv(f_c[1] * sp + f_c[0] * psi @ sp @ psi)
        t = a_inv @ (fit_b[0] * (f_c[1] * cp + (-1) ** (p + 1) * f_c[0] * psi @ cp))
        bl, br = t[1], t[2]
    return np.array([bl, br, br - bl, br + bl])


def select_bandwidths(
    x: np.ndarray,
    p: int,
    kernel: str,
    restricted: bool,
    vce: str,
    mass_points: bool,
    regularize: bool,
    n_local_min: int,
    n_unique_min: int,
) -> Bandwidths:
    """Bandwidths for the sorted running variable ``x`` centred at the cutoff."""
    n = x.size
    xu = np.unique(x)
    y = ecdf_values(x, mass_points)
    b, c = _pilots(x, xu, p, regularize, n_local_min > 0, n_unique_min > 0)

    def fit(h: float, order: int, s: int) -> SideFit:
        inside = np.abs(x) <= h
        return fit_sides(
            x[inside], y[inside], n, h, h, order, s, kernel, restricted, vce, mass_points
        )

    fit_b, fit_c = fit(b, p + 2, p + 1), fit(c, p, 1)
    variance = n * c * fit_c.var
    bias_sq = _bias(fit_b.deriv, fit_c.hat, p, kernel, restricted) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (variance / (2 * p * bias_sq * n)) ** (1 / (2 * p + 1))
    h = np.where(np.isfinite(h), h, 0.0)
    if regularize:
        far_l, far_r = abs(float(xu[0])), float(xu[-1])
        h = np.minimum(h, [far_l, far_r, max(far_l, far_r), max(far_l, far_r)])
        for vals, k in ((x, n_local_min), (xu, n_unique_min)):
            if k > 0:
                lo = _kth_nearest(vals[vals < 0], k)
                hi = _kth_nearest(vals[vals >= 0], k)
                h = np.maximum(h, [lo, hi, max(lo, hi), max(lo, hi)])
    return Bandwidths(h=h, variance=variance, bias_sq=bias_sq)

"""Local polynomial fits of the empirical CDF on both sides of a cutoff.

Cattaneo, Jansson & Ma (2020, JASA) estimate a density at a boundary point by a
weighted least-squares fit of the empirical distribution function ``F_hat(x_i)`` on
``(1, x_i - c, ..., (x_i - c)^p)``: the slope is ``f(c)``. Fitted separately on each side
("unrestricted") the two slopes are the one-sided densities; the "restricted" model
shares the intercept (the CDF is continuous) and the higher-order terms, with one slope
per side.

Writing ``beta_hat = S^{-1} sum_j r_j w_j F_hat(x_j)`` with
``F_hat(x_j) = (n-1)^{-1} sum_{i != j} 1(x_i <= x_j)`` shows that the estimator is a sum
over units ``i`` of ``L_i = (n-1)^{-1} sum_{j: x_j > x_i} r_j w_j``; the jackknife
covariance is ``S^{-1} (sum_i L_i L_i') S^{-1}`` (CJM 2020, Sec. 2.2). Tied values (mass
points) share the CDF value of the tie and one ``L`` (Cattaneo, Jansson & Ma 2018).
The plug-in alternative uses the asymptotic kernel constants (CJM 2020, Theorem 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paribus.designs.rdd._density_kernels import kernel_matrices, kernel_weights
from paribus.errors import DataError

__all__ = ["SideFit", "ecdf_values", "embed", "fit_sides", "reflection"]


@dataclass(frozen=True)
class SideFit:
    """Estimates from one fit; index 0 left, 1 right, 2 difference (right - left), 3 sum."""

    hat: np.ndarray  # densities
    var: np.ndarray  # variances (nan where negative)
    deriv: np.ndarray  # coefficient of (x - c)^s on each side (left, right)


def ecdf_values(x_sorted: np.ndarray, mass_points: bool) -> np.ndarray:
    """``rank / (n - 1)``; with ``mass_points`` ties take the largest rank of their group."""
    n = x_sorted.size
    y = np.arange(n) / (n - 1)
    if not mass_points:
        return y
    last = np.searchsorted(x_sorted, x_sorted, side="right") - 1
    return y[last]


def reflection(p: int) -> np.ndarray:
    """Map the restricted basis ``(1, 0, u, u^2, ...)`` at ``u`` to ``(1, -u, 0, u^2, ...)``."""
    psi = np.diag(np.r_[1.0, 0.0, 0.0, (-1.0) ** np.arange(2, p + 1)])
    psi[1, 2] = psi[2, 1] = -1.0
    return psi


def embed(m: np.ndarray) -> np.ndarray:
    """Insert the (zero) left-slope coordinate at index 1 of an order-p kernel matrix."""
    m = np.insert(m, 1, 0.0, axis=0)
    return np.insert(m, 1, 0.0, axis=1) if m.ndim == 2 else m


def _design(
    x: np.ndarray, nl: int, hl: float, hr: float, p: int, restricted: bool
) -> tuple[np.ndarray, np.ndarray]:
    u = np.r_[x[:nl] / hl, x[nl:] / hr]
    left = np.arange(x.size) < nl
    powers = u[:, None] ** np.arange(p + 1)
    if restricted:
        design = np.column_stack(
            [np.ones_like(u), np.where(left, u, 0.0), np.where(left, 0.0, u), powers[:, 2:]]
        )
        scale = 1.0 / hl ** np.r_[0, 1, 1, np.arange(2, p + 1)]
    else:  # left block then right block
        design = np.column_stack([powers * left[:, None], powers * ~left[:, None]])
        scale = np.r_[1.0 / hl ** np.arange(p + 1), 1.0 / hr ** np.arange(p + 1)]
    return design, scale


def fit_sides(
    x: np.ndarray,
    y: np.ndarray,
    n: int,
    hl: float,
    hr: float,
    p: int,
    s: int,
    kernel: str,
    restricted: bool,
    vce: str,
    mass_points: bool,
) -> SideFit:
    """Fit order ``p`` on the window ``x`` (sorted, centred at the cutoff).

    ``y`` are the full-sample CDF values of the window's points, ``n`` the full sample
    size; ``s`` picks the derivative coefficient reported in ``deriv``; ``mass_points``
    gives tied values one jackknife term.
    """
    nl = int(np.sum(x < 0))
    u = np.r_[x[:nl] / hl, x[nl:] / hr]
    w = kernel_weights(u, kernel) / np.r_[np.full(nl, hl), np.full(x.size - nl, hr)]
    design, scale = _design(x, nl, hl, hr, p, restricted)
    xw = design * w[:, None]
    gram = xw.T @ design
    try:
        gram_inv = np.linalg.inv(gram)
    except np.linalg.LinAlgError:
        raise DataError(
            "running variable: too few distinct values near the cutoff for a local "
            f"polynomial of order {p}; use a larger bandwidth or a lower order p."
        ) from None
    beta = (gram_inv @ (xw.T @ y)) * scale
    il, ir = (1, 2) if restricted else (1, p + 2)
    if restricted:
        deriv = np.array([beta[s + 1], beta[s + 1]]) if s >= 2 else beta[[1, 2]]
    else:
        deriv = beta[[s, p + 1 + s]]
    hat = np.array([beta[il], beta[ir], beta[ir] - beta[il], beta[ir] + beta[il]])

    if vce == "jackknife":
        # L_i = sum over later rows; with ties, every member takes the first member's sum
        tails = np.cumsum(xw[::-1], axis=0)[::-1]  # sum_{j >= i}
        later = np.vstack([tails[1:], np.zeros((1, tails.shape[1]))]) / (n - 1)
        first = np.searchsorted(x, x, side="left") if mass_points else np.arange(x.size)
        lmat = later[first]
        cov = (gram_inv @ (lmat.T @ lmat) @ gram_inv) * np.outer(scale, scale)
        vl, vr, c = cov[il, il], cov[ir, ir], cov[il, ir]
        var = np.array([vl, vr, vl + vr - 2 * c, vl + vr + 2 * c])
    else:
        var = _plugin_variance(hat, n, hl, hr, p, kernel, restricted)
    var = np.where(var < 0, np.nan, var)
    return SideFit(hat=hat, var=var, deriv=deriv)


def _plugin_variance(
    hat: np.ndarray, n: int, hl: float, hr: float, p: int, kernel: str, restricted: bool
) -> np.ndarray:
    """Asymptotic variances from the boundary kernel constants (CJM 2020, Theorem 1)."""
    s_mat, _, g_mat, s_inv = kernel_matrices(p, kernel)
    if not restricted:
        v = (s_inv @ g_mat @ s_inv)[1, 1]
        vl, vr = hat[0] * v / (n * hl), hat[1] * v / (n * hr)
        return np.array([vl, vr, vl + vr, vl + vr])
    fl, fr = hat[0], hat[1]
    sp, gp, psi = embed(s_mat), embed(g_mat), reflection(p)
    a_inv = np.linalg.inv(fl * psi @ sp @ psi + fr * sp)
    v = a_inv @ (fl**3 * psi @ gp @ psi + fr**3 * gp) @ a_inv / (n * hl)
    return np.array(
        [v[1, 1], v[2, 2], v[1, 1] + v[2, 2] - 2 * v[1, 2], v[1, 1] + v[2, 2] + 2 * v[1, 2]]
    )

"""One side of the cutoff: kernel-weighted local polynomial fits and their pieces.

All fits use the scaled design ``r(u / h) = (1, u/h, ..., (u/h)^p)`` (``u = x - c``),
which is better conditioned than raw powers; coefficient ``j`` of the raw design is
the scaled one divided by ``h^j``.

The bias-corrected fit of Calonico, Cattaneo & Titiunik (2014, eq. 3-4) subtracts the
leading bias ``G_p^{-1} sum_i r_i W_i u_i^{p+1} beta_{p+1}`` with ``beta_{p+1}``
estimated by a ``q``-th order fit at bandwidth ``b``; it is linear in the outcome
with weights ``Q_i = r_i W_{h,i} - rho^{p+1} L a_i`` (``rho = h / b``), so its
variance uses the same sandwich with ``Q_i`` in place of ``r_i W_{h,i}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paribus.designs.rdd._moments import fit_meats, hankel, hc_matrix, moment_sums, window
from paribus.designs.rdd.kernels import kernel_weights
from paribus.designs.rdd.residuals import nn_residuals

__all__ = ["SideData", "SideFit", "fit_side", "hc_residuals", "inverse_gram", "powers"]


@dataclass(frozen=True)
class SideData:
    """One side's data, rows sorted by the centred running variable ``u``.

    ``d`` holds the outcome, then the treatment (fuzzy designs), then covariates.
    """

    u: np.ndarray
    d: np.ndarray
    clusters: np.ndarray | None

    def window(self, mask: np.ndarray | slice) -> SideData:
        cl = None if self.clusters is None else self.clusters[mask]
        return SideData(self.u[mask], self.d[mask], cl)

    def kernel_window(self, h: float, kernel: str) -> tuple[SideData, np.ndarray]:
        """The units with positive kernel weight at bandwidth ``h`` and their weights.

        ``u`` is sorted, so the window is a contiguous slice found by bisection.
        """
        lo, hi = np.searchsorted(self.u, [-h, h], side="left")
        hi = np.searchsorted(self.u, h, side="right")
        w = kernel_weights(self.u[lo:hi], h, kernel)
        pos = np.flatnonzero(w > 0)
        if pos.size == 0:
            return self.window(slice(0, 0)), w[:0]
        first, last = int(pos[0]), int(pos[-1]) + 1
        return self.window(slice(lo + first, lo + last)), w[first:last]


def powers(t: np.ndarray, order: int) -> np.ndarray:
    """``(1, t, ..., t^order)`` as columns."""
    out = np.empty((t.shape[0], order + 1))
    out[:, 0] = 1.0
    for j in range(1, order + 1):
        np.multiply(out[:, j - 1], t, out=out[:, j])
    return out


def inverse_gram(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(R' W R)^{-1}``."""
    return np.linalg.inv((r * w[:, None]).T @ r)


def hc_residuals(
    d: np.ndarray, r: np.ndarray, w: np.ndarray, ginv: np.ndarray, vce: str
) -> np.ndarray:
    """Residuals of the weighted fit, rescaled for HC1-HC3 (MacKinnon & White 1985)."""
    beta = ginv @ ((r * w[:, None]).T @ d)
    res = d - r @ beta
    n, k = r.shape
    if vce == "hc1":
        return res * np.sqrt(n / (n - k))
    if vce in ("hc2", "hc3"):
        lev = np.einsum("ij,jk,ik->i", r, ginv, r) * w
        power = 0.5 if vce == "hc2" else 1.0
        return res / ((1.0 - lev) ** power)[:, None]
    return res


def residuals(
    side: SideData, r: np.ndarray, w: np.ndarray, ginv: np.ndarray, vce: str, nnmatch: int
) -> np.ndarray:
    """Residuals for the variance: nearest-neighbour (``vce="nn"``) or of the fit.

    With clusters, ``nn`` and ``hc1`` use the plain fit residuals: the cluster sum
    carries its own small-sample factor (as rdrobust does).
    """
    if side.clusters is not None and vce in ("nn", "hc1"):
        vce = "hc0"
    if vce == "nn":
        return nn_residuals(side.u, side.d, nnmatch)
    return hc_residuals(side.d, r, w, ginv, vce)


@dataclass(frozen=True)
class SideFit:
    """Scaled coefficients and influence weights of one side's fits at ``(h, b)``.

    ``beta_p``/``beta_bc`` are ``(p + 1, k)`` scaled coefficients of the conventional
    and bias-corrected fits; ``a_cl``/``a_rb`` the weight rows whose sandwiches give
    their variances with ``res_h``/``res_b``; ``ginv`` the scaled ``G_p^{-1}``.
    """

    h: float
    b: float
    q: int
    beta_p: np.ndarray
    beta_bc: np.ndarray
    ginv: np.ndarray
    a_cl: np.ndarray | None
    a_rb: np.ndarray | None
    res_h: np.ndarray
    res_b: np.ndarray
    d: np.ndarray
    clusters: np.ndarray | None
    n_h: int
    n_b: int
    # without clusters or covariates: the meats of every pair of columns, ``(k, k, p+1,
    # p+1)``, from one fused pass (then ``a_cl``/``a_rb`` are not formed)
    meat_cl: np.ndarray | None = None
    meat_rb: np.ndarray | None = None


def fit_side(
    side: SideData,
    h: float,
    b: float,
    p: int,
    q: int,
    kernel: str,
    vce: str,
    nnmatch: int,
    *,
    moments: bool = False,
) -> SideFit:
    """Conventional and bias-corrected local polynomial fits of every column of ``d``.

    ``moments=True`` (no clusters, no covariates) computes the fits from kernel-weighted
    moment sums and the variances' meats in one pass, without design matrices.
    """
    if moments and side.clusters is None:
        return _fit_side_moments(side, h, b, p, q, kernel, vce, nnmatch)
    win, w_big = side.kernel_window(max(h, b), kernel)
    wh = w_big if h >= b else kernel_weights(win.u, h, kernel)
    wb = w_big if b >= h else kernel_weights(win.u, b, kernel)
    n_h = int(np.count_nonzero(wh > 0))
    n_b = int(np.count_nonzero(wb > 0))
    rp = powers(win.u / h, p)
    rq = powers(win.u / b, q)
    gp = inverse_gram(rp, wh)
    gq = inverse_gram(rq, wb)
    a_cl = rp * wh[:, None]
    # coefficient p+1 of the q-th order fit, as weights on each unit (scaled by b)
    a_q = (rq * wb[:, None]) @ gq[:, p + 1]
    lead = a_cl.T @ (win.u / h) ** (p + 1)
    a_rb = a_cl - (h / b) ** (p + 1) * np.outer(a_q, lead)
    beta_p = gp @ (a_cl.T @ win.d)
    beta_bc = gp @ (a_rb.T @ win.d)
    if vce == "nn" and side.clusters is None:
        res_h = res_b = nn_residuals(win.u, win.d, nnmatch)
    elif side.clusters is not None and vce in ("nn", "hc1"):
        # clustered: plain fit residuals, the CR1 factor is applied to the sum
        res_h = hc_residuals(win.d, rp, wh, gp, "hc0")
        res_b = hc_residuals(win.d, rq, wb, gq, "hc0")
    else:
        res_h = hc_residuals(win.d, rp, wh, gp, vce)
        res_b = hc_residuals(win.d, rq, wb, gq, vce)
    return SideFit(
        h, b, q, beta_p, beta_bc, gp, a_cl, a_rb, res_h, res_b, win.d, win.clusters, n_h, n_b
    )


def _fit_side_moments(
    side: SideData, h: float, b: float, p: int, q: int, kernel: str, vce: str, nnmatch: int
) -> SideFit:
    lo, hi = window(side.u, max(h, b), kernel)
    u, d = side.u[lo:hi], side.d[lo:hi]
    lo_h, hi_h = window(u, h, kernel)
    lo_b, hi_b = window(u, b, kernel)
    sums_h, t_h = moment_sums(u[lo_h:hi_h], d[lo_h:hi_h], h, kernel, 2 * p + 1, p)
    sums_b, t_b = moment_sums(u[lo_b:hi_b], d[lo_b:hi_b], b, kernel, 2 * q, q)
    gp = np.linalg.inv(hankel(sums_h, p))
    gq = np.linalg.inv(hankel(sums_b, q))
    lead = sums_h[p + 1 : 2 * p + 2]  # sum W_h r_i (u_i / h)^(p+1)
    rho = (h / b) ** (p + 1)
    beta_p = gp @ t_h
    beta_bc = gp @ (t_h - rho * np.outer(lead, gq[:, p + 1] @ t_b))
    if vce == "nn":
        res_h = res_b = nn_residuals(u, d, nnmatch)
    else:
        res_h = hc_matrix(u, d, beta_p, gp, h, kernel, vce)
        res_b = hc_matrix(u, d, gq @ t_b, gq, b, kernel, vce)
    meat_cl, meat_rb = fit_meats(
        u, res_h, res_b, h, b, kernel, p, q, np.ascontiguousarray(gq[:, p + 1]), lead, rho
    )
    return SideFit(
        h,
        b,
        q,
        beta_p,
        beta_bc,
        gp,
        None,
        None,
        res_h,
        res_b,
        d,
        None,
        hi_h - lo_h,
        hi_b - lo_b,
        meat_cl,
        meat_rb,
    )

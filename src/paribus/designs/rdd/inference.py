"""The RD estimate and its conventional and robust bias-corrected variances.

Sharp: ``tau = nu! (beta_+ - beta_-)[nu]``. Fuzzy: the ratio of the outcome and
treatment jumps, linearised for the variance with ``s = (1/tau_T, -tau_Y/tau_T^2)``
(Calonico, Cattaneo & Titiunik 2014, Section 3.3). With covariates ``Z`` the fits
share a common coefficient ``gamma`` across sides (Calonico, Cattaneo, Farrell &
Titiunik 2019, eq. 2.3), obtained by partialling out each side's polynomial, and the
estimate is ``s' (beta_+ - beta_-)[nu]`` with ``s = (1, -gamma)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from paribus.designs.rdd.local_poly import SideFit
from paribus.designs.rdd.variance import meat

__all__ = ["Estimates", "combine"]


@dataclass(frozen=True)
class Estimates:
    """Point estimates and standard errors of one RD fit (raw units)."""

    tau_cl: float
    tau_bc: float
    se_cl: float
    se_rb: float
    tau_y: float  # fuzzy: outcome jump (reduced form); sharp: tau_cl
    tau_t: float  # fuzzy: treatment jump (first stage); sharp: nan
    gamma: np.ndarray | None
    beta_left: np.ndarray  # raw-unit conventional coefficients of the outcome, left
    beta_right: np.ndarray


def _gamma(left: SideFit, right: SideFit, n_out: int) -> np.ndarray:
    """Common covariate coefficients: each side's polynomial partialled out (FWL)."""
    top = np.zeros((left.d.shape[1] - n_out, left.d.shape[1]))
    for fit in (left, right):
        assert fit.a_cl is not None  # covariates: fitted from the design matrices
        z = fit.d[:, n_out:]
        wz = fit.a_cl[:, :1] * z  # a_cl[:, 0] is the kernel weight W_h
        u = fit.a_cl.T @ fit.d
        top += wz.T @ fit.d - (fit.a_cl.T @ z).T @ fit.ginv @ u
    zz, zy = top[:, n_out:], top[:, :n_out]
    return np.linalg.solve(zz, zy)


def combine(left: SideFit, right: SideFit, n_out: int, deriv: int) -> Estimates:
    """Estimates from both sides' fits; ``n_out`` is 1 (sharp) or 2 (fuzzy)."""
    k = left.d.shape[1]
    scale = math.factorial(deriv) / left.h**deriv
    scale_r = math.factorial(deriv) / right.h**deriv
    jump_cl = scale_r * right.beta_p[deriv] - scale * left.beta_p[deriv]
    jump_bc = scale_r * right.beta_bc[deriv] - scale * left.beta_bc[deriv]
    gamma = _gamma(left, right, n_out) if k > n_out else None

    def column(j: int) -> np.ndarray:
        s = np.zeros(k)
        s[j] = 1.0
        if gamma is not None:
            s[n_out:] = -gamma[:, j]
        return s

    s_y = column(0)
    tau_y, tau_y_bc = float(s_y @ jump_cl), float(s_y @ jump_bc)
    tau_t = math.nan
    if n_out == 2:
        s_t = column(1)
        tau_t = float(s_t @ jump_cl)
        tau_cl = tau_y / tau_t
        s = s_y / tau_t - tau_y / tau_t**2 * s_t
        tau_bc = tau_cl - float(s @ (jump_cl - jump_bc))
    else:
        tau_cl, tau_bc, s = tau_y, tau_y_bc, s_y

    def var(fit: SideFit, robust: bool, sc: float) -> float:
        pairs = fit.meat_rb if robust else fit.meat_cl
        if pairs is not None:
            m = np.einsum("c,e,cejl->jl", s, s, pairs)
        else:
            a = fit.a_rb if robust else fit.a_cl
            assert a is not None
            res = fit.res_b if robust else fit.res_h
            k = fit.q + 1 if robust else a.shape[1]
            m = meat(a, res @ s, fit.clusters, k)
        return float((fit.ginv @ m @ fit.ginv)[deriv, deriv]) * sc**2

    se_cl = math.sqrt(var(left, False, scale) + var(right, False, scale_r))
    se_rb = math.sqrt(var(left, True, scale) + var(right, True, scale_r))
    hp_l = left.h ** np.arange(left.beta_p.shape[0])
    hp_r = right.h ** np.arange(right.beta_p.shape[0])
    return Estimates(
        tau_cl=tau_cl,
        tau_bc=tau_bc,
        se_cl=se_cl,
        se_rb=se_rb,
        tau_y=tau_y,
        tau_t=tau_t,
        gamma=gamma,
        beta_left=left.beta_p[:, 0] / hp_l,
        beta_right=right.beta_p[:, 0] / hp_r,
    )

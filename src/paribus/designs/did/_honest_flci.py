"""Fixed-length confidence intervals (Armstrong & Kolesar 2018) for Delta^SD.

See :mod:`paribus.designs.did.honest` for the method and references.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from paribus.designs.did._honest_arp import _null_space
from paribus.designs.did._honest_restrictions import _second_differences


def _folded_normal_quantile(t: float, level: float) -> float:
    """``c`` with ``P(|N(t, 1)| <= c) = level`` (Armstrong & Kolesar's ``cv_alpha(t)``)."""
    t = abs(t)

    def gap(c: float) -> float:
        return float(stats.norm.cdf(c - t) - stats.norm.cdf(-c - t) - level)

    return float(optimize.brentq(gap, 0.0, t + 10.0, xtol=1e-14, rtol=1e-14))


class _Flci:
    """Optimal FLCI over ``Delta^SD(M)``: ``v = D2' mu`` with ``v_post = l``,
    ``mu = mu0 + N z``; worst-case bias ``M ||mu||_1``, sd ``sqrt(mu' Omega mu)``."""

    def __init__(self, beta: np.ndarray, cov: np.ndarray, num_pre: int, lv: np.ndarray) -> None:
        d2 = _second_differences(num_pre, lv.size)
        cons = d2[:, num_pre:].T
        self.d2, self.beta = d2, beta
        self.mu0 = np.linalg.lstsq(cons, lv, rcond=None)[0]
        self.null = _null_space(cons)
        self.omega = d2 @ cov @ d2.T
        q = self.null.shape[1]
        if q:
            gram = self.null.T @ self.omega @ self.null
            z = -np.linalg.lstsq(gram, self.null.T @ self.omega @ self.mu0, rcond=None)[0]
        else:
            z = np.zeros(0)
        self.z_minvar = z
        self.h_min = self._sd(z)
        # the least-bias estimator: min ||mu0 + N z||_1 as an LP in (z, s)
        n = self.mu0.size
        if q:
            a_ub = np.block([[self.null, -np.eye(n)], [-self.null, -np.eye(n)]])
            res = optimize.linprog(
                np.r_[np.zeros(q), np.ones(n)],
                A_ub=a_ub,
                b_ub=np.r_[-self.mu0, self.mu0],
                bounds=[(None, None)] * q + [(0, None)] * n,
                method="highs",
            )
            self.z_minbias = res.x[:q]
        else:
            self.z_minbias = z
        self.h_max = max(self._sd(self.z_minbias), self.h_min)

    def _mu(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.mu0 + self.null @ z)

    def _sd(self, z: np.ndarray) -> float:
        mu = self._mu(z)
        return float(np.sqrt(max(mu @ self.omega @ mu, 0.0)))

    def least_bias(self, h: float) -> np.ndarray:
        """``argmin_z ||mu||_1`` subject to ``sd(mu) <= h`` (SLSQP on ``(z, s)``).

        The half length is then computed from the returned ``z``'s own bias and sd, so an
        inexact solve can only widen the interval, never make it invalid.
        """
        q, n = self.null.shape[1], self.mu0.size
        if q == 0 or h <= self.h_min * (1 + 1e-12):
            return self.z_minvar
        if h >= self.h_max:
            return self.z_minbias
        nul, om, mu0 = self.null, self.omega, self.mu0
        lam = float(np.clip((h - self.h_min) / (self.h_max - self.h_min), 0.0, 1.0))
        z_start = (1 - lam) * self.z_minvar + lam * self.z_minbias
        if self._sd(z_start) > h:
            z_start = self.z_minvar
        x0 = np.r_[z_start, np.abs(self._mu(z_start)) + 1e-6 * np.abs(mu0).max()]
        big = np.block([[-nul, np.eye(n)], [nul, np.eye(n)]])

        def quad(x: np.ndarray) -> float:
            mu = mu0 + nul @ x[:q]
            return float(1.0 - mu @ om @ mu / h**2)

        def quad_jac(x: np.ndarray) -> np.ndarray:
            mu = mu0 + nul @ x[:q]
            return np.r_[-2.0 * nul.T @ om @ mu / h**2, np.zeros(n)]

        res = optimize.minimize(
            lambda x: float(np.sum(x[q:])),
            x0,
            jac=lambda x: np.r_[np.zeros(q), np.ones(n)],
            method="SLSQP",
            constraints=[
                {"type": "ineq", "fun": lambda x: big @ x + np.r_[mu0, -mu0], "jac": lambda x: big},
                {"type": "ineq", "fun": quad, "jac": quad_jac},
            ],
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        return np.asarray(res.x[:q])

    def half_length(self, z: np.ndarray, m: float, level: float) -> float:
        sd = self._sd(z)
        bias = m * float(np.abs(self._mu(z)).sum())
        if sd <= 0:
            return bias
        return sd * _folded_normal_quantile(bias / sd, level)

    def interval(self, m: float, alpha: float) -> tuple[float, float, float]:
        """``(lower, upper, half length)`` of the optimal FLCI at ``M = m``."""
        level = 1.0 - alpha
        if m == 0 or self.h_max <= self.h_min * (1 + 1e-12):
            z = self.z_minvar if m == 0 else self.z_minbias
        else:

            def chi(h: float) -> float:
                return self.half_length(self.least_bias(h), m, level)

            hs = np.linspace(self.h_min, self.h_max, 21)
            vals = [chi(h) for h in hs]
            i = int(np.argmin(vals))
            res = optimize.minimize_scalar(
                chi,
                bounds=(hs[max(i - 1, 0)], hs[min(i + 1, hs.size - 1)]),
                method="bounded",
                options={"xatol": 1e-10 * self.h_max},
            )
            h_best = float(res.x) if res.fun < vals[i] else float(hs[i])
            z = self.least_bias(h_best)
        half = self.half_length(z, m, level)
        center = float(self.d2.T @ self._mu(z) @ self.beta)
        return center - half, center + half, half

"""Weak-instrument-robust inference for one endogenous regressor: AR and CLR.

With the exogenous regressors partialled out, the reduced form is
``y~ = Z~ pi_y + v_y``, ``x~ = Z~ pi_x + v_x``, and ``beta = beta0`` implies
``pi_y - beta0 pi_x = 0`` whatever the strength of ``pi_x``.

* Anderson & Rubin (1949): ``AR(b) = g(b)' Sigma(b)^{-1} g(b)`` with
  ``g(b) = pi_y - b pi_x`` and ``Sigma(b) = V_yy - b (V_yx + V_xy) + b^2 V_xx`` from the
  joint (robust, clustered, HAC or homoskedastic) covariance of the reduced form;
  chi2(q) under the null. The confidence set ``{b : AR(b) <= c}`` is found on the whole
  line (``b = tan(theta)``), so it may be an interval, the union of two rays, the whole
  line, or empty (over-identified, instruments rejected).
* Moreira (2003) conditional likelihood ratio, homoskedastic: statistics ``S`` and
  ``T`` from the reduced form with ``Omega = V'V / (n - L)``,
  ``LR = (Q_S - Q_T + sqrt((Q_S + Q_T)^2 - 4 (Q_S Q_T - Q_ST^2))) / 2``, and the
  p-value conditional on ``Q_T`` integrates the closed-form threshold on ``chi2(1)``
  over ``chi2(q - 1)`` (Andrews, Moreira & Stock 2006).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, linalg, optimize, stats

__all__ = ["ARSet", "ReducedForm"]


@dataclass(frozen=True)
class ARSet:
    """An Anderson-Rubin confidence set: a union of closed intervals (may be infinite)."""

    intervals: tuple[tuple[float, float], ...]
    level: float

    @property
    def bounded(self) -> bool:
        return all(math.isfinite(a) and math.isfinite(b) for a, b in self.intervals)

    @property
    def empty(self) -> bool:
        return not self.intervals

    def __str__(self) -> str:
        if self.empty:
            return "empty (the over-identifying restrictions are rejected)"
        return " U ".join(f"[{a:.4g}, {b:.4g}]" for a, b in self.intervals)

    def to_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "intervals": [[_json(a), _json(b)] for a, b in self.intervals],
        }


def _json(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclass(frozen=True)
class ReducedForm:
    """Sufficient statistics of the reduced form (no data rows)."""

    pi_y: np.ndarray  # (q,)
    pi_x: np.ndarray  # (q,)
    cov: np.ndarray  # (2q, 2q): Var(vec[pi_y, pi_x])
    zz: np.ndarray  # Z~'Z~
    zy: np.ndarray  # (q, 2): Z~'[y~, x~]
    omega: np.ndarray  # (2, 2) reduced-form error covariance, divisor n - L

    @property
    def q(self) -> int:
        return int(self.pi_y.size)

    def ar_statistic(self, beta0: float) -> float:
        """``AR(beta0)``, chi2(q) under ``beta = beta0``."""
        q = self.q
        g = self.pi_y - beta0 * self.pi_x
        c = self.cov
        sigma = c[:q, :q] - beta0 * (c[:q, q:] + c[q:, :q]) + beta0**2 * c[q:, q:]
        return float(g @ np.linalg.solve(sigma, g))

    def ar_test(self, beta0: float = 0.0) -> tuple[float, float]:
        """(statistic, p-value) of the Anderson-Rubin test of ``beta = beta0``."""
        stat = self.ar_statistic(beta0)
        return stat, float(stats.chi2.sf(stat, self.q))

    def ar_set(self, level: float = 0.95, grid: int = 4001) -> ARSet:
        """The Anderson-Rubin confidence set at ``level`` (inverting the test on the line)."""
        crit = float(stats.chi2.ppf(level, self.q))
        at_inf = float(self.pi_x @ np.linalg.solve(self.cov[self.q :, self.q :], self.pi_x))

        def f(theta: float) -> float:
            if abs(theta) >= math.pi / 2:
                return at_inf - crit
            return self.ar_statistic(math.tan(theta)) - crit

        edge = math.pi / 2
        thetas = np.linspace(-edge, edge, grid)
        values = np.array([f(t) for t in thetas])
        inside = values <= 0
        # roots where the sign changes, refined on theta
        cuts = []
        for i in np.flatnonzero(inside[:-1] != inside[1:]):
            cuts.append(optimize.brentq(f, thetas[i], thetas[i + 1], xtol=1e-14))
        pieces: list[tuple[float, float]] = []
        start = -edge if inside[0] else None
        for t in cuts:
            if start is None:
                start = t
            else:
                pieces.append((start, t))
                start = None
        if start is not None:
            pieces.append((start, edge))
        if not pieces:
            return ARSet((), level)
        if len(pieces) == 1 and pieces[0] == (-edge, edge):
            return ARSet(((-math.inf, math.inf),), level)

        def tan(t: float) -> float:
            if t <= -edge:
                return -math.inf
            if t >= edge:
                return math.inf
            return math.tan(t)

        return ARSet(tuple((tan(a), tan(b)) for a, b in pieces), level)

    def clr_test(self, beta0: float = 0.0) -> tuple[float, float]:
        """(LR statistic, conditional p-value) of Moreira's (2003) CLR test, homoskedastic."""
        q = self.q
        b0 = np.array([1.0, -beta0])
        a0 = np.array([beta0, 1.0])
        root_inv = np.real(linalg.inv(linalg.sqrtm(self.zz)))
        zy = root_inv @ self.zy
        omega_inv = np.linalg.inv(self.omega)
        s = zy @ b0 / math.sqrt(b0 @ self.omega @ b0)
        t = zy @ omega_inv @ a0 / math.sqrt(a0 @ omega_inv @ a0)
        qs, qt, qst = float(s @ s), float(t @ t), float(s @ t)
        lr = 0.5 * (qs - qt + math.sqrt(max((qs + qt) ** 2 - 4 * (qs * qt - qst**2), 0.0)))
        return lr, clr_p_value(lr, qt, q)


def clr_p_value(lr: float, qt: float, q: int) -> float:
    """``P(LR > lr | Q_T = qt)`` under the null, ``q`` instruments.

    Given ``Q_{q-1} = b`` the LR exceeds ``lr`` iff the independent ``chi2(1)`` exceeds
    ``a*(b) = lr (lr + qt - b) / (lr + qt)``.
    """
    if q == 1:
        return float(stats.chi2.sf(lr, 1))
    top = lr + qt

    def integrand(b: float) -> float:
        a = lr * (top - b) / top
        return float(stats.chi2.pdf(b, q - 1) * stats.chi2.sf(max(a, 0.0), 1))

    value, _ = integrate.quad(integrand, 0.0, top, limit=200)
    return float(min(1.0, value + stats.chi2.sf(top, q - 1)))

"""Instrument diagnostics: first-stage strength, rank, over-identification, endogeneity.

All first-stage quantities partial the exogenous regressors out first
(Frisch-Waugh-Lovell), which leaves the excluded instruments' coefficients and every
sandwich block built from per-row scores unchanged. Covariances follow the model's
``cov_type``, so the strength measures are robust when the inference is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

from paribus.designs.iv._design import IVDesign
from paribus.designs.iv.covariance import meat
from paribus.designs.iv.kclass import Estimate, _annihilate, gmm

__all__ = [
    "FirstStage",
    "Test",
    "durbin_wu_hausman",
    "effective_f",
    "first_stages",
    "kleibergen_paap",
    "overidentification",
]


@dataclass(frozen=True)
class Test:
    """A test statistic with its reference distribution."""

    name: str
    statistic: float
    p_value: float
    df: tuple[float, ...]
    distribution: str  # "chi2" or "F"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "statistic": _plain(self.statistic),
            "p_value": _plain(self.p_value),
            "df": [float(x) for x in self.df],
            "distribution": self.distribution,
        }


def _plain(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _chi2(name: str, stat: float, df: float) -> Test:
    return Test(name, float(stat), float(stats.chi2.sf(stat, df)), (float(df),), "chi2")


def _f(name: str, stat: float, df1: float, df2: float) -> Test:
    return Test(name, float(stat), float(stats.f.sf(stat, df1, df2)), (df1, df2), "F")


@dataclass(frozen=True)
class Partialled:
    """Exogenous regressors partialled out of the instruments, endogenous and outcome."""

    z: np.ndarray  # (n, q)
    x: np.ndarray  # (n, m)
    y: np.ndarray  # (n,)
    zz_inv: np.ndarray  # (Z~'Z~)^{-1}
    coef: np.ndarray  # (q, m) first-stage coefficients of the excluded instruments
    resid: np.ndarray  # (n, m) first-stage residuals


def partial_out(d: IVDesign) -> Partialled:
    z = _annihilate(d.exog, d.excluded)
    x = _annihilate(d.exog, d.endog)
    y = _annihilate(d.exog, d.y[:, None])[:, 0]
    zz_inv = np.linalg.inv(z.T @ z)
    coef = zz_inv @ (z.T @ x)
    return Partialled(z, x, y, zz_inv, coef, x - z @ coef)


def coef_covariance(p: Partialled, resid: np.ndarray, d: IVDesign) -> np.ndarray:
    """Joint covariance of ``vec`` of reduced-form coefficients on ``Z~`` (columns stacked).

    ``resid`` is ``(n, r)``; the ``(j, l)`` block is
    ``(Z~'Z~)^{-1} meat(Z~ v_j, Z~ v_l) (Z~'Z~)^{-1}``.
    """
    n = p.z.shape[0]
    r = resid.shape[1]
    if d.spec.cov_type == "unadjusted":
        cov = np.kron(resid.T @ resid / n, p.zz_inv)
    else:
        scores = np.hstack([p.z * resid[:, [j]] for j in range(r)])
        bread = np.kron(np.eye(r), p.zz_inv)
        cov = bread @ meat(scores, d.spec) @ bread
    if d.spec.debiased:
        cov = cov * n / (n - d.Z.shape[1])
    return np.asarray((cov + cov.T) / 2)


@dataclass(frozen=True)
class FirstStage:
    """One endogenous regressor's first stage: partial R^2 and the instruments' Wald test."""

    endogenous: str
    partial_rsquared: float
    wald: Test  # chi2(q) with the model's covariance
    f_stat: float  # Wald / q

    def to_dict(self) -> dict[str, object]:
        return {
            "endogenous": self.endogenous,
            "partial_rsquared": self.partial_rsquared,
            "wald": self.wald.to_dict(),
            "f_stat": _plain(self.f_stat),
        }


def first_stages(d: IVDesign, p: Partialled) -> tuple[FirstStage, ...]:
    """First-stage partial R^2 and the excluded instruments' Wald/F per endogenous regressor."""
    q = p.z.shape[1]
    out = []
    for j, name in enumerate(d.endog_names):
        pi = p.coef[:, j]
        v = p.resid[:, [j]]
        cov = coef_covariance(p, v, d)
        wald = float(pi @ np.linalg.solve(cov, pi))
        x = p.x[:, j]
        r2 = 1.0 - float(v[:, 0] @ v[:, 0]) / float(x @ x)
        fs = wald / q
        out.append(FirstStage(name, r2, _chi2(f"first-stage Wald ({name})", wald, q), fs))
    return tuple(out)


def kleibergen_paap(d: IVDesign, p: Partialled) -> Test:
    """Kleibergen & Paap (2006) rk Wald statistic for rank ``m - 1`` of the first stage.

    ``Theta = G Pi F'`` with ``G = (Z~'Z~)^{1/2}`` and ``F = Sigma_V^{-1/2}``; with the SVD
    ``Theta = U S W'``, ``lambda = (B' (x) A') vec(Theta)`` for the last ``q - m + 1`` left
    and last right singular vectors, and ``rk = lambda' Omega^{-1} lambda`` with
    ``Omega = (B' (x) A') Var(vec Theta) (B (x) A)``; chi2(q - m + 1) under
    under-identification. Homoskedastic errors give the Cragg & Donald (1993) statistic,
    one endogenous regressor the first-stage Wald statistic.
    """
    n, q = p.z.shape
    m = p.x.shape[1]
    g = np.real(linalg.sqrtm(p.z.T @ p.z))
    f = np.real(linalg.inv(linalg.sqrtm(p.resid.T @ p.resid / n)))
    theta = g @ p.coef @ f.T
    u, _, wt = np.linalg.svd(theta)
    a = u[:, m - 1 :]
    b = wt.T[:, m - 1 :]
    kron = np.kron(b.T, a.T)
    lam = kron @ theta.reshape(-1, order="F")
    v_theta = np.kron(f, g) @ coef_covariance(p, p.resid, d) @ np.kron(f, g).T
    omega = kron @ v_theta @ kron.T
    stat = float(lam @ np.linalg.solve(omega, lam))
    return _chi2("Kleibergen-Paap rk Wald", stat, q - m + 1)


@dataclass(frozen=True)
class EffectiveF:
    """Montiel Olea & Pflueger (2013) effective F and simplified critical values (5% test)."""

    statistic: float
    k_eff: dict[float, float]
    critical_values: dict[float, float]  # tau (worst-case bias share) -> critical value

    def to_dict(self) -> dict[str, object]:
        return {
            "statistic": _plain(self.statistic),
            "critical_values": {str(t): c for t, c in self.critical_values.items()},
            "k_eff": {str(t): c for t, c in self.k_eff.items()},
        }


def effective_f(d: IVDesign, p: Partialled, alpha: float = 0.05) -> EffectiveF | None:
    """``F_eff = pi' Z~'Z~ pi / tr(V(pi) Z~'Z~)``; None with several endogenous regressors.

    Critical values are the simplified (conservative, TSLS) ones of Montiel Olea &
    Pflueger (2013, eq. 15): the ``1 - alpha`` quantile of a noncentral
    ``chi2(K_eff, x K_eff) / K_eff`` with ``x = 1 / tau`` and
    ``K_eff = tr(S)^2 (1 + 2x) / (tr(S'S) + 2x tr(S) maxeig(S))``, ``S`` the
    first-stage covariance in instrument-normalised units.
    """
    if p.x.shape[1] != 1:
        return None
    zz = p.z.T @ p.z
    pi = p.coef[:, 0]
    cov = coef_covariance(p, p.resid, d)
    root = np.real(linalg.sqrtm(zz))
    s = root @ cov @ root
    s = (s + s.T) / 2
    tr = float(np.trace(s))
    stat = float(pi @ zz @ pi) / tr
    top = float(np.max(np.linalg.eigvalsh(s)))
    k_eff: dict[float, float] = {}
    crit: dict[float, float] = {}
    for tau in (0.05, 0.10, 0.20, 0.30):
        x = 1.0 / tau
        k = tr**2 * (1 + 2 * x) / (float(np.trace(s @ s)) + 2 * x * tr * top)
        k_eff[tau] = k
        crit[tau] = float(stats.ncx2.ppf(1 - alpha, k, x * k) / k)
    return EffectiveF(stat, k_eff, crit)


def overidentification(d: IVDesign, est: Estimate, is_gmm: bool) -> dict[str, Test]:
    """Sargan (1958) ``n e'P_Z e / e'e`` and Hansen (1982) ``J = n g' S^{-1} g``.

    k-class fits report Sargan's statistic at their residuals and, for non-homoskedastic
    covariances, Hansen's J of the efficient two-step GMM fit under the same covariance;
    GMM fits report J at their own residuals, ``J = n g' W g`` with the weight matrix
    ``W`` the estimate used (first-step residuals). Both chi2(q - m). Empty when exactly
    identified.
    """
    n = d.n_obs
    df = d.excluded.shape[1] - d.endog.shape[1]
    if df == 0:
        return {}
    out: dict[str, Test] = {}

    def hansen(fit: Estimate) -> Test:
        g = d.Z.T @ fit.resid / n
        assert fit.weight is not None
        return _chi2("Hansen J", float(n * g @ fit.weight @ g), df)

    if is_gmm:
        out["hansen_j"] = hansen(est)
        return out
    e = est.resid
    proj = d.Z @ np.linalg.lstsq(d.Z, e, rcond=None)[0]
    out["sargan"] = _chi2("Sargan", float(n * (e @ proj) / (e @ e)), df)
    if d.spec.cov_type != "unadjusted":
        out["hansen_j"] = hansen(gmm(d, d.spec))
    return out


def durbin_wu_hausman(d: IVDesign, p: Partialled) -> dict[str, Test]:
    """Durbin (1954) and Wu (1973) / Hausman (1978) tests that the regressors are exogenous.

    The control-function regression of ``y`` on ``X`` and the first-stage residuals
    ``V``: with ``SSR_r`` (without ``V``) and ``SSR_u`` (with), Durbin's statistic is
    ``n (SSR_r - SSR_u) / SSR_r`` ~ chi2(m) and Wu-Hausman's
    ``[(SSR_r - SSR_u) / m] / [SSR_u / (n - k - m)]`` ~ F(m, n - k - m).
    """
    n, k = d.X.shape
    m = d.endog.shape[1]

    def ssr(a: np.ndarray) -> float:
        r = _annihilate(a, d.y[:, None])[:, 0]
        return float(r @ r)

    restricted = ssr(d.X)
    unrestricted = ssr(np.hstack([d.X, p.resid]))
    diff = restricted - unrestricted
    return {
        "durbin": _chi2("Durbin", n * diff / restricted, m),
        "wu_hausman": _f(
            "Wu-Hausman", (diff / m) / (unrestricted / (n - k - m)), float(m), float(n - k - m)
        ),
    }

"""k-class (2SLS, LIML, Fuller) and efficient two-step GMM estimates with sandwich covariances.

k-class (Theil 1958; Davidson & MacKinnon 1993, sec. 18.4)::

    beta(k) = [X'(I - k M_Z) X]^{-1} X'(I - k M_Z) y

``k = 1`` is 2SLS; LIML takes ``k`` the smallest root of
``det(W' M_X1 W - k W' M_Z W) = 0`` with ``W = [y, endog]`` and ``X1`` the exogenous
regressors (Anderson & Rubin 1949); Fuller (1977) uses ``k_LIML - alpha / (n - L)``
with ``L`` the number of instruments. The covariance is the sandwich
``A^{-1} meat(P_Z X e) A^{-1}`` with ``A = X'(I - k M_Z) X``: the scores are the moments
``z_i e_i`` mapped by the first stage, since every consistent k-class estimator
(``k - 1 = O_p(1/n)``) has the 2SLS influence function; homoskedastic:
``sigma^2 A^{-1}``, ``sigma^2 = e'e / n``.

Two-step GMM (Hansen 1982; Hansen, *Econometrics* 2022, sec. 13.9): the first step is
2SLS; with ``S`` the long-run covariance of ``z_i e_i`` from its residuals,
``beta = (X'Z S^{-1} Z'X)^{-1} X'Z S^{-1} Z'y``; the covariance is the GMM sandwich with
``S`` re-estimated at the final residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paribus.designs.iv._design import IVDesign
from paribus.designs.iv.covariance import CovSpec, meat

__all__ = ["Estimate", "gmm", "kclass", "liml_kappa", "moment_covariance", "project"]


@dataclass(frozen=True)
class Estimate:
    """Coefficients, their covariance, residuals; ``kappa`` for k-class, ``weight`` for GMM."""

    params: np.ndarray
    cov: np.ndarray
    resid: np.ndarray
    kappa: float = 1.0
    weight: np.ndarray | None = None


def project(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``P_Z A``: the least-squares fit of every column of ``A`` on ``Z``."""
    coef = np.linalg.lstsq(Z, A, rcond=None)[0]
    return np.asarray(Z @ coef)


def _annihilate(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    if Z.shape[1] == 0:
        return A
    return A - project(Z, A)


def _scale(spec: CovSpec, n: int, k: int) -> float:
    return n / (n - k) if spec.debiased else 1.0


def liml_kappa(d: IVDesign) -> float:
    """The LIML ``k``: smallest eigenvalue of ``(W'M_Z W)^{-1} W'M_X1 W``."""
    W = np.column_stack([d.y, d.endog])
    a = _annihilate(d.exog, W)
    b = _annihilate(d.Z, W)
    eig = np.linalg.eigvals(np.linalg.solve(b.T @ b, a.T @ a))
    return float(np.min(np.real(eig)))


def kclass(d: IVDesign, kappa: float) -> Estimate:
    """The k-class estimate and its covariance under ``d.spec``."""
    X, y = d.X, d.y
    n, k = X.shape
    xhat = project(d.Z, X)
    xk = (1 - kappa) * X + kappa * xhat
    a = xk.T @ X
    a = (a + a.T) / 2
    params = np.linalg.solve(a, xk.T @ y)
    resid = y - X @ params
    a_inv = np.linalg.inv(a)
    if d.spec.cov_type == "unadjusted":
        cov = (resid @ resid / n) * a_inv
    else:
        cov = a_inv @ meat(xhat * resid[:, None], d.spec) @ a_inv
    cov = _scale(d.spec, n, k) * (cov + cov.T) / 2
    return Estimate(params=params, cov=cov, resid=resid, kappa=float(kappa))


def moment_covariance(Z: np.ndarray, resid: np.ndarray, spec: CovSpec) -> np.ndarray:
    """``S / n``: the estimated covariance of ``z_i e_i`` (homoskedastic: ``s^2 Z'Z / n``)."""
    n = resid.size
    if spec.cov_type == "unadjusted":
        return (resid @ resid / n) * (Z.T @ Z) / n
    return meat(Z * resid[:, None], spec) / n


def gmm(d: IVDesign, weight_spec: CovSpec) -> Estimate:
    """Efficient two-step GMM; the weight matrix is estimated under ``weight_spec``."""
    X, Z, y = d.X, d.Z, d.y
    n, k = X.shape
    first = kclass(d, 1.0)
    weight = np.linalg.inv(moment_covariance(Z, first.resid, weight_spec))
    zx = Z.T @ X / n
    zy = Z.T @ y / n
    a = zx.T @ weight @ zx
    params = np.linalg.solve(a, zx.T @ weight @ zy)
    resid = y - X @ params
    s = moment_covariance(Z, resid, d.spec)
    a_inv = np.linalg.inv(a)
    cov = a_inv @ (zx.T @ weight @ s @ weight @ zx) @ a_inv / n
    cov = _scale(d.spec, n, k) * (cov + cov.T) / 2
    return Estimate(params=params, cov=cov, resid=resid, weight=weight)

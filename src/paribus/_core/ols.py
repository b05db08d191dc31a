"""Least squares with heteroskedasticity- and cluster-robust influence values.

``coef = (X'WX)^{-1} X'Wy``; the influence value of unit i on the coefficients is
``n (X'WX)^{-1} x_i w_i e*_i`` where ``e*`` are residuals rescaled so that
``sum(phi phi') / n^2`` equals the HC0–HC3 sandwich (MacKinnon & White 1985) or,
summed within clusters, the cluster-robust one with Stata's small-sample factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paribus.errors import DataError

__all__ = ["OLSFit", "ols"]


@dataclass(frozen=True)
class OLSFit:
    coef: np.ndarray
    influence: np.ndarray  # (n, k): phi_i for every coefficient
    fitted: np.ndarray


def ols(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    cov_type: str = "HC1",
    names: list[str] | None = None,
) -> OLSFit:
    """Weighted least squares with robust influence values; ``cov_type`` in HC0–HC3 or cluster."""
    n, k = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    sw = np.sqrt(w)
    # equilibrate columns first: earnings squared (~1e9) beside 0/1 dummies would
    # otherwise make the rank check and the solve depend on units of measurement
    scale = np.linalg.norm(X * sw[:, None], axis=0)
    scale[scale == 0] = 1.0
    q, r = np.linalg.qr(X * sw[:, None] / scale)
    diag = np.abs(np.diag(r))
    tiny = diag <= 1e-10
    if diag.size < k or tiny.any():
        bad = [names[j] if names else str(j) for j in np.flatnonzero(tiny)]
        raise DataError(
            f"the regression design is rank deficient (collinear columns near "
            f"{', '.join(bad)}); drop redundant covariates."
        )
    coef = np.linalg.solve(r, q.T @ (y * sw)) / scale
    fitted = X @ coef
    resid = y - fitted
    if cov_type in ("HC2", "HC3"):
        leverage = np.sum(q**2, axis=1)
        resid = resid / (np.sqrt(1 - leverage) if cov_type == "HC2" else (1 - leverage))
    elif cov_type == "HC1":
        resid = resid * np.sqrt(n / (n - k))
    elif cov_type == "cluster":
        resid = resid * np.sqrt((n - 1) / (n - k))
    r_inv = np.linalg.inv(r) / scale[:, None]
    bread = r_inv @ r_inv.T  # (X'WX)^{-1}
    influence = n * (X * (w * resid)[:, None]) @ bread
    return OLSFit(coef=coef, influence=influence, fitted=fitted)

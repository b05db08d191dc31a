"""Variance reduction for experiments with pre-period covariates: CUPED, CUPAC and Lin.

All three leave the estimand (the average treatment effect) unchanged, because the
covariates are fixed before randomisation, and shrink its variance by the share of the
outcome's variance the covariates explain.

* **CUPED** (Deng, Xu, Kohavi & Walker 2013, "Improving the sensitivity of online controlled
  experiments by utilizing pre-experiment data", WSDM '13, section 3.2): with ``theta`` the
  pooled least-squares coefficient of ``Y`` on the centred covariates ``X - mean(X)``,
  the adjusted metric is ``Y_cv = Y - (X - mean(X)) theta``. Its difference in means has
  variance ``(1 - R^2)`` times the unadjusted one, ``R^2 = rho^2`` for one covariate
  (their equation 4). ``theta`` is treated as known, as in the paper: estimating it costs
  ``O(1/n)`` relative variance.
* **CUPAC** (Tang, Huang, Kohavi & Wang 2020, DoorDash engineering blog, "Improving
  experimental power through control using predictions as covariate"): the CUPED covariate
  is a machine-learning prediction ``g(X)`` of the outcome. Here ``g`` is cross-fitted
  (K folds, each unit predicted by a model that never saw it) so the prediction cannot
  carry the unit's own outcome noise.
* **Lin** (2013), "Agnostic notes on regression adjustments to experimental data:
  reexamining Freedman's critique", Ann. Appl. Stat. 7(1): OLS of ``Y`` on ``T``, the
  centred covariates and their interaction with ``T``; the coefficient on ``T`` estimates
  the ATE and the HC2 sandwich is a consistent (conservative) variance. The fully
  interacted design is block-diagonal in the arms after reparametrising ``(1, T)`` as
  ``(1 - T, T)``, so it is computed as one regression per arm on ``(1, X - mean(X))``:
  the estimate is the difference of the two intercepts and its HC2 variance the sum of
  the intercepts' HC2 variances (leverages and residuals are those of the full model).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from paribus._core.learners import seeded_clone
from paribus.errors import DataError
from paribus.results import Effect

__all__ = [
    "CupedBasis",
    "CupedResult",
    "LinFit",
    "crossfit_predictions",
    "cupac",
    "cuped",
    "lin_adjust",
]


def _as_matrix(x: Any, n: int, name: str = "covariates") -> np.ndarray:
    mat = np.asarray(x, dtype=np.float64)
    if mat.ndim == 1:
        mat = mat[:, None]
    if mat.ndim != 2 or mat.shape[0] != n:
        raise DataError(
            f"{name} must have one row per unit ({n}); got shape {mat.shape}. "
            "Pass an (n,) or (n, k) array."
        )
    if not np.isfinite(mat).all():
        raise DataError(f"{name} have missing or infinite values; drop or impute them first.")
    return mat


class CupedBasis:
    """The centred covariates and their Gram factor, computed once and reused per metric.

    Parameters
    ----------
    x : array-like of shape (n, k)
        Pre-period covariates of every unit in the experiment (all arms pooled).
    """

    def __init__(self, x: Any) -> None:
        mat = np.asarray(x, dtype=np.float64)
        mat = _as_matrix(mat, mat.shape[0])
        self.mean = mat.mean(axis=0)
        self.centred = mat - self.mean
        gram = self.centred.T @ self.centred
        # a constant or collinear covariate has no usable variation for theta
        if np.linalg.matrix_rank(gram) < gram.shape[0]:
            raise DataError(
                "the covariates are constant or collinear, so the CUPED coefficient is not "
                "identified; drop the constant or redundant covariate(s)."
            )
        self._chol = np.linalg.cholesky(gram)

    def theta(self, y: np.ndarray) -> np.ndarray:
        """Pooled least-squares coefficient of ``y`` on the centred covariates."""
        rhs = self.centred.T @ y
        return np.linalg.solve(self._chol.T, np.linalg.solve(self._chol, rhs))

    def adjust(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(y - (X - mean X) theta, theta)``."""
        theta = self.theta(y)
        return y - self.centred @ theta, theta


@dataclasses.dataclass(frozen=True)
class CupedResult:
    """An adjusted metric and what the adjustment achieved.

    Attributes
    ----------
    adjusted : ndarray of shape (n,)
        ``Y - (X - mean X) theta``; same mean as ``Y``.
    theta : ndarray of shape (k,)
        The pooled regression coefficients.
    variance_ratio : float
        ``var(adjusted) / var(Y)`` = ``1 - R^2``: the factor by which the variance of a
        difference in means shrinks (for equal arm variances).
    covariate : ndarray of shape (n, k)
        The covariate(s) used (for CUPAC, the cross-fitted prediction).
    """

    adjusted: np.ndarray
    theta: np.ndarray
    variance_ratio: float
    covariate: np.ndarray

    @property
    def variance_reduction(self) -> float:
        """``1 - variance_ratio``, the share of variance removed."""
        return 1.0 - self.variance_ratio


def _outcome(y: Any) -> np.ndarray:
    out = np.asarray(y, dtype=np.float64).ravel()
    if out.size < 3:
        raise DataError(f"the metric needs at least 3 units for an adjustment; got {out.size}.")
    if not np.isfinite(out).all():
        raise DataError("the metric has missing or infinite values; drop or impute them first.")
    return out


def cuped(y: Any, covariates: Any) -> CupedResult:
    """CUPED adjustment of a metric by one or several pre-period covariates.

    Parameters
    ----------
    y : array-like of shape (n,)
        The metric of every unit, all arms pooled (Deng et al. 2013, section 3.2).
    covariates : array-like of shape (n,) or (n, k)
        Pre-period covariates (measured before randomisation).

    Returns
    -------
    CupedResult
    """
    out = _outcome(y)
    basis = CupedBasis(_as_matrix(covariates, out.size))
    adjusted, theta = basis.adjust(out)
    var_y = float(out.var(ddof=1))
    ratio = float(adjusted.var(ddof=1)) / var_y if var_y > 0 else math.nan
    return CupedResult(adjusted, theta, ratio, basis.centred + basis.mean)


def crossfit_predictions(
    y: np.ndarray,
    x: np.ndarray,
    learner: Any = None,
    *,
    n_folds: int = 5,
    random_state: int | None = None,
) -> np.ndarray:
    """Out-of-fold predictions of ``y`` from ``x``: each unit predicted by a model fitted
    on the other ``n_folds - 1`` folds (shuffled ``KFold`` seeded by ``random_state``)."""
    if learner is None:
        from paribus.learners import default_regressor

        learner = default_regressor()
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    seeds = np.random.SeedSequence(random_state).generate_state(n_folds)
    pred = np.empty(y.size, dtype=np.float64)
    for k, (train, test) in enumerate(folds.split(x)):
        model = seeded_clone(learner, int(seeds[k]) if random_state is not None else None)
        model.fit(x[train], y[train])
        pred[test] = np.asarray(model.predict(x[test]), dtype=np.float64).ravel()
    return pred


def cupac(
    y: Any,
    covariates: Any,
    *,
    learner: Any = None,
    n_folds: int = 5,
    random_state: int | None = None,
) -> CupedResult:
    """CUPAC: CUPED with a cross-fitted prediction of the metric as the covariate.

    Parameters
    ----------
    y : array-like of shape (n,)
        The metric of every unit, all arms pooled.
    covariates : array-like of shape (n,) or (n, k)
        Pre-period features of the prediction model (never the treatment).
    learner : scikit-learn regressor, optional
        Default :func:`paribus.learners.default_regressor`. Cloned per fold.
    n_folds : int, default 5
        Cross-fitting folds (at least 2).
    random_state : int, optional
        Seeds the folds and the learners.

    Returns
    -------
    CupedResult
        ``covariate`` holds the out-of-fold predictions (Tang et al. 2020).
    """
    out = _outcome(y)
    x = _as_matrix(covariates, out.size)
    if n_folds < 2 or n_folds > out.size:
        raise DataError(f"n_folds must be in [2, n={out.size}]; got {n_folds}.")
    pred = crossfit_predictions(out, x, learner, n_folds=n_folds, random_state=random_state)
    if float(pred.var()) == 0.0:
        raise DataError(
            "the cross-fitted prediction is constant, so it cannot reduce variance; use "
            "informative pre-period covariates or another learner."
        )
    return cuped(out, pred)


@dataclasses.dataclass(frozen=True)
class LinFit:
    """Lin's (2013) interacted regression adjustment with HC2 standard errors.

    Attributes
    ----------
    estimate, std_error : float
        Coefficient on ``T`` and its HC2 standard error.
    mean_treated, mean_control : float
        Regression-adjusted arm means at the pooled covariate mean (the two intercepts).
    var_treated, var_control : float
        Their HC2 variances (``std_error**2`` is their sum).
    slope_treated, slope_control : ndarray of shape (k,)
        Within-arm covariate slopes.
    n_treated, n_control : int
    """

    estimate: float
    std_error: float
    mean_treated: float
    mean_control: float
    var_treated: float
    var_control: float
    slope_treated: np.ndarray
    slope_control: np.ndarray
    n_treated: int
    n_control: int

    def effect(self, *, level: float = 0.95) -> Effect:
        """This fit as a normal-approximation :class:`~paribus.results.Effect`."""
        return Effect.from_normal(
            estimand="ATE",
            estimate=self.estimate,
            std_error=self.std_error,
            level=level,
            n_obs=self.n_treated + self.n_control,
            method="lin",
            inference="normal",
            diagnostics={
                "mean_treated": self.mean_treated,
                "mean_control": self.mean_control,
                "variance": "HC2",
            },
        )


def _hc2_intercept(y: np.ndarray, xc: np.ndarray) -> tuple[float, float, np.ndarray]:
    """OLS of ``y`` on ``(1, xc)``: the intercept, its HC2 variance and the slopes.

    HC2 (MacKinnon & White 1985): ``(Z'Z)^-1 Z' diag(e_i^2 / (1 - h_ii)) Z (Z'Z)^-1`` with
    leverages ``h_ii`` from the thin QR factor ``Z = QR`` (``h_ii = ||Q_i||^2``).
    """
    n = y.size
    z = np.column_stack([np.ones(n), xc])
    if n <= z.shape[1]:
        raise DataError(
            f"an arm has {n} units but Lin's adjustment fits {z.shape[1]} coefficients per "
            "arm; use fewer covariates or adjustment='cuped'."
        )
    q, r = np.linalg.qr(z)
    if np.min(np.abs(np.diag(r))) <= 1e-10 * np.max(np.abs(np.diag(r))):
        raise DataError(
            "the covariates are constant or collinear within an arm, so Lin's regression is "
            "not identified; drop the constant or redundant covariate(s)."
        )
    coef = np.linalg.solve(r, q.T @ y)
    resid = y - z @ coef
    lev = np.einsum("ij,ij->i", q, q)
    w = resid**2 / np.maximum(1.0 - lev, 1e-300)
    rinv = np.linalg.inv(r)
    meat = (q * w[:, None]).T @ q
    cov = rinv @ meat @ rinv.T
    return float(coef[0]), float(cov[0, 0]), coef[1:]


def lin_adjust(y: Any, treated: Any, covariates: Any) -> LinFit:
    """Lin's (2013) regression-adjusted ATE of a two-arm experiment (module docstring).

    Parameters
    ----------
    y : array-like of shape (n,)
        The metric.
    treated : array-like of bool or 0/1, shape (n,)
        Arm indicator.
    covariates : array-like of shape (n,) or (n, k)
        Pre-period covariates, centred here at their pooled mean.

    Returns
    -------
    LinFit
        Equal to statsmodels ``OLS(y, [1, T, Xc, T*Xc]).fit(cov_type="HC2")`` for ``T``.
    """
    out = np.asarray(y, dtype=np.float64).ravel()
    t = np.asarray(treated).ravel()
    if t.size != out.size:
        raise DataError(f"treated has {t.size} values but y has {out.size}; pass one per unit.")
    if not np.isin(t, (0, 1)).all():
        raise DataError("treated must be boolean or 0/1; recode the arms first.")
    if not np.isfinite(out).all():
        raise DataError("the metric has missing or infinite values; drop or impute them first.")
    mask = t.astype(bool)
    xc = _as_matrix(covariates, out.size)
    xc = xc - xc.mean(axis=0)
    a_t, v_t, b_t = _hc2_intercept(out[mask], xc[mask])
    a_c, v_c, b_c = _hc2_intercept(out[~mask], xc[~mask])
    return LinFit(
        estimate=a_t - a_c,
        std_error=math.sqrt(v_t + v_c),
        mean_treated=a_t,
        mean_control=a_c,
        var_treated=v_t,
        var_control=v_c,
        slope_treated=b_t,
        slope_control=b_c,
        n_treated=int(mask.sum()),
        n_control=int((~mask).sum()),
    )

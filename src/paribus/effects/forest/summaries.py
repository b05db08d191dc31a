"""Post-estimation summaries of a fitted forest, as functions on plain arrays.

Every function takes the per-unit quantities a generalized random forest leaves
behind (out-of-bag CATEs ``tau_hat``, doubly robust scores ``Gamma_i``, nuisance
predictions ``y_hat = E[Y | X]`` and ``w_hat = E[W | X]``), so they apply to any
CATE model with honest or cross-fitted predictions.

* :func:`average_treatment_effect`: AIPW averages (all, treated, control) and the
  overlap-weighted effect (Robins, Rotnitzky & Zhao 1994; Li, Morgan & Zaslavsky
  2018), as grf's ``average_treatment_effect``;
* :func:`best_linear_projection`: OLS of ``Gamma_i`` on ``[1, A_i]`` with HC3 or
  cluster-robust errors (Semenova & Chernozhukov 2021);
* :func:`test_calibration`: the best-linear-predictor calibration test
  (Chernozhukov, Demirer, Duflo & Fernández-Val 2018), as grf's ``test_calibration``;
* ``rate`` and ``toc`` (in :mod:`paribus.effects.forest.rate`): the rank-weighted
  average treatment effect and the targeting operator characteristic (Yadlowsky,
  Fleming, Shah, Brunskill & Wager 2025, JASA), with grf's clustered half-sample bootstrap;
* :func:`variable_importance`: grf's depth-weighted split frequencies.

The doubly robust score from forest nuisances (Athey, Tibshirani & Wager 2019;
grf ``get_scores``): with ``mu_0 = y_hat - w_hat tau_hat`` and
``mu_1 = y_hat + (1 - w_hat) tau_hat``,
``Gamma_i = mu_1 - mu_0 + W (Y - mu_1) / e - (1 - W)(Y - mu_0) / (1 - e)``, which
equals ``tau_hat + (W - e)(Y - y_hat - (W - e) tau_hat) / (e (1 - e))``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.inference import if_std_error
from paribus._core.ols import ols
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.params import check_level
from paribus.errors import DataError, ParameterError
from paribus.results import Effect, EffectTable

__all__ = [
    "CalibrationTest",
    "average_treatment_effect",
    "best_linear_projection",
    "dr_scores",
    "test_calibration",
    "variable_importance",
]

Target = Literal["all", "treated", "control", "overlap"]
_TARGETS = ("all", "treated", "control", "overlap")
_ESTIMAND = {"all": "ATE", "treated": "ATT", "control": "ATC", "overlap": "ATO"}
#: grf's TOC grid: q = 0.001, 0.002, ..., 1


# ---------------------------------------------------------------- input checks


def _vector(name: str, value: Any, n: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(
            f"{name} must be numeric; got values of type {type(value).__name__}."
        ) from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional; got an array of shape {arr.shape}.")
    if n is not None and arr.size != n:
        raise DataError(f"{name} has {arr.size} entries but the scores have {n}; align the rows.")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise DataError(f"{name} has {bad} missing or infinite values; drop or impute those rows.")
    return arr


def _matrix(name: str, value: Any, n: int) -> tuple[np.ndarray, list[str]]:
    if isinstance(value, pd.DataFrame):
        names = [str(c) for c in value.columns]
    elif isinstance(value, pd.Series):
        names = [str(value.name) if value.name is not None else "A1"]
    else:
        names = []
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(
            f"{name} must be numeric; convert categorical columns to dummies first."
        ) from None
    arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DataError(f"{name} must have {n} rows (one per score); got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} has missing or infinite values; drop or impute those rows.")
    return arr, names or [f"A{j + 1}" for j in range(arr.shape[1])]


def _cluster(cluster: Any, n: int) -> np.ndarray | None:
    if cluster is None:
        return None
    c = np.asarray(cluster)
    if c.ndim != 1 or c.size != n:
        raise DataError(f"cluster must have one label per unit ({n}); got shape {c.shape}.")
    if np.unique(c).size < 2:
        raise DataError("cluster has a single cluster; cluster-robust errors need at least 2.")
    return c


def _weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = _vector("weights", weights, n)
    if np.any(w < 0) or w.sum() <= 0:
        raise DataError("weights must be non-negative with a positive sum.")
    return w


# ---------------------------------------------------------------- scores and ATE


def dr_scores(tau_hat: Any, y: Any, w: Any, y_hat: Any, w_hat: Any) -> np.ndarray:
    """Doubly robust scores ``Gamma_i`` from forest nuisances (module docstring)."""
    tau = _vector("tau_hat", tau_hat)
    n = tau.size
    y_, w_, yh, e = (
        _vector(k, v, n) for k, v in (("y", y), ("w", w), ("y_hat", y_hat), ("w_hat", w_hat))
    )
    _check_propensity(e)
    return tau + (w_ - e) * (y_ - yh - (w_ - e) * tau) / (e * (1 - e))


def _check_propensity(e: np.ndarray) -> None:
    if np.any(e <= 0) or np.any(e >= 1):
        raise DataError(
            f"w_hat must lie strictly inside (0, 1); found values in [{e.min():.3g}, "
            f"{e.max():.3g}]. Clip the propensities or use target='overlap'."
        )


def average_treatment_effect(
    tau_hat: Any,
    y: Any,
    w: Any,
    y_hat: Any,
    w_hat: Any,
    *,
    target: Target = "all",
    cluster: Any = None,
    level: float = 0.95,
) -> Effect:
    """Doubly robust average effect from forest nuisances (grf ``average_treatment_effect``).

    Parameters
    ----------
    tau_hat, y, w, y_hat, w_hat : array of shape (n,)
        Out-of-bag CATEs, outcome, binary treatment, ``E[Y | X]`` and ``E[W | X]``.
    target : {"all", "treated", "control", "overlap"}
        * ``"all"``: ATE, ``mean(Gamma_i)`` (AIPW);
        * ``"treated"``/``"control"``: ATT/ATC, the AIPW scores of
          :func:`paribus.effects.aipw.aipw_score_elements` with ``g_0 = mu_0``,
          ``g_1 = mu_1``, the arm share estimated (its influence included);
        * ``"overlap"``: the overlap-weighted effect
          ``E[e(1-e) tau(X)] / E[e(1-e)]``, estimated as grf does by OLS of
          ``Y - y_hat`` on ``[1, W - w_hat]`` with HC3 errors (cluster-robust with
          clusters); it does not use ``tau_hat`` and stays stable without overlap.
    cluster : array, optional
        Cluster labels: influence values are summed within clusters.
    level : float

    Returns
    -------
    Effect
        ``scores`` holds the influence values. Standard errors follow grf:
        ``sqrt(G/(G-1) sum_g (sum_{i in g} phi_i)^2) / n`` with ``G = n`` singletons
        when there are no clusters (AIPW targets).
    """
    check_level(level)
    if target not in _TARGETS:
        raise ParameterError(f"target={target!r} is invalid; expected one of {list(_TARGETS)}.")
    tau = _vector("tau_hat", tau_hat)
    n = tau.size
    y_, w_, yh, e = (
        _vector(k, v, n) for k, v in (("y", y), ("w", w), ("y_hat", y_hat), ("w_hat", w_hat))
    )
    if not np.all(np.isin(w_, (0.0, 1.0))) or np.unique(w_).size < 2:
        raise DataError("w must be a binary 0/1 treatment with both arms present.")
    c = _cluster(cluster, n)
    groups = np.arange(n) if c is None else c
    if target == "overlap":
        return _overlap_effect(y_ - yh, w_ - e, c, level)
    _check_propensity(e)
    estimand = _ESTIMAND[target]
    warn_if_poor_overlap(overlap_diagnostics(e, w_), "average_treatment_effect", estimand)
    mu0, mu1 = yh - e * tau, yh + (1 - e) * tau
    from paribus.effects.aipw import aipw_score_elements  # avoid import cycles via effects

    psi_a, psi_b = aipw_score_elements(estimand, y_, w_, mu0, mu1, e)
    j = float(np.mean(psi_a))
    theta = -float(np.mean(psi_b)) / j
    phi = -(psi_a * theta + psi_b) / j
    return Effect.from_normal(
        estimand=estimand,
        estimate=theta,
        std_error=if_std_error(phi, groups),
        level=level,
        n_obs=n,
        method="forest-aipw",
        inference="influence-function",
        diagnostics={"target": target, "clustered": c is not None},
        scores=phi,
    )


def _overlap_effect(
    y_res: np.ndarray, w_res: np.ndarray, cluster: np.ndarray | None, level: float
) -> Effect:
    design = np.column_stack([np.ones_like(w_res), w_res])
    fit = ols(design, y_res, cov_type="HC3" if cluster is None else "cluster")
    phi = fit.influence[:, 1]
    return Effect.from_normal(
        estimand="ATO",
        estimate=float(fit.coef[1]),
        std_error=if_std_error(phi, cluster),
        level=level,
        n_obs=y_res.size,
        method="forest-overlap",
        inference="influence-function",
        diagnostics={"target": "overlap", "vcov": "HC3" if cluster is None else "cluster"},
        scores=phi,
    )


# ---------------------------------------------------------------- linear summaries


def _robust_fit(
    design: np.ndarray, target: np.ndarray, weights: np.ndarray | None, cluster: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients, standard errors (HC3 or cluster) and influence values of a WLS fit."""
    fit = ols(design, target, weights=weights, cov_type="HC3" if cluster is None else "cluster")
    se = np.array([if_std_error(fit.influence[:, j], cluster) for j in range(design.shape[1])])
    return fit.coef, se, fit.influence


def best_linear_projection(
    scores: Any,
    X: Any = None,
    *,
    cluster: Any = None,
    weights: Any = None,
    level: float = 0.95,
) -> EffectTable:
    """Best linear projection of the CATE on covariates ``A`` (Semenova & Chernozhukov 2021).

    Estimates ``beta = argmin E[(tau(X) - b_0 - A'b)^2]`` by the OLS of the doubly robust
    scores on ``[1, A]``: since ``E[Gamma_i | X_i] = tau(X_i)`` the regression of
    ``Gamma_i`` is the regression of ``tau``. As grf's ``best_linear_projection``, errors
    are HC3 (MacKinnon & White 1985) or, with ``cluster``, cluster-robust with Stata's
    small-sample factor (sandwich's ``vcovCL`` type HC1).

    Parameters
    ----------
    scores : array of shape (n,)
        Doubly robust scores ``Gamma_i`` (:func:`dr_scores`).
    X : array or DataFrame of shape (n, p), optional
        The covariates ``A``; without them the projection is the ATE alone.
    cluster, weights : array of shape (n,), optional
    level : float

    Returns
    -------
    EffectTable
        One :class:`Effect` per coefficient (labels ``"(Intercept)"`` and the column
        names), normal-approximation intervals; grf prints ``t(n - k)`` p-values.
    """
    check_level(level)
    gamma = _vector("scores", scores)
    n = gamma.size
    names: list[str] = []
    if X is None:
        A = np.empty((n, 0))
    else:
        A, names = _matrix("X", X, n)
    design = np.column_stack([np.ones(n), A])
    labels = ["(Intercept)", *names]
    coef, se, infl = _robust_fit(design, gamma, _weights(weights, n), _cluster(cluster, n))
    effects = [
        Effect.from_normal(
            estimand=f"BLP[{label}]",
            estimate=float(coef[j]),
            std_error=float(se[j]),
            level=level,
            n_obs=n,
            method="best-linear-projection",
            inference="influence-function",
            diagnostics={"vcov": "HC3" if cluster is None else "cluster"},
            scores=infl[:, j],
        )
        for j, label in enumerate(labels)
    ]
    return EffectTable(effects, labels, title="Best linear projection of the CATE")


@dataclasses.dataclass(frozen=True)
class CalibrationTest:
    """grf's calibration test: coefficients on the mean and differential predictions.

    ``table`` has one row per regressor (``mean.forest.prediction``,
    ``differential.forest.prediction``) with ``estimate``, ``std_error``, ``t`` (against
    0), ``p_value`` (one-sided, alternative ``coef > 0``, as grf) and ``p_value_one``
    (two-sided test that the coefficient is 1, i.e. calibrated), all from ``t(n - 2)``.
    """

    table: pd.DataFrame
    n_obs: int
    vcov: str

    def summary(self) -> str:
        head = (
            "Best linear fit using forest predictions (on held-out data) as well as the mean "
            f"forest prediction as regressors, with one-sided {self.vcov} SEs (n={self.n_obs})"
        )
        return head + "\n" + self.table.to_string(float_format=lambda v: f"{v:.4g}")

    def __str__(self) -> str:
        return self.summary()


def test_calibration(
    oob_predictions: Any,
    scores: Any = None,
    *,
    outcome_residual: Any = None,
    treatment_residual: Any = None,
    weights: Any = None,
    cluster: Any = None,
) -> CalibrationTest:
    """Calibration test of out-of-bag CATEs (Chernozhukov, Demirer, Duflo & Fernández-Val).

    With ``tau_bar = mean(tau_hat)`` (weighted), regress a target on
    ``mean.forest.prediction`` and ``differential.forest.prediction`` without intercept:

    * ``scores`` given: target ``Gamma_i``, regressors ``tau_bar`` and
      ``tau_hat_i - tau_bar`` (the doubly robust form);
    * ``outcome_residual`` and ``treatment_residual`` given (grf's causal-forest form):
      target ``Y - y_hat``, regressors ``(W - w_hat) tau_bar`` and
      ``(W - w_hat)(tau_hat - tau_bar)``.

    A mean coefficient of 1 says the average prediction is right; a differential
    coefficient of 1 says the heterogeneity is well calibrated, and its one-sided p-value
    (coefficient > 0) is an omnibus test for heterogeneity. Errors are HC3, or
    cluster-robust (HC1 factor) with ``cluster``.
    """
    tau = _vector("oob_predictions", oob_predictions)
    n = tau.size
    w = _weights(weights, n)
    c = _cluster(cluster, n)
    residual_form = outcome_residual is not None or treatment_residual is not None
    if (scores is not None) == residual_form or (
        residual_form and (outcome_residual is None or treatment_residual is None)
    ):
        raise ParameterError(
            "test_calibration: pass either scores (doubly robust form) or both "
            "outcome_residual and treatment_residual (grf's causal-forest form), not both."
        )
    tau_bar = float(np.average(tau, weights=w))
    if residual_form:
        target = _vector("outcome_residual", outcome_residual, n)
        scale = _vector("treatment_residual", treatment_residual, n)
    else:
        target, scale = _vector("scores", scores, n), np.ones(n)
    design = np.column_stack([scale * tau_bar, scale * (tau - tau_bar)])
    coef, se, _ = _robust_fit(design, target, w, c)
    t_stat = coef / se
    df = n - 2
    p_pos = stats.t.sf(t_stat, df)  # grf: p/2 if t > 0 else 1 - p/2, the same thing
    p_one = 2 * stats.t.sf(np.abs((coef - 1) / se), df)
    table = pd.DataFrame(
        {"estimate": coef, "std_error": se, "t": t_stat, "p_value": p_pos, "p_value_one": p_one},
        index=pd.Index(["mean.forest.prediction", "differential.forest.prediction"], name="term"),
    )
    return CalibrationTest(table=table, n_obs=n, vcov="HC3" if c is None else "cluster")


test_calibration.__test__ = False  # type: ignore[attr-defined]  # grf's name, not a pytest test


# ---------------------------------------------------------------- variable importance


def variable_importance(
    split_counts_by_depth: Any, decay_exponent: float = 2.0, max_depth: int = 4
) -> np.ndarray:
    """grf's variable importance: depth-weighted shares of splits on each feature.

    With ``c_kj`` the number of splits on feature ``j`` at depth ``k = 1..K``
    (``K = max_depth``, deeper rows ignored, missing rows zero), the importance is
    ``sum_k k^(-decay) (c_kj / max(1, sum_j c_kj)) / sum_k k^(-decay)``.

    Parameters
    ----------
    split_counts_by_depth : array of shape (depth, n_features)
        Split counts over the forest's trees, the root at row 0.
    decay_exponent : float, default 2
    max_depth : int, default 4
    """
    counts = np.asarray(split_counts_by_depth, dtype=float)
    if (
        counts.ndim != 2
        or counts.shape[0] == 0
        or np.any(counts < 0)
        or not np.all(np.isfinite(counts))
    ):
        raise DataError(
            "split_counts_by_depth must be a non-negative (depth, n_features) count matrix; "
            f"got shape {counts.shape}."
        )
    if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or max_depth < 1:
        raise ParameterError(f"max_depth={max_depth!r} is invalid; expected an integer >= 1.")
    if not math.isfinite(decay_exponent):
        raise ParameterError(f"decay_exponent={decay_exponent!r} must be a finite number.")
    freq = np.zeros((max_depth, counts.shape[1]))
    rows = min(max_depth, counts.shape[0])
    freq[:rows] = counts[:rows]
    freq /= np.maximum(1.0, freq.sum(axis=1, keepdims=True))
    weight = np.arange(1, max_depth + 1, dtype=float) ** -decay_exponent
    return np.asarray(weight @ freq / weight.sum())

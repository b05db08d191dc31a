"""Two-way fixed effects regression and the TWFE event study.

The static model is ``y_it = alpha_i + lambda_t + beta d_it + x_it' gamma + e_it``;
the event study replaces ``beta d_it`` by relative-time dummies
``sum_{k != -1} beta_k 1[t - G_i = k]`` for units first treated in ``G_i`` (never
treated units have all dummies zero), with the endpoints binned: ``leads=L`` puts
every ``k <= -L`` into the bin ``-L`` and ``lags=K`` every ``k >= K`` into ``K``.

Unit and time effects are absorbed by the within transformation, computed by
alternating projections (Gaure 2013, *Comput. Stat. Data Anal.* 66, 8-18), never by
dummy matrices. Standard errors are cluster-robust (by unit unless ``clusters=``),
CR1 as in Stata's ``reghdfe`` and fixest/pyfixest (default ``ssc``)::

    V = G/(G-1) * (N-1)/(N-K) * (X'WX)^-1 (sum_g s_g s_g') (X'WX)^-1,

with ``s_g`` the cluster sums of ``x_it w_it e_it`` over the demeaned regressors and
``K`` the slopes plus the fixed-effect levels ``U + T - 1`` less ``L_f - 1`` for every
factor nested in the clusters (with unit clusters ``K = slopes + T``).
``vcov="hc1"`` gives ``N/(N-K)`` heteroskedasticity-robust errors with ``K =
slopes + U + T - 1``.

The pre-trend test is the Wald statistic ``b' V^-1 b`` of the lead coefficients
(``k <= -2``), referred to chi-square with as many degrees of freedom as leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from paribus._core.ols import ols
from paribus._core.params import NONE, Interval, Options, validate_params
from paribus.designs.did._panel import Panel, panel_from_frame
from paribus.designs.did._wald import wald_test
from paribus.errors import ConvergenceError, DataError, NotFittedError, ParameterError
from paribus.results import Effect, EffectTable

__all__ = ["TWFE", "demean"]


# -- the within transformation --------------------------------------------------------------


def _group_means(x: np.ndarray, codes: np.ndarray, w: np.ndarray, wsum: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        out[:, j] = (np.bincount(codes, weights=w * x[:, j], minlength=wsum.size) / wsum)[codes]
    return out


def demean(
    x: np.ndarray,
    factors: Sequence[np.ndarray],
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Residuals of the columns of ``x`` on the dummies of every factor in ``factors``.

    Alternating projections (Gaure 2013): subtract the (weighted) group means of each
    factor in turn until a sweep changes no entry by more than ``tol`` times the
    column's largest absolute value. One factor, or two on a balanced unweighted
    panel, take one sweep. ``factors`` are integer codes ``0..L-1`` of length n.
    """
    x = np.asarray(x, dtype=float)
    one_d = x.ndim == 1
    out = (x[:, None] if one_d else x).copy()
    w = np.ones(out.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    sums = [np.bincount(c, weights=w) for c in factors]
    scale = np.maximum(np.max(np.abs(out), axis=0, initial=0.0), 1e-300)
    for _ in range(max_iter):
        before = out.copy() if len(factors) > 1 else None
        for codes, wsum in zip(factors, sums, strict=True):
            out -= _group_means(out, codes, w, wsum)
        if before is None or np.all(np.max(np.abs(out - before), axis=0) <= tol * scale):
            return out[:, 0] if one_d else out
    raise ConvergenceError(
        f"absorbing the fixed effects did not converge in {max_iter} sweeps of alternating "
        "projections; the panel is probably very unbalanced. Raise max_iter or tol."
    )


# -- regression with absorbed effects -------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    coef: np.ndarray
    vcov: np.ndarray
    influence: np.ndarray  # (n, k), scaled so that the cluster sums give vcov
    names: list[str]
    n_clusters: int
    dof_k: int


def _nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Every level of ``inner`` sits in one level of ``outer``."""
    first = np.full(inner.max() + 1, -1)
    first[inner] = outer
    return bool(np.all(first[inner] == outer))


def _absorbed_ols(
    panel: Panel,
    X: np.ndarray,
    names: list[str],
    vcov: str,
    clusters: np.ndarray,
    tol: float,
    max_iter: int,
) -> _Fit:
    factors = [panel.unit_codes, panel.time_codes]
    both = demean(np.column_stack([panel.y, X]), factors, panel.weights, tol=tol, max_iter=max_iter)
    yd, Xd = both[:, 0], both[:, 1:]
    for j, name in enumerate(names):
        if np.linalg.norm(Xd[:, j]) <= 1e-9 * max(float(np.linalg.norm(X[:, j])), 1e-300):
            raise DataError(
                f"regressor {name!r} is absorbed by the unit and time fixed effects (no "
                "variation left within units and periods): e.g. every unit is treated in the "
                "same periods, or a covariate is constant within units. Drop it or add "
                "units that differ in timing."
            )
    n, k = Xd.shape
    fit = ols(Xd, yd, panel.weights, cov_type="HC0", names=names)
    levels = panel.n_units + panel.n_times - 1
    if vcov == "cluster":
        g = int(clusters.max()) + 1
        nested = sum(
            (lv - 1)
            for codes, lv in ((panel.unit_codes, panel.n_units), (panel.time_codes, panel.n_times))
            if _nested(codes, clusters)
        )
        dof_k = k + levels - nested
        factor = g / (g - 1) * (n - 1) / (n - dof_k)
        sums = np.zeros((g, k))
        np.add.at(sums, clusters, fit.influence)
        meat = sums.T @ sums
    else:
        g = n
        dof_k = k + levels
        factor = n / (n - dof_k)
        meat = fit.influence.T @ fit.influence
    if n - dof_k <= 0:
        raise DataError(
            f"{n} observations leave no residual degrees of freedom after {dof_k} parameters "
            "(slopes and fixed effects); add periods or units."
        )
    return _Fit(
        coef=fit.coef,
        vcov=factor * meat / n**2,
        influence=np.sqrt(factor) * fit.influence,
        names=names,
        n_clusters=g,
        dof_k=dof_k,
    )


# -- event-study design ---------------------------------------------------------------------


def _relative_periods(panel: Panel) -> np.ndarray:
    """Relative time in periods (time steps of the panel); NaN for never treated."""
    rel = panel.relative_time()
    steps = np.diff(panel.times)
    if steps.size and np.allclose(steps, steps[0]):
        rel = rel / steps[0]
    finite = np.isfinite(rel)
    if not np.allclose(rel[finite], np.round(rel[finite])):
        raise DataError(
            "the periods between first treatment and each row are not whole periods; the "
            "event study needs the cohort (first treated period) on the time grid."
        )
    rel[finite] = np.round(rel[finite])
    return rel


def _event_dummies(
    rel: np.ndarray, leads: int | None, lags: int | None, reference: int
) -> tuple[np.ndarray, list[int], set[int]]:
    finite = np.isfinite(rel)
    if not finite.any():
        raise DataError("no unit is ever treated; an event study needs treated units.")
    lo = int(rel[finite].min()) if leads is None else -int(leads)
    hi = int(rel[finite].max()) if lags is None else int(lags)
    clipped = np.where(finite, np.clip(rel, lo, hi), np.nan)
    binned = set()
    if leads is not None and np.any(rel[finite] < lo):
        binned.add(lo)
    if lags is not None and np.any(rel[finite] > hi):
        binned.add(hi)
    ks = [k for k in range(lo, hi + 1) if k != reference and np.any(clipped == k)]
    X = np.column_stack([(clipped == k).astype(float) for k in ks])
    return X, ks, binned


def _wald(coef: np.ndarray, vcov: np.ndarray) -> dict[str, float]:
    if coef.size == 0:
        return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
    return dict(wald_test(coef, vcov)._asdict())


# -- the estimator --------------------------------------------------------------------------


class TWFE(BaseEstimator):
    """Two-way fixed effects DiD regression, static or as an event study.

    Parameters
    ----------
    event_study : bool, default False
        Also estimate relative-time coefficients (all relative times unless
        ``leads``/``lags`` bin the endpoints). Implied by ``leads`` or ``lags``.
    leads, lags : int, optional
        Bin relative times ``<= -leads`` and ``>= lags`` into the endpoint dummies.
    reference : int, default -1
        Omitted relative period.
    vcov : {"cluster", "hc1"}, default "cluster"
        CR1 cluster-robust (by unit unless ``fit(clusters=...)``) or HC1 errors.
    level : float, default 0.95
    tol, max_iter :
        Convergence of the alternating projections.

    Attributes
    ----------
    result_ : Effect
        The static TWFE coefficient on the treatment (estimand ``"ATT"`` under a
        constant effect; under staggered heterogeneous effects a weighted average
        with possibly negative weights, see :func:`bacon_decomposition`).
    coef_, vcov_ : dict, ndarray
        All slopes of the static model and their covariance.
    event_study_ : EffectTable or None
        Relative-time coefficients labelled by relative period (``"-3"``, ``"0"``...).
    pretrend_test_ : dict or None
        Joint Wald test that all leads are zero: ``statistic``, ``df``, ``p_value``.

    References
    ----------
    Gaure, S. (2013). OLS with multiple high dimensional category variables.
    *Computational Statistics & Data Analysis* 66, 8-18.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "event_study": [Options((True, False))],
        "leads": [NONE, Interval(1, None, integer=True)],
        "lags": [NONE, Interval(0, None, integer=True)],
        "reference": [Interval(None, -1, integer=True)],
        "vcov": [Options(("cluster", "hc1"))],
        "level": [Interval(0, 1, closed="neither")],
        "tol": [Interval(0, 1e-3, closed="right")],
        "max_iter": [Interval(1, None, integer=True)],
    }

    def __init__(
        self,
        event_study: bool = False,
        *,
        leads: int | None = None,
        lags: int | None = None,
        reference: int = -1,
        vcov: str = "cluster",
        level: float = 0.95,
        tol: float = 1e-12,
        max_iter: int = 10_000,
    ) -> None:
        self.event_study = event_study
        self.leads = leads
        self.lags = lags
        self.reference = reference
        self.vcov = vcov
        self.level = level
        self.tol = tol
        self.max_iter = max_iter

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        unit: str,
        time: str,
        weights: str | None = None,
        clusters: str | None = None,
        covariates: str | Sequence[str] | None = None,
    ) -> TWFE:
        """Regress ``outcome`` on the 0/1 ``treatment`` with unit and time effects.

        ``data`` is a long panel (one row per ``unit`` and ``time``; unbalanced is
        fine). Returns ``self``.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        if clusters is not None and self.vcov != "cluster":
            raise ParameterError(
                f"TWFE: clusters={clusters!r} was given with vcov={self.vcov!r}; use "
                "vcov='cluster' for cluster-robust errors, or drop clusters=."
            )
        panel = panel_from_frame(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            treatment=treatment,
            weights=weights,
            clusters=clusters,
            covariates=covariates,
        )
        if np.all(panel.d == panel.d[0]):
            raise DataError(
                f"treatment column {treatment!r} is constant ({panel.d[0]:g}); TWFE needs "
                "treated and untreated unit-periods."
            )
        cl = panel.unit_codes if panel.cluster_codes is None else panel.cluster_codes
        if self.vcov == "cluster" and cl.max() < 1:
            raise DataError("cluster-robust errors need at least 2 clusters; found 1.")
        covs = list(panel.covariates)
        Z = panel.X if panel.X is not None else np.empty((panel.n_obs, 0))
        static = _absorbed_ols(
            panel,
            np.column_stack([panel.d, Z]),
            [treatment, *covs],
            self.vcov,
            cl,
            self.tol,
            self.max_iter,
        )
        self.coef_ = dict(zip(static.names, static.coef.tolist(), strict=True))
        self.vcov_ = static.vcov
        self.event_study_ = None
        self.pretrend_test_ = None
        diagnostics: dict[str, Any] = {
            "n_units": panel.n_units,
            "n_periods": panel.n_times,
            "balanced": panel.balanced,
            "vcov": "CR1" if self.vcov == "cluster" else "HC1",
            "n_clusters": static.n_clusters,
            "dof_k": static.dof_k,
        }
        if self.event_study or self.leads is not None or self.lags is not None:
            self.event_study_, self.pretrend_test_ = self._event_study(panel, Z, covs, cl)
            diagnostics["pretrend_wald"] = self.pretrend_test_
        self.result_ = Effect.from_normal(
            estimand="ATT",
            estimate=float(static.coef[0]),
            std_error=float(np.sqrt(static.vcov[0, 0])),
            level=float(self.level),
            n_obs=panel.n_obs,
            method="twfe",
            inference="cluster-robust" if self.vcov == "cluster" else "heteroskedasticity-robust",
            diagnostics=diagnostics,
            scores=static.influence[:, 0],
        )
        return self

    def _event_study(
        self, panel: Panel, Z: np.ndarray, covs: list[str], cl: np.ndarray
    ) -> tuple[EffectTable, dict[str, float]]:
        if not panel.absorbing:
            raise DataError(
                "the event study needs staggered adoption (treatment never switches off "
                "within a unit); found units whose treatment turns off."
            )
        rel = _relative_periods(panel)
        D, ks, binned = _event_dummies(rel, self.leads, self.lags, int(self.reference))
        names = [f"rel_{k}" for k in ks]
        fit = _absorbed_ols(
            panel, np.column_stack([D, Z]), names + covs, self.vcov, cl, self.tol, self.max_iter
        )
        effects = [
            Effect.from_normal(
                estimand="ATT(rel)",
                estimate=float(fit.coef[j]),
                std_error=float(np.sqrt(fit.vcov[j, j])),
                level=float(self.level),
                n_obs=int(np.sum(D[:, j] > 0)),
                method="twfe-event-study",
                inference="cluster-robust"
                if self.vcov == "cluster"
                else "heteroskedasticity-robust",
                diagnostics={
                    "rel_time": k,
                    "binned": k in binned,
                    "reference": int(self.reference),
                },
                scores=fit.influence[:, j],
            )
            for j, k in enumerate(ks)
        ]
        lead_idx = [j for j, k in enumerate(ks) if k < -1]
        wald = _wald(fit.coef[lead_idx], fit.vcov[np.ix_(lead_idx, lead_idx)])
        table = EffectTable(effects, [str(k) for k in ks], title="TWFE event study")
        return table, wald

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def summary(self) -> Any:
        """Summary of ``result_`` (the static coefficient)."""
        return self.result_.summary()

"""ImputationDiD: the imputation estimator of Borusyak, Jaravel & Spiess (2024, REStud).

Model (Assumptions 1-2 of the paper): untreated potential outcomes follow
``Y_it(0) = alpha_i + beta_t + X_it' gamma + eps_it`` with ``E[eps_it] = 0``, and there
is no anticipation beyond ``delta`` periods. Treated observations are
``Omega_1 = {(i,t): t >= G_i - delta}``, the rest ``Omega_0``. The estimator
(Theorem 2) has three steps:

1. fit ``alpha, beta, gamma`` by (weighted) least squares on ``Omega_0`` only; the fixed
   effects are absorbed by alternating projections (block Gauss-Seidel on the normal
   equations: unit means, period means, covariate block in turn), with no dummy matrix;
2. impute ``Y_it(0)`` and ``tau_it = Y_it - alpha_i - beta_t - X_it' gamma`` on
   ``Omega_1``;
3. average: ``tau_w = sum_{Omega_1} w_it tau_it`` with estimand weights ``w`` (all
   treated observations for the overall ATT, ``t - G_i = h`` for horizon ``h``;
   proportional to the observation weights).

The estimator is linear, ``tau_w = sum_it v_it Y_it`` with ``v = w`` on ``Omega_1`` and
``v_0 = -Omega Z_0 (Z_0' Omega Z_0)^{-1} Z_1' w`` on ``Omega_0`` (the same normal
equations with right-hand side ``Z_1' w``). The conservative variance (Theorem 3,
clustered by unit) is ``sum_c (sum_{it in c} v_it eps~_it)^2`` with ``eps~`` the
``Omega_0`` residuals and, on ``Omega_1``, ``tau_it - tau~_it``, where ``tau~_it`` is
the ``v``-weighted mean of ``tau`` in the observation's cohort-by-period cell leaving
out unit ``i`` (the paper's Section 4.3 and Appendix A.6 leave-out refinement, which
removes the downward bias of own-observation averaging; a unit alone in its cell falls
back to the cell mean).

Pre-trend test (Section 4.4, Test 1): on ``Omega_0`` only, add indicators for the
``k = 1..K`` periods before adoption and test their coefficients jointly with a
unit-clustered Wald test; unlike event-study leads it does not contaminate the effect
estimates.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator

from paribus._core.params import NONE, Interval, Satisfies, validate_params
from paribus.designs.did._panel import Panel, panel_from_frame
from paribus.designs.did._wald import WaldTest, wald_test
from paribus.errors import (
    ConvergenceError,
    DataError,
    DataWarning,
    NotFittedError,
    ParameterError,
)
from paribus.results import Effect, EffectTable

__all__ = ["ImputationDiD"]


class _Design(NamedTuple):
    """Observations split into untreated (0) and treated (1) with their codes."""

    unit: np.ndarray
    time: np.ndarray
    y: np.ndarray
    X: np.ndarray  # (n, k), k may be 0
    w: np.ndarray
    treated: np.ndarray  # bool
    horizon: np.ndarray  # t - G (NaN never treated)
    cell: np.ndarray  # cohort-by-period cell code of treated rows, -1 elsewhere
    cluster: np.ndarray
    n_units: int
    n_times: int


class _FixedEffects:
    """Normal equations of the two-way FE (+ covariates) regression on ``Omega_0``."""

    def __init__(self, d: _Design, tol: float, max_iter: int) -> None:
        m = ~d.treated
        self.u, self.t, self.w, self.X = d.unit[m], d.time[m], d.w[m], d.X[m]
        self.n_units, self.n_times = d.n_units, d.n_times
        self.wu = np.bincount(self.u, self.w, d.n_units)
        self.wt = np.bincount(self.t, self.w, d.n_times)
        self.xwx_inv = (
            np.linalg.inv((self.X * self.w[:, None]).T @ self.X) if self.X.shape[1] else None
        )
        self.tol, self.max_iter = tol, max_iter

    def rhs_from(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``Z_0' Omega values`` for values on ``Omega_0`` (a least squares fit)."""
        wv = self.w * values
        return (
            np.bincount(self.u, wv, self.n_units),
            np.bincount(self.t, wv, self.n_times),
            self.X.T @ wv,
        )

    def solve(
        self, cu: np.ndarray, ct: np.ndarray, cx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Solve ``Z_0' Omega Z_0 (a, b, g) = (cu, ct, cx)`` by block Gauss-Seidel."""
        a, b = np.zeros(self.n_units), np.zeros(self.n_times)
        g = np.zeros(self.X.shape[1])
        xg = np.zeros(self.u.size)
        has_u, has_t = self.wu > 0, self.wt > 0
        fitted = np.zeros(self.u.size)
        for _ in range(self.max_iter):
            a = np.where(
                has_u, cu - np.bincount(self.u, self.w * (b[self.t] + xg), self.n_units), 0
            )
            a = np.divide(a, self.wu, out=np.zeros_like(a), where=has_u)
            b = np.where(
                has_t, ct - np.bincount(self.t, self.w * (a[self.u] + xg), self.n_times), 0
            )
            b = np.divide(b, self.wt, out=np.zeros_like(b), where=has_t)
            if self.xwx_inv is not None:
                g = self.xwx_inv @ (cx - self.X.T @ (self.w * (a[self.u] + b[self.t])))
                xg = self.X @ g
            new = a[self.u] + b[self.t] + xg
            change = np.max(np.abs(new - fitted)) if new.size else 0.0
            fitted = new
            if change <= self.tol * (1.0 + np.max(np.abs(new))):
                return a, b, g
        raise ConvergenceError(
            f"the fixed-effects fit on untreated observations did not converge in "
            f"{self.max_iter} alternating-projection sweeps; raise max_iter, or check that "
            "units and periods are connected through untreated observations."
        )


class ImputationDiD(BaseEstimator):
    """Borusyak, Jaravel & Spiess (2024) imputation estimator for staggered adoption.

    Parameters
    ----------
    horizons : int, sequence of int or None
        Event-time horizons ``h = t - G`` to report in ``event_study_`` (an int ``H``
        means ``0..H``); ``None`` reports only the overall ATT.
    pretrends : int, default 0
        Number of pre-adoption periods ``K`` in the pre-trend test (0: no test).
    anticipation : int, default 0
        Periods ``delta`` before adoption treated as affected.
    leave_out : bool, default True
        Leave-out averaging of ``tau`` in the variance (module docstring).
    level : float, default 0.95
        Confidence level.
    tol, max_iter : float, int
        Convergence of the alternating projections.

    Attributes
    ----------
    result_ : Effect
        Overall ATT over all treated observations.
    event_study_ : EffectTable or None
        ATT by horizon, labelled ``"h=0"``, ``"h=1"``, ...
    pretrends_ : EffectTable or None
        Pre-adoption coefficients ``"lead 1"`` ... of the pre-trend regression.
    pretrend_test_ : WaldTest or None
        Their joint Wald test (chi-squared, unit-clustered).
    effects_ : ndarray
        Imputed ``tau_it`` for every treated observation (row order of the data).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "horizons": [
            NONE,
            Interval(0, None, integer=True),
            Satisfies(
                lambda v: isinstance(v, (list, tuple)) and all(isinstance(h, int) for h in v),
                "a sequence of integers",
            ),
        ],
        "pretrends": [Interval(0, None, integer=True)],
        "anticipation": [Interval(0, None, integer=True)],
        "leave_out": [Satisfies(lambda v: isinstance(v, bool), "True or False")],
        "level": [Interval(0, 1, closed="neither")],
        "tol": [Interval(0, 1e-4, closed="right")],
        "max_iter": [Interval(1, None, integer=True)],
    }

    def __init__(
        self,
        horizons: int | Sequence[int] | None = None,
        pretrends: int = 0,
        anticipation: int = 0,
        leave_out: bool = True,
        level: float = 0.95,
        tol: float = 1e-13,
        max_iter: int = 10_000,
    ) -> None:
        self.horizons = horizons
        self.pretrends = pretrends
        self.anticipation = anticipation
        self.leave_out = leave_out
        self.level = level
        self.tol = tol
        self.max_iter = max_iter

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        covariates: str | Sequence[str] | None = None,
        weights: str | None = None,
        clusters: str | None = None,
    ) -> ImputationDiD:
        """Impute untreated outcomes and average the effects; returns ``self``.

        ``cohort`` is the unit's first treated period (0 or NaN: never treated);
        ``weights`` observation weights (regression and estimand); ``clusters`` the
        variance clusters (default: units). Unbalanced panels are allowed.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        panel = panel_from_frame(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            weights=weights,
            clusters=clusters,
            covariates=covariates,
        )
        design = _design(panel, self.anticipation)
        fe = _FixedEffects(design, self.tol, self.max_iter)
        y0 = design.y[~design.treated]
        a, b, g = fe.solve(*fe.rhs_from(y0))
        fitted = a[design.unit] + b[design.time] + design.X @ g
        tau = (design.y - fitted)[design.treated]
        resid0 = (design.y - fitted)[~design.treated]
        self.effects_ = tau
        self.coef_ = g
        weights_w = design.w[design.treated]
        overall = self._estimate(fe, design, tau, resid0, weights_w, "ATT", {})
        self.result_ = overall
        self.event_study_ = self._event_study(fe, design, tau, resid0)
        self.pretrends_, self.pretrend_test_ = self._pretrend_test(design)
        return self

    # -- estimation ------------------------------------------------------------------------

    def _estimate(
        self,
        fe: _FixedEffects,
        d: _Design,
        tau: np.ndarray,
        resid0: np.ndarray,
        raw_w: np.ndarray,
        estimand: str,
        extra: dict[str, Any],
    ) -> Effect:
        w = raw_w / raw_w.sum()
        est = float(w @ tau)
        m1 = d.treated
        # v on Omega_0 from the normal equations with right-hand side Z_1' w
        cu = np.bincount(d.unit[m1], w, d.n_units)
        ct = np.bincount(d.time[m1], w, d.n_times)
        cx = d.X[m1].T @ w
        a, b, g = fe.solve(cu, ct, cx)
        v0 = -fe.w * (a[fe.u] + b[fe.t] + fe.X @ g)
        eps1 = tau - _tau_tilde(tau, w, d.cell[m1], d.unit[m1], self.leave_out)
        contrib = np.zeros(d.y.size)
        contrib[m1] = w * eps1
        contrib[~m1] = v0 * resid0
        n_units = d.n_units
        per_cluster = np.bincount(d.cluster, contrib)
        se = float(np.sqrt(np.sum(per_cluster**2)))
        scores = n_units * np.bincount(d.unit, contrib, n_units)
        diag = {"n_treated_obs": int(np.sum(w > 0)), "n_untreated_obs": int(np.sum(~m1))}
        diag.update(extra)
        return Effect.from_normal(
            estimand=estimand,
            estimate=est,
            std_error=se,
            level=float(self.level),
            n_obs=n_units,
            method="bjs-imputation",
            inference="influence-function",
            diagnostics=diag,
            scores=scores,
        )

    def _event_study(
        self, fe: _FixedEffects, d: _Design, tau: np.ndarray, resid0: np.ndarray
    ) -> EffectTable | None:
        if self.horizons is None:
            return None
        hs = (
            list(range(int(self.horizons) + 1))
            if isinstance(self.horizons, int)
            else [int(h) for h in self.horizons]
        )
        k = d.horizon[d.treated]
        effects, labels = [], []
        for h in hs:
            mask = k == h
            if not mask.any():
                raise DataError(
                    f"horizon h={h} has no treated observations (observed horizons "
                    f"{np.unique(k).astype(int).tolist()}); choose horizons within that range."
                )
            raw = np.where(mask, d.w[d.treated], 0.0)
            effects.append(self._estimate(fe, d, tau, resid0, raw, "ATT(h)", {"horizon": h}))
            labels.append(f"h={h}")
        return EffectTable(effects, labels, title="Imputation event study")

    def _pretrend_test(self, d: _Design) -> tuple[EffectTable | None, WaldTest | None]:
        K = int(self.pretrends)
        if K == 0:
            return None, None
        m0 = ~d.treated
        lead_k = -(d.horizon[m0] + self.anticipation)  # 1 = the last untreated period
        leads = np.column_stack([(lead_k == k).astype(float) for k in range(1, K + 1)])
        empty = [k + 1 for k in range(K) if not leads[:, k].any()]
        if empty:
            raise DataError(
                f"pretrends={K}: no untreated observations {empty} period(s) before "
                "adoption; lower pretrends."
            )
        sub = d._replace(
            treated=np.zeros(int(m0.sum()), dtype=bool),
            unit=d.unit[m0],
            time=d.time[m0],
            y=d.y[m0],
            X=d.X[m0],
            w=d.w[m0],
        )
        fe = _FixedEffects(sub, self.tol, self.max_iter)
        cols = np.column_stack([sub.y, leads])
        resid = np.empty_like(cols)
        for j in range(cols.shape[1]):
            a, b, g = fe.solve(*fe.rhs_from(cols[:, j]))
            resid[:, j] = cols[:, j] - (a[fe.u] + b[fe.t] + fe.X @ g)
        ly, ll = resid[:, 0], resid[:, 1:]
        bread = np.linalg.inv((ll * sub.w[:, None]).T @ ll)
        delta = bread @ (ll * sub.w[:, None]).T @ ly
        e = ly - ll @ delta
        clusters = d.cluster[m0]
        scores = np.zeros((int(clusters.max()) + 1, K))
        np.add.at(scores, clusters, ll * (sub.w * e)[:, None])
        n_c = int(np.unique(clusters).size)
        cov = n_c / (n_c - 1) * bread @ scores.T @ scores @ bread
        se = np.sqrt(np.diag(cov))
        table = EffectTable(
            [
                Effect.from_normal(
                    estimand="pre-trend",
                    estimate=float(delta[k]),
                    std_error=float(se[k]),
                    level=float(self.level),
                    n_obs=n_c,
                    method="bjs-pretrend",
                    inference="cluster-robust",
                )
                for k in range(K)
            ],
            [f"lead {k}" for k in range(1, K + 1)],
            title="Pre-trend coefficients (untreated observations)",
        )
        return table, wald_test(delta, cov)

    def plot(self, ax: Any = None) -> Any:
        """Event-study plot: the horizons' ATTs and, with ``pretrends``, the lead coefficients."""
        import pandas as pd

        from paribus.designs.did.plots import event_study_plot

        if self.event_study_ is None:
            raise ParameterError(
                "plot() draws the event study: fit with horizons= (e.g. horizons=5)."
            )
        rows = [
            (float(label.split("=")[1]), e.estimate, e.ci_lower, e.ci_upper)
            for label, e in zip(self.event_study_.labels, self.event_study_, strict=True)
        ]
        if self.pretrends_ is not None:
            rows += [
                (-float(label.split()[1]), e.estimate, e.ci_lower, e.ci_upper)
                for label, e in zip(self.pretrends_.labels, self.pretrends_, strict=True)
            ]
        frame = pd.DataFrame(rows, columns=["rel_time", "estimate", "ci_lower", "ci_upper"])
        return event_study_plot(frame, ax=ax, reference=None)

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _tau_tilde(
    tau: np.ndarray, w: np.ndarray, cell: np.ndarray, unit: np.ndarray, leave_out: bool
) -> np.ndarray:
    """``v``-weighted mean of ``tau`` per cohort-period cell, leaving out the own unit."""
    n_cells = int(cell.max()) + 1
    s = np.bincount(cell, w * tau, n_cells)
    v = np.bincount(cell, w, n_cells)
    out = np.divide(s[cell], v[cell], out=tau.copy(), where=v[cell] > 0)
    if leave_out:
        # a unit has one row per period, so its share of the cell is its own row
        s_lo, v_lo = s[cell] - w * tau, v[cell] - w
        ok = v_lo > 1e-12 * np.maximum(v[cell], 1e-300)
        out = np.where(ok, np.divide(s_lo, v_lo, out=out.copy(), where=ok), out)
    return out


def _design(panel: Panel, anticipation: int) -> _Design:
    """Split rows into untreated/treated; drop units never untreated; check periods."""
    time = panel.time
    g = panel.cohort
    treated = time >= g - anticipation
    unit = panel.unit_codes
    has_untreated = np.bincount(unit, ~treated, panel.n_units) > 0
    keep = has_untreated[unit]
    if not keep.all():
        warnings.warn(
            f"dropped {int(np.sum(~has_untreated))} units treated in every observed period: "
            "with no untreated observation their unit effect cannot be estimated.",
            DataWarning,
            stacklevel=3,
        )
    t_codes = panel.time_codes[keep]
    treated = treated[keep]
    untreated_periods = np.bincount(t_codes, ~treated, panel.n_times) > 0
    bad = np.unique(t_codes[treated & ~untreated_periods[t_codes]])
    if bad.size:
        raise DataError(
            f"periods {panel.times[bad].tolist()} have no untreated observation, so their "
            "period effect (and Y(0)) cannot be imputed; restrict the sample to periods "
            f"before {panel.times[bad].min():g} or add never-treated units."
        )
    if not treated.any():
        raise DataError("no treated observations: the cohort column marks no unit as treated.")
    unit_codes = np.unique(unit[keep], return_inverse=True)[1]
    horizon = (time - g)[keep]
    cohort_codes = np.unique(g[keep], return_inverse=True)[1]
    cell = np.where(treated, cohort_codes * panel.n_times + t_codes, -1)
    cell[treated] = np.unique(cell[treated], return_inverse=True)[1]
    n = int(keep.sum())
    X = panel.X[keep] if panel.X is not None else np.zeros((n, 0))
    w = panel.weights[keep] if panel.weights is not None else np.ones(n)
    cluster = unit_codes if panel.cluster_codes is None else panel.cluster_codes[keep]
    return _Design(
        unit=unit_codes,
        time=t_codes,
        y=panel.y[keep],
        X=X,
        w=w,
        treated=treated,
        horizon=horizon,
        cell=cell,
        cluster=np.unique(cluster, return_inverse=True)[1],
        n_units=int(unit_codes.max()) + 1,
        n_times=panel.n_times,
    )

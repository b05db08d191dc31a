"""StaggeredDiD: group-time average treatment effects of Callaway & Sant'Anna (2021).

With staggered adoption, cohort ``g`` (units first treated in period ``g``) has the
group-time effect ``ATT(g,t) = E[Y_t(g) - Y_t(0) | G = g]`` (Callaway & Sant'Anna 2021,
J. Econometrics 225(2), eq. 2.1). Under parallel trends conditional on covariates and
limited anticipation of ``delta`` periods, each is identified by a 2x2 comparison of
cohort ``g`` with a control group between a base period ``b`` and ``t`` (Theorem 1):

* control group ``"never_treated"``: ``G = inf``; ``"not_yet_treated"``: never treated
  or ``G > max(t, b) + delta`` (other than ``g``);
* base period: for ``t >= g - delta`` the last period before ``g - delta``; for earlier
  (pre-treatment, placebo) ``t`` the period before ``t`` (``"varying"``) or that same
  last pre-treatment period (``"universal"``, whose reference cell is omitted).

Each 2x2 is estimated on the outcome change ``dY = Y_t - Y_b`` with covariates taken in
the base period by the doubly robust (``"dr"``), inverse probability weighting
(``"ipw"``, normalised) or outcome regression (``"reg"``) estimators of Sant'Anna &
Zhao (2020, J. Econometrics 219(1), eq. 3.1, 2.2, 2.3); without covariates all three
are the difference of mean changes. Influence values per unit include the estimation
effect of the propensity logit and the control outcome regression, and are rescaled
from the 2x2 subsample to all units, so the cells share one covariance and the
aggregations and bootstrap in :mod:`paribus.designs.did.aggregate` need no refit.
The pre-trend test is the Wald test of ``ATT(g,t) = 0`` for all ``t < g - delta``.

The panel must be balanced; units treated in the first period (plus ``delta``) are
dropped with a warning (no untreated period identifies their trends), and cohorts
treated after the last period count as never treated.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator

from paribus._core.logit import Logit
from paribus._core.params import NONE, Interval, Options, Satisfies, validate_params
from paribus.designs.did._panel import Panel, panel_from_frame
from paribus.designs.did._wald import WaldTest, wald_test
from paribus.designs.did.aggregate import (
    Aggregation,
    GroupTimeEffects,
    aggregate_group_time,
    cluster_sums,
    make_table,
)
from paribus.errors import DataError, DataWarning, NotFittedError
from paribus.results import EffectTable

__all__ = ["StaggeredDiD", "WaldTest"]

_PS_CAP = 1 - 1e-6  # propensity cap: controls with e -> 1 would get unbounded weight


# -- 2x2 estimators (Sant'Anna & Zhao 2020, panel data) ----------------------------------------
# Each returns (att, phi) on the 2x2 subsample of n1 units with att - truth ~= mean(phi).


def _diff_means(dy: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    wt, wc = w * d, w * (1 - d)
    m1, m0 = wt @ dy / wt.sum(), wc @ dy / wc.sum()
    phi = wt * (dy - m1) / wt.mean() - wc * (dy - m0) / wc.mean()
    return float(m1 - m0), phi


def _control_regression(
    z: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fitted ``E[dY | X, D=0]`` for everyone and the OLS influence values (n1, k)."""
    wc = w * (1 - d)
    gram = (z * wc[:, None]).T @ z
    try:
        beta = np.linalg.solve(gram, z.T @ (wc * dy))
    except np.linalg.LinAlgError as exc:
        raise DataError(
            "the control-group outcome regression is singular (collinear or constant "
            "covariates among the controls); drop redundant covariates."
        ) from exc
    fitted = z @ beta
    lin_rep = (wc * (dy - fitted))[:, None] * z @ np.linalg.inv(gram / z.shape[0])
    return fitted, lin_rep


def _propensity(z: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logit ``P(D=1 | X)`` and its maximum-likelihood influence values (n1, k)."""
    model = Logit().fit(z[:, 1:], d, sample_weight=w)
    ps = np.minimum(model.predict_proba(z[:, 1:])[:, 1], _PS_CAP)
    hessian = (z * (w * ps * (1 - ps))[:, None]).T @ z / z.shape[0]
    lin_rep = (w * (d - ps))[:, None] * z @ np.linalg.inv(hessian)
    return ps, lin_rep


def _reg(z: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    fitted, lin_ols = _control_regression(z, dy, d, w)
    wt = w * d
    eta_t = wt @ dy / wt.sum()
    eta_c = wt @ fitted / wt.sum()
    inf_treat = wt * (dy - eta_t) / wt.mean()
    inf_cont = (wt * (fitted - eta_c) + lin_ols @ np.mean(wt[:, None] * z, axis=0)) / wt.mean()
    return float(eta_t - eta_c), inf_treat - inf_cont


def _ipw(z: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    ps, lin_ps = _propensity(z, d, w)
    wt = w * d
    wc = w * ps * (1 - d) / (1 - ps)
    eta_t, eta_c = wt @ dy / wt.sum(), wc @ dy / wc.sum()
    inf_treat = wt * (dy - eta_t) / wt.mean()
    m2 = np.mean((wc * (dy - eta_c))[:, None] * z, axis=0)
    inf_cont = (wc * (dy - eta_c) + lin_ps @ m2) / wc.mean()
    return float(eta_t - eta_c), inf_treat - inf_cont


def _dr(z: np.ndarray, dy: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    ps, lin_ps = _propensity(z, d, w)
    fitted, lin_ols = _control_regression(z, dy, d, w)
    resid = dy - fitted
    wt = w * d
    wc = w * ps * (1 - d) / (1 - ps)
    eta_t, eta_c = wt @ resid / wt.sum(), wc @ resid / wc.sum()
    inf_treat = (wt * (resid - eta_t) - lin_ols @ np.mean(wt[:, None] * z, axis=0)) / wt.mean()
    m2 = np.mean((wc * (resid - eta_c))[:, None] * z, axis=0)
    m3 = np.mean(wc[:, None] * z, axis=0)
    inf_cont = (wc * (resid - eta_c) + lin_ps @ m2 - lin_ols @ m3) / wc.mean()
    return float(eta_t - eta_c), inf_treat - inf_cont


_ESTIMATORS = {"dr": _dr, "ipw": _ipw, "reg": _reg}


# -- the estimator -----------------------------------------------------------------------------


class StaggeredDiD(BaseEstimator):
    """Callaway & Sant'Anna (2021) group-time ATTs, aggregations and uniform bands.

    Parameters
    ----------
    control_group : {"never_treated", "not_yet_treated"}
        Comparison units of each 2x2 (module docstring).
    estimator : {"dr", "ipw", "reg"}
        2x2 estimator with covariates (Sant'Anna & Zhao 2020); without covariates all
        give the difference of mean outcome changes.
    anticipation : int, default 0
        Periods ``delta`` before adoption in which units may already react.
    base_period : {"varying", "universal"}
        Base period of the pre-treatment cells.
    level : float, default 0.95
        Confidence level of intervals and bands.
    n_bootstrap : int, default 999
        Multiplier-bootstrap draws for the uniform bands (0: no bands).
    random_state : int or None
        Seed of the bootstrap multipliers.
    clustervars : str or None
        Column of clusters that nest units (constant within a unit); ``None`` clusters
        by unit.
    bootstrap_weights : {"mammen", "rademacher"}
        Multiplier distribution.

    Attributes
    ----------
    att_gt_ : EffectTable
        ``ATT(g,t)`` labelled ``"g=2004, t=2006"``; analytic (influence-function)
        standard errors and pointwise intervals; ``diagnostics`` hold ``group``,
        ``time``, ``base_period``, ``post``, ``n_treated``, ``n_control``, the uniform band
        (``uniform_lower``, ``uniform_upper``, ``critical_value``) and ``bootstrap_se``.
    pretrend_test_ : WaldTest or None
        Joint Wald test that all pre-treatment ``ATT(g,t)`` are zero.
    n_units_ : int
        Units used.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "control_group": [Options(("never_treated", "not_yet_treated"))],
        "estimator": [Options(("dr", "ipw", "reg"))],
        "anticipation": [Interval(0, None, integer=True)],
        "base_period": [Options(("varying", "universal"))],
        "level": [Interval(0, 1, closed="neither")],
        "n_bootstrap": [Interval(0, None, integer=True)],
        "random_state": [
            NONE,
            Satisfies(
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a seed"
            ),
        ],
        "clustervars": [NONE, Satisfies(lambda v: isinstance(v, str), "a column name")],
        "bootstrap_weights": [Options(("mammen", "rademacher"))],
    }

    def __init__(
        self,
        control_group: str = "never_treated",
        estimator: str = "dr",
        anticipation: int = 0,
        base_period: str = "varying",
        level: float = 0.95,
        n_bootstrap: int = 999,
        random_state: int | None = None,
        clustervars: str | None = None,
        bootstrap_weights: str = "mammen",
    ) -> None:
        self.control_group = control_group
        self.estimator = estimator
        self.anticipation = anticipation
        self.base_period = base_period
        self.level = level
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state
        self.clustervars = clustervars
        self.bootstrap_weights = bootstrap_weights

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
    ) -> StaggeredDiD:
        """Estimate every ``ATT(g,t)`` from a balanced long panel; returns ``self``.

        ``cohort`` is the first treated period of the unit (0 or NaN: never treated);
        ``covariates`` are taken in each 2x2's base period; ``weights`` are sampling
        weights constant within a unit.
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
            clusters=self.clustervars,
            covariates=covariates,
        )
        wide = _wide_panel(panel, self.anticipation)
        self._check_controls(wide)
        cells = self._group_time(wide)
        att = np.array([c[0] for c in cells])
        phi = np.column_stack([c[1] for c in cells])
        meta = [c[2] for c in cells]
        self.gt_ = GroupTimeEffects(
            att=att,
            influence=phi,
            group=np.array([m["group"] for m in meta]),
            time=np.array([m["time"] for m in meta]),
            unit_cohort=wide.cohort,
            unit_weights=wide.weights,
            cluster=wide.cluster,
            last_period=float(wide.times[-1]),
            level=float(self.level),
            n_bootstrap=int(self.n_bootstrap),
            random_state=self.random_state,
            bootstrap_weights=self.bootstrap_weights,
            method=f"cs-did-{self.estimator}",
        )
        labels = [f"g={m['group']:g}, t={m['time']:g}" for m in meta]
        self.att_gt_ = make_table(
            att,
            phi,
            labels,
            self.gt_,
            estimand="ATT(g,t)",
            title="Group-time average treatment effects",
            n_obs=[int(m["n_treated"] + m["n_control"]) for m in meta],
            extra=meta,
        )
        self.pretrend_test_ = self._pretrend(meta)
        self.n_units_ = int(wide.y.shape[0])
        return self

    # -- fitting steps ---------------------------------------------------------------------

    def _check_controls(self, wide: _Wide) -> None:
        if self.control_group == "never_treated" and not np.any(np.isinf(wide.cohort)):
            raise DataError(
                "control_group='never_treated' needs never-treated units (cohort 0 or NaN), "
                "but every unit is treated by the last period; use "
                "control_group='not_yet_treated' or drop the periods after the last cohort."
            )
        if not np.any(np.isfinite(wide.cohort)):
            raise DataError(
                "no unit is treated within the observed periods (cohort column is all "
                "never-treated); there is no group-time effect to estimate."
            )

    def _group_time(self, wide: _Wide) -> list[tuple[float, np.ndarray, dict[str, Any]]]:
        times, delta = wide.times, self.anticipation
        first = 1 if self.base_period == "varying" else 0
        out = []
        for g in np.unique(wide.cohort[np.isfinite(wide.cohort)]):
            last_pre = int(np.flatnonzero(times + delta < g)[-1])
            for t in range(first, times.size):
                post = times[t] >= g - delta
                base = last_pre if post or self.base_period == "universal" else t - 1
                if base == t:
                    continue  # the universal reference period: ATT = 0 by construction
                controls = self._controls(wide, g, times[max(t, base)])
                treated = wide.cohort == g
                if not controls.any():
                    warnings.warn(
                        f"no control units for g={g:g}, t={times[t]:g}; that cell is skipped.",
                        DataWarning,
                        stacklevel=3,
                    )
                    continue
                est, phi = self._two_by_two(wide, treated, controls, t, base)
                meta = {
                    "group": float(g),
                    "time": float(times[t]),
                    "base_period": float(times[base]),
                    "post": bool(post),
                    "n_treated": int(treated.sum()),
                    "n_control": int(controls.sum()),
                }
                out.append((est, phi, meta))
        return out

    def _controls(self, wide: _Wide, g: float, latest: float) -> np.ndarray:
        never = np.isinf(wide.cohort)
        if self.control_group == "never_treated":
            return never
        later = (wide.cohort > latest + self.anticipation) & (wide.cohort != g)
        return never | later

    def _two_by_two(
        self, wide: _Wide, treated: np.ndarray, controls: np.ndarray, t: int, base: int
    ) -> tuple[float, np.ndarray]:
        sub = treated | controls
        dy = wide.y[sub, t] - wide.y[sub, base]
        d = treated[sub].astype(float)
        w = wide.weights[sub]
        if wide.X is None:
            est, phi_sub = _diff_means(dy, d, w)
        else:
            z = np.column_stack([np.ones(dy.size), wide.X[sub, base, :]])
            est, phi_sub = _ESTIMATORS[self.estimator](z, dy, d, w)
        phi = np.zeros(wide.y.shape[0])
        phi[sub] = phi_sub * (wide.y.shape[0] / dy.size)
        return est, phi

    def _pretrend(self, meta: list[dict[str, Any]]) -> WaldTest | None:
        pre = np.array([not m["post"] for m in meta])
        if not pre.any():
            return None
        sums = cluster_sums(self.gt_.influence[:, pre], self.gt_.cluster)
        cov = sums.T @ sums / self.gt_.n_units**2
        return wald_test(self.gt_.att[pre], cov)

    # -- fitted interface --------------------------------------------------------------------

    def aggregate(
        self,
        kind: Literal["simple", "group", "dynamic", "calendar"] = "simple",
        *,
        min_e: float = -math.inf,
        max_e: float = math.inf,
        balance_e: int | None = None,
    ) -> Aggregation:
        """Aggregate ``att_gt_``: ``kind`` in "simple", "group", "calendar", "dynamic".

        Returns an :class:`~paribus.designs.did.aggregate.Aggregation` (``overall``
        Effect, per-cohort/period/event-time ``table``); see
        :func:`~paribus.designs.did.aggregate.aggregate_group_time`.
        """
        return aggregate_group_time(
            self.gt_,
            kind,
            min_e=min_e,
            max_e=max_e,
            balance_e=balance_e,
        )

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def event_study(self, **kwargs: Any) -> EffectTable:
        """The dynamic aggregation's table (``aggregate("dynamic", **kwargs).table``)."""
        return self.aggregate("dynamic", **kwargs).table


# -- wide panel ----------------------------------------------------------------------------------


class _Wide(NamedTuple):
    y: np.ndarray  # (n_units, T)
    X: np.ndarray | None  # (n_units, T, k)
    times: np.ndarray
    cohort: np.ndarray  # (n_units,) inf = never treated
    weights: np.ndarray  # (n_units,) mean one
    cluster: np.ndarray  # (n_units,) int codes


def _wide_panel(panel: Panel, anticipation: int) -> _Wide:
    """Balanced wide arrays; drop units treated from the start, late cohorts -> never."""
    if not panel.balanced:
        raise DataError(
            "StaggeredDiD needs a balanced panel (every unit observed in every period); "
            f"{panel.n_obs} rows for {panel.n_units} units x {panel.n_times} periods. Keep "
            "the units observed throughout, or fill the gaps."
        )
    n, T = panel.n_units, panel.n_times
    y = np.empty((n, T))
    y[panel.unit_codes, panel.time_codes] = panel.y
    X = None
    if panel.X is not None:
        X = np.empty((n, T, panel.X.shape[1]))
        X[panel.unit_codes, panel.time_codes, :] = panel.X
    times = panel.times
    cohort = panel.unit_cohort.copy()
    cohort[cohort > times[-1] + anticipation] = np.inf
    weights = _per_unit(panel.weights, panel, "weights")
    cluster = (
        np.arange(n)
        if panel.cluster_codes is None
        else _per_unit(panel.cluster_codes.astype(float), panel, "clustervars").astype(int)
    )
    keep = ~(cohort <= times[0] + anticipation)
    if not keep.all():
        warnings.warn(
            f"dropped {int((~keep).sum())} units treated in the first period "
            f"({times[0]:g}, anticipation {anticipation}): no untreated period "
            "identifies their trend.",
            DataWarning,
            stacklevel=3,
        )
    cluster = np.unique(cluster[keep], return_inverse=True)[1]
    w = weights[keep]
    return _Wide(
        y=y[keep],
        X=None if X is None else X[keep],
        times=times,
        cohort=cohort[keep],
        weights=w / w.mean(),
        cluster=cluster,
    )


def _per_unit(values: np.ndarray | None, panel: Panel, role: str) -> np.ndarray:
    if values is None:
        return np.ones(panel.n_units)
    out = np.empty(panel.n_units)
    out[panel.unit_codes] = values
    if not np.array_equal(out[panel.unit_codes], values):
        raise DataError(
            f"{role} column {panel.names.get('weights' if role == 'weights' else 'clusters')!r} "
            "varies within a unit; StaggeredDiD needs it constant per unit (clusters must "
            "nest units)."
        )
    return out

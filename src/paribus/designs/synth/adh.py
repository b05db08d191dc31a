"""Synthetic control of Abadie, Diamond & Hainmueller: :class:`SyntheticControl`.

Estimand: the treated unit's average effect over the post-treatment periods,
``ATT = mean_{t >= T0} (Y_1t - Y_1t(0))``, with the untreated path ``Y_1t(0)``
estimated by a convex combination of donors, ``sum_j w_j Y_jt``.

Weights (Abadie & Gardeazabal 2003, AER 93(1); Abadie, Diamond & Hainmueller 2010,
JASA 105(490), eq. (3)-(4); 2015, AJPS 59(2); Abadie 2021, JEL 59(2), section 3):

``W(V) = argmin_W (X1 - X0 W)' V (X1 - X0 W)``, ``W >= 0``, ``sum W = 1``,

with ``X`` the predictors (each standardised by its standard deviation across all
units, as the R package Synth does) and ``V`` a non-negative diagonal matrix with
unit trace chosen

* ``"nested"``: to minimise the pre-period outcome MSPE ``mean_t (Z1 - Z0 W(V))^2``
  (ADH 2010 section 2.3), searched by Nelder-Mead over ``v = softmax(p)`` from an
  equal start and a regression start (the best is kept; the problem has local optima);
* ``"cv"``: by cross-validation over the pre-period (Abadie 2021, section 3.2):
  ``W~(V)`` is fitted with predictors measured in a training window, ``V*``
  minimises the MSPE of ``W~(V)`` over the later validation window, and the final
  weights are ``W(V*)`` with the predictors measured in the validation window;
* ``"equal"`` or a given vector.

For an outcome-only design (no covariates) the predictors are the pre-period
outcomes, not standardised, and ``"nested"`` reduces to equal ``V``: ``W`` then
minimises the pre-period MSPE itself, which is the nested criterion's optimum.

The inner quadratic program is solved exactly by a primal active-set method
(Lawson & Hanson 1974, ch. 23, adapted to the simplex): each step solves the
equality-constrained least squares problem on the free set by ``lstsq`` on a
null-space parameterisation, without forming ``X0'VX0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from paribus._core.params import (
    LEVEL,
    N_JOBS,
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    Satisfies,
    validate_params,
)
from paribus.designs.synth._data import SynthPanel, cv_panels, synth_panel
from paribus.errors import ConvergenceError, DataError, NotFittedError, ParameterError
from paribus.results import Effect

__all__ = ["SCFit", "SyntheticControl", "WeightSpec", "simplex_lstsq", "solve_weights"]


# -- the inner quadratic program -----------------------------------------------------------


def _face_lstsq(a: np.ndarray, b: np.ndarray, free: np.ndarray) -> np.ndarray:
    """argmin ||b - a w|| over w supported on ``free`` with sum(w) = 1 (min-norm if not unique)."""
    idx = np.flatnonzero(free)
    z = np.zeros(a.shape[1])
    if idx.size == 1:
        z[idx[0]] = 1.0
        return z
    last = a[:, idx[-1]]
    # w_F = e_last + N y with N = [I; -1']: the sum constraint holds for every y
    basis = a[:, idx[:-1]] - last[:, None]
    y = np.linalg.lstsq(basis, b - last, rcond=None)[0]
    z[idx[:-1]] = y
    z[idx[-1]] = 1.0 - y.sum()
    return z


def simplex_lstsq(a: np.ndarray, b: np.ndarray, *, max_iter: int | None = None) -> np.ndarray:
    """Exact solution of ``min ||b - a w||^2`` subject to ``w >= 0`` and ``sum(w) = 1``.

    Primal active-set method (Lawson & Hanson 1974, ch. 23, with the simplex's
    equality constraint): start at the best single column; add the column whose
    KKT multiplier ``mu_j = g_j - g_F`` (``g = a'(a w - b)``) is most negative; solve
    the least squares problem on the free face; step back to the boundary when a
    free weight would turn negative. Stops when every ``mu_j >= 0`` up to rounding.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n = a.shape[1]
    w = np.zeros(n)
    w[int(np.argmin(((b[:, None] - a) ** 2).sum(axis=0)))] = 1.0
    if n == 1:
        return w
    free = w > 0
    tol = 1e-11 * (np.linalg.norm(a) ** 2 + np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)
    limit = max_iter if max_iter is not None else 30 * n + 100
    for _ in range(limit):
        grad = a.T @ (a @ w - b)
        mu = grad - grad[free].mean()
        mu[free] = np.inf
        j = int(np.argmin(mu))
        if mu[j] >= -tol:
            return w
        free[j] = True
        for _ in range(n + 1):
            z = _face_lstsq(a, b, free)
            if np.all(z[free] > 0):
                w = z
                break
            neg = np.flatnonzero(free & (z <= 0))
            steps = w[neg] / (w[neg] - z[neg])
            k = int(np.argmin(steps))
            w = w + steps[k] * (z - w)
            w[neg[k]] = 0.0
            free &= w > 1e-14
            w[~free] = 0.0
            w /= w.sum()
    raise ConvergenceError(
        f"simplex_lstsq: the active-set method did not converge in {limit} iterations "
        f"({n} donors); the donor matrix may be badly scaled. Rescale the predictors."
    )


# -- predictor weights -------------------------------------------------------------------


@dataclass(frozen=True)
class WeightSpec:
    """How donor and predictor weights are chosen (the estimator's settings, frozen)."""

    v: Any = "nested"
    optimizer: str = "Nelder-Mead"
    v_starts: tuple[str, ...] = ("equal", "regression")
    max_iter: int = 2000
    tol: float = 1e-10
    n_random_starts: int = 0
    seed: int | None = None


@dataclass(frozen=True)
class SynthDesign:
    """A panel plus what choosing V needs: the MSPE periods and, for CV, the training panel."""

    panel: SynthPanel
    mspe: np.ndarray  # bool (T,), periods whose outcome MSPE chooses V
    train: SynthPanel | None = None  # cross-validation: predictors in the training window

    def as_treated(self, donor: str) -> SynthDesign:
        train = None if self.train is None else self.train.as_treated(donor)
        return SynthDesign(self.panel.as_treated(donor), self.mspe, train)

    def without_donor(self, donor: str) -> SynthDesign:
        train = None if self.train is None else self.train.without_donor(donor)
        return SynthDesign(self.panel.without_donor(donor), self.mspe, train)


@dataclass(frozen=True)
class SCFit:
    """Donor weights ``weights`` (J,), predictor weights ``v`` (K,), the synthetic path,
    the V-criterion (pre-period outcome MSPE over the MSPE periods) and the predictor loss."""

    weights: np.ndarray
    v: np.ndarray
    synthetic: np.ndarray
    loss_v: float
    loss_w: float


def _scaled(panel: SynthPanel) -> tuple[np.ndarray, np.ndarray]:
    if panel.outcome_only:
        return panel.x1, panel.x0
    x = np.column_stack([panel.x1, panel.x0])
    sd = x.std(axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    return panel.x1 / sd, panel.x0 / sd[:, None]


def _w_given_v(x1: np.ndarray, x0: np.ndarray, v: np.ndarray) -> np.ndarray:
    root = np.sqrt(v)
    return simplex_lstsq(x0 * root[:, None], x1 * root)


def _regression_start(x1: np.ndarray, x0: np.ndarray, z1: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """V proportional to the squared coefficients of the outcomes on the predictors.

    Regress each pre-period outcome across units on the standardised predictors (with
    an intercept) and weight each predictor by its summed squared coefficients.
    """
    design = np.column_stack([np.ones(x0.shape[1] + 1), np.column_stack([x1, x0]).T])
    coef = np.linalg.lstsq(design, np.column_stack([z1, z0]).T, rcond=None)[0][1:]
    v = (coef**2).sum(axis=1)
    return v / v.sum() if v.sum() > 0 else np.full(v.size, 1.0 / v.size)


def _softmax(p: np.ndarray) -> np.ndarray:
    e = np.exp(p - p.max())
    return np.asarray(e / e.sum())


def _nested_v(
    x1: np.ndarray, x0: np.ndarray, z1: np.ndarray, z0: np.ndarray, spec: WeightSpec
) -> np.ndarray:
    """V minimising the outcome MSPE of W(V): the outer search over ``v = softmax(p)``.

    The log-scale (softmax) parameterisation lets the search move predictor weights
    over orders of magnitude; Synth's ``|p| / sum|p|`` stalls in worse local optima
    (on the Basque data an MSPE of 0.0249 against 0.00886).
    """
    k = x1.size
    equal = np.full(k, 1.0 / k)

    def mspe(p: np.ndarray) -> float:
        return float(np.mean((z1 - z0 @ _w_given_v(x1, x0, _softmax(p))) ** 2))

    base = max(mspe(np.zeros(k)), 1e-300)  # the criterion relative to the equal-V fit
    starts = []
    for name in spec.v_starts:
        v0 = equal if name == "equal" else _regression_start(x1, x0, z1, z0)
        starts.append(np.log(np.maximum(v0, 1e-12)))
    rng = np.random.default_rng(spec.seed)
    starts += [np.log(rng.dirichlet(np.ones(k))) for _ in range(spec.n_random_starts)]
    if spec.optimizer == "Nelder-Mead":
        options = {"maxiter": spec.max_iter, "xatol": 1e-7, "fatol": spec.tol}
    else:
        options = {"maxiter": spec.max_iter, "xtol": 1e-7, "ftol": spec.tol}
    best, best_loss = np.zeros(k), np.inf
    for p0 in starts:
        res = minimize(lambda p: mspe(p) / base, p0, method=spec.optimizer, options=options)
        if res.fun < best_loss:
            best, best_loss = res.x, float(res.fun)
    return _softmax(best)


def solve_weights(design: SynthDesign, spec: WeightSpec) -> SCFit:
    """Donor and predictor weights of one synthetic-control problem."""
    panel = design.panel
    x1, x0 = _scaled(panel)
    z1, z0 = panel.y1[design.mspe], panel.y0[design.mspe]
    k = x1.size
    if isinstance(spec.v, str) and spec.v == "cv" and design.train is not None:
        t1, t0 = _scaled(design.train)
        v = _nested_v(t1, t0, z1, z0, spec)
    elif isinstance(spec.v, str) and (spec.v == "equal" or panel.outcome_only or k == 1):
        v = np.full(k, 1.0 / k)
    elif isinstance(spec.v, str):
        v = _nested_v(x1, x0, z1, z0, spec)
    else:
        v = np.asarray(spec.v, dtype=float)
        v = v / v.sum()
    w = _w_given_v(x1, x0, v)
    synthetic = panel.y0 @ w
    gap = panel.y1[design.mspe] - synthetic[design.mspe]
    loss_w = float(np.sum(v * (x1 - x0 @ w) ** 2))
    return SCFit(w, v, synthetic, float(np.mean(gap**2)), loss_w)


# -- the estimator -------------------------------------------------------------------------


def _v_ok(value: Any) -> bool:
    if isinstance(value, str):
        return value in ("nested", "cv", "equal")
    arr = np.asarray(value, dtype=float)
    return bool(arr.ndim == 1 and arr.size > 0 and np.all(arr >= 0) and arr.sum() > 0)


class SyntheticControl(BaseEstimator):
    """Synthetic control for one treated unit (Abadie, Diamond & Hainmueller 2010).

    Parameters
    ----------
    v : {"nested", "cv", "equal"} or array-like, default "nested"
        Predictor weights: the nested MSPE optimisation, cross-validation over the
        pre-period, equal weights, or given non-negative weights (one per predictor).
    optimizer : {"Nelder-Mead", "Powell"}, default "Nelder-Mead"
        scipy method of the outer search over V.
    v_starts : tuple of {"equal", "regression"}, default both
        Starting points of the outer search; the best end point is kept.
    max_iter : int, default 2000
        Iterations of each outer search.
    tol : float, default 1e-10
        Relative tolerance of the outer search on the MSPE.
    n_random_starts : int, default 0
        Extra outer-search starts drawn from a flat Dirichlet (seeded by
        ``random_state``). The nested problem has local optima: more starts can find
        a lower MSPE with different weights (on the Basque data 20 starts reach an
        MSPE of 0.0043 against 0.0089 of the published A&G solution).
    cv_split : float, default 0.5
        With ``v="cv"``, the share of pre-periods in the training window.
    inference : {"conformal", "placebo"} or None, default "conformal"
        ``"conformal"``: p-value and interval for a constant effect by the conformal
        test of Chernozhukov, Wuthrich & Zhu (2021) with moving-block permutations
        (the test refits the outcome-only synthetic control on all periods under each
        null, whatever the predictors; ``std_error`` is then NaN);
        ``"placebo"``: permutation p-value from the in-space placebos' post/pre RMSPE
        ratios (ADH 2010), with ``std_error`` the spread of the placebo ATTs.
    level : float, default 0.95
    random_state : int or None
        Seed of the random outer-search starts and of i.i.d. conformal permutations.
    n_jobs : int or None
        Workers for placebo refits (None: the session setting).

    Attributes
    ----------
    result_ : Effect
        ``estimand="ATT"``, the mean post-period gap; ``diagnostics`` holds
        ``weights`` (donor -> weight), ``v`` (predictor -> weight), ``pre_rmspe``,
        ``post_rmspe``, ``loss_v`` and ``predictor_balance``.
    weights_, v_, gaps_, synthetic_ : pandas.Series
    pre_rmspe_ : float
    panel_ : SynthPanel
        The validated arrays (treated path, donor matrix, predictors).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "v": [Satisfies(_v_ok, "'nested', 'cv', 'equal' or non-negative weights")],
        "optimizer": [Options(("Nelder-Mead", "Powell"))],
        "v_starts": [
            Satisfies(
                lambda s: len(s) > 0 and all(x in ("equal", "regression") for x in s),
                "a non-empty tuple of 'equal' and/or 'regression'",
            )
        ],
        "max_iter": [Interval(1, None, integer=True)],
        "n_random_starts": [Interval(0, None, integer=True)],
        "tol": [Interval(0, None, closed="neither")],
        "cv_split": [Interval(0, 1, closed="neither")],
        "inference": [Options(("conformal", "placebo")), NONE],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
        "n_jobs": [N_JOBS],
    }

    def __init__(
        self,
        v: Any = "nested",
        *,
        optimizer: str = "Nelder-Mead",
        v_starts: tuple[str, ...] = ("equal", "regression"),
        max_iter: int = 2000,
        tol: float = 1e-10,
        n_random_starts: int = 0,
        cv_split: float = 0.5,
        inference: str | None = "conformal",
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.v = v
        self.optimizer = optimizer
        self.v_starts = v_starts
        self.max_iter = max_iter
        self.tol = tol
        self.n_random_starts = n_random_starts
        self.cv_split = cv_split
        self.inference = inference
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    @property
    def spec_(self) -> WeightSpec:
        """The frozen weight settings used by placebo refits."""
        v = self.v if isinstance(self.v, str) else tuple(np.asarray(self.v, dtype=float))
        return WeightSpec(
            v,
            self.optimizer,
            tuple(self.v_starts),
            self.max_iter,
            self.tol,
            self.n_random_starts,
            self.random_state,
        )

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        time: str,
        treated_unit: Any,
        treatment_start: Any,
        predictors: Sequence[str] | None = None,
        special_predictors: Sequence[Any] | None = None,
        predictor_period: Sequence[Any] | None = None,
        mspe_period: Sequence[Any] | None = None,
        donors: Sequence[Any] | None = None,
    ) -> SyntheticControl:
        """Fit the synthetic control on a long panel and estimate the ATT.

        ``predictors`` are averaged over ``predictor_period`` (default: the whole
        pre-period); ``special_predictors`` are ``(variable, periods, "mean")``
        tuples (outcome lags included). ``mspe_period`` are the pre-periods whose
        outcome MSPE chooses V (default: all pre-periods). Returns ``self``.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        args = dict(outcome=outcome, unit=unit, time=time, treated_unit=treated_unit)
        args |= dict(treatment_start=treatment_start, donors=donors)
        panel = synth_panel(
            data,
            **args,
            predictors=predictors,
            special_predictors=special_predictors,
            predictor_period=predictor_period,
        )
        if not isinstance(self.v, str) and np.asarray(self.v).size != panel.x1.size:
            raise ParameterError(
                f"SyntheticControl: v has {np.asarray(self.v).size} weights but the design "
                f"has {panel.x1.size} predictors {list(panel.predictor_names)[:5]}...; "
                "give one weight per predictor."
            )
        mspe = panel.pre.copy()
        if mspe_period is not None:
            mspe = panel.pre & np.isin(panel.times, list(mspe_period))
            if mspe.sum() < 1:
                raise DataError(
                    f"mspe_period={list(mspe_period)[:5]} has no pre-treatment period of "
                    "the data; give periods before treatment_start."
                )
        design = SynthDesign(panel, mspe)
        if isinstance(self.v, str) and self.v == "cv":
            train, final, mask = cv_panels(
                data, args, panel, predictors, special_predictors, predictor_period, self.cv_split
            )
            design = SynthDesign(final, mask, train)
        self.design_ = design
        self.fit_params_ = dict(
            **args,
            predictors=predictors,
            special_predictors=special_predictors,
            predictor_period=predictor_period,
            mspe_period=mspe_period,
        )
        self.fit_ = solve_weights(design, self.spec_)
        self.panel_ = design.panel
        self._store(design.panel, self.fit_)
        self.result_ = self._effect(design)
        return self

    def _store(self, panel: SynthPanel, fit: SCFit) -> None:
        index = pd.Index(panel.times, name="time")
        self.weights_ = pd.Series(fit.weights, index=pd.Index(panel.donors), name="weight")
        self.v_ = pd.Series(fit.v, index=pd.Index(panel.predictor_names), name="v")
        self.synthetic_ = pd.Series(fit.synthetic, index=index, name="synthetic")
        self.treated_ = pd.Series(panel.y1, index=index, name=panel.treated)
        self.gaps_ = pd.Series(panel.y1 - fit.synthetic, index=index, name="gap")
        gaps = self.gaps_.to_numpy()
        self.pre_rmspe_ = float(np.sqrt(np.mean(gaps[panel.pre] ** 2)))
        self.post_rmspe_ = float(np.sqrt(np.mean(gaps[~panel.pre] ** 2)))

    def _effect(self, design: SynthDesign) -> Effect:
        from paribus.designs.synth import inference as inf

        panel, fit = design.panel, self.fit_
        att = float(self.gaps_[~panel.pre].mean())
        synth_x = panel.x0 @ fit.weights
        diagnostics: dict[str, Any] = {
            "weights": dict(zip(panel.donors, map(float, fit.weights), strict=True)),
            "v": dict(zip(panel.predictor_names, map(float, fit.v), strict=True)),
            "pre_rmspe": self.pre_rmspe_,
            "post_rmspe": self.post_rmspe_,
            "loss_v": fit.loss_v,
            "loss_w": fit.loss_w,
            "predictor_balance": {
                name: [float(panel.x1[k]), float(synth_x[k]), float(panel.x0[k].mean())]
                for k, name in enumerate(panel.predictor_names)
            },
            "n_donors": len(panel.donors),
            "n_pre": panel.n_pre,
            "n_post": int((~panel.pre).sum()),
        }
        nan = float("nan")
        se, lo, hi, p, how = nan, nan, nan, nan, "none"
        if self.inference == "conformal":
            ci = inf.conformal_att(self, level=self.level)
            diagnostics["conformal"] = {"p_value": ci.p_value, "q": ci.q}
            lo, hi, p, how = ci.ci_lower, ci.ci_upper, ci.p_value, "permutation"
        elif self.inference == "placebo":
            pl = inf.placebo_test(self)
            diagnostics["placebo_p_value"] = pl.p_value
            se = float(np.std(pl.table["att"].to_numpy()[1:], ddof=1))
            p, how = pl.p_value, "permutation"
        return Effect(
            estimand="ATT",
            estimate=att,
            std_error=se,
            ci_lower=lo,
            ci_upper=hi,
            level=self.level,
            p_value=p,
            n_obs=len(panel.donors) + 1,
            method="synthetic-control",
            inference=how,
            diagnostics=diagnostics,
        )

    def refit(self, design: SynthDesign) -> SCFit:
        """Weights for another design (a placebo or leave-one-out panel) with these settings."""
        return solve_weights(design, self.spec_)

    def plot(self, kind: str = "path", ax: Any = None, **kwargs: Any) -> Any:
        """Plot the fit: ``kind`` is "path", "gap", "weights" or "placebo"."""
        from paribus.designs.synth import plots

        kinds = {"path": plots.path_plot, "gap": plots.gap_plot, "weights": plots.weights_plot}
        if kind == "placebo":
            from paribus.designs.synth.inference import placebo_test

            return plots.placebo_plot(placebo_test(self), ax=ax, **kwargs)
        if kind not in kinds:
            raise ParameterError(
                f"SyntheticControl.plot: kind={kind!r} is unknown; expected one of "
                "'path', 'gap', 'weights', 'placebo'."
            )
        return kinds[kind](self, ax=ax, **kwargs)

    def summary(self) -> Any:
        """Summary table of ``result_``."""
        return self.result_.summary()

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

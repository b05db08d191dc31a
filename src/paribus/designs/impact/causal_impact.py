"""CausalImpact: the effect of an intervention on one time series (Brodersen et al. 2015).

Brodersen, Gallusser, Koehler, Remy & Scott (2015), "Inferring causal impact using
Bayesian structural time-series models", Ann. Appl. Stat. 9(1), 247-274.

A :class:`~paribus.designs.impact.bsts.BSTS` model (local level, optional seasons, and
the control series as static spike-and-slab or dynamic regressors) is fitted on the
pre-period only; its posterior predictive distribution over the post-period is the
counterfactual ``y_t(0)``. With draws ``y~^(d)_t`` the pointwise effect is
``y_t - y~^(d)_t``; the average effect over the observed post-period points ``P`` is

.. math::

    \\hat\\tau = \\frac{1}{|P|} \\sum_{t \\in P} y_t - \\frac{1}{|P|}
    \\sum_{t \\in P} \\tilde y_t^{(d)}\\quad\\text{(one value per draw } d),

reported by its posterior mean, sd and equal-tailed interval. The relative effect is the
per-draw ratio ``tau^(d) / mean_P(y~^(d))``. The p-value is CausalImpact's one-sided
posterior tail-area probability of the observed post-period sum among the predicted
sums (the observed sum counted once among the ``D + 1`` values):
``p = min(#{S_d >= S}, #{S_d <= S}) / (D + 1)`` with ``S_d`` including ``S``.

Assumptions: the controls were not affected by the intervention, and the relation
between the controls and the outcome learned in the pre-period holds in the post-period.

Data: a pandas DataFrame indexed by a regular DatetimeIndex or an integer index, or
with its time points in a column named by ``time=``. Missing outcome values (NaN) are
allowed (skipped by the Kalman filter, left out of the summaries); controls must be
complete. Outcome and controls are standardised on the pre-period (as CausalImpact
does) and predictions are mapped back to the outcome's scale.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.params import (
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    Satisfies,
    validate_params,
)
from paribus.designs.impact.bsts import BSTS, _valid_seasons, effective_sample_size, split_rhat
from paribus.errors import DataError, NotFittedError, ParameterError, SamplingWarning
from paribus.results import Effect

__all__ = ["CausalImpact"]


def _valid_nseasons(value: Any) -> bool:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value) >= 2
    return isinstance(value, Sequence) and len(value) > 0 and _valid_seasons(value)


def _season_list(nseasons: Any) -> list[tuple[int, int]]:
    if nseasons is None:
        return []
    if isinstance(nseasons, numbers.Integral):
        return [(int(nseasons), 1)]
    return [(int(p), int(d)) for p, d in nseasons]


class CausalImpact(BaseEstimator):
    """Causal effect of an intervention on a time series by a BSTS counterfactual.

    Parameters
    ----------
    niter : int, default 1000
        Kept Gibbs draws (plus ``max(100, niter // 10)`` burn-in sweeps).
    nseasons : int, sequence of (period, duration) or None, default None
        Seasonal components; an integer ``S`` means ``[(S, 1)]``.
    prior_level_sd : float, default 0.01
        Prior guess of the local level's sd as a multiple of the outcome's sd.
    dynamic_regression : bool, default False
        Random-walk coefficients on the controls instead of spike-and-slab static ones.
    standardize : bool, default True
        Standardise outcome and controls on the pre-period before fitting.
    alpha : float, default 0.05
        Intervals are ``1 - alpha`` equal-tailed posterior intervals.
    random_state : int or None
        Seed of the sampler and of the predictive draws.

    Attributes
    ----------
    result_ : Effect
        Average effect over the post-period (``inference="posterior"``).
    relative_effect_, cumulative_effect_ : Effect
        Relative (share of the counterfactual) and cumulative effects; also as the
        properties ``relative_effect`` and ``cumulative_effect``.
    series_ : DataFrame
        From the pre-period start to the post-period end: ``observed``, ``predicted``
        (posterior predictive mean), ``predicted_lower``/``_upper``, ``point_effect``
        and its interval, ``cumulative_effect`` (zero before the post-period) and its
        interval.
    draws_ : ndarray ``(niter, len(series_))``
        Posterior predictive draws of the counterfactual on the outcome's scale.
    model_ : BSTS
        The fitted model (parameter draws, ``diagnostics_``, inclusion probabilities).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "niter": [Interval(10, None, integer=True)],
        "nseasons": [
            NONE,
            Satisfies(_valid_nseasons, "an integer >= 2 or (period, duration) pairs"),
        ],
        "prior_level_sd": [Interval(0, None, closed="neither")],
        "dynamic_regression": [Options((True, False))],
        "standardize": [Options((True, False))],
        "alpha": [Interval(0, 1, closed="neither")],
        "random_state": [RANDOM_STATE],
    }

    def __init__(
        self,
        niter: int = 1000,
        nseasons: int | Sequence[tuple[int, int]] | None = None,
        prior_level_sd: float = 0.01,
        dynamic_regression: bool = False,
        standardize: bool = True,
        alpha: float = 0.05,
        random_state: int | None = None,
    ) -> None:
        self.niter = niter
        self.nseasons = nseasons
        self.prior_level_sd = prior_level_sd
        self.dynamic_regression = dynamic_regression
        self.standardize = standardize
        self.alpha = alpha
        self.random_state = random_state

    def fit(
        self,
        data: pd.DataFrame,
        *,
        outcome: str,
        pre_period: Sequence[Any],
        post_period: Sequence[Any],
        controls: Sequence[str] = (),
        time: str | None = None,
    ) -> CausalImpact:
        """Fit on the pre-period and predict the post-period counterfactual.

        Parameters
        ----------
        data : DataFrame
            One row per period, regularly spaced, sorted.
        outcome : str
            The affected series.
        pre_period, post_period : (start, end)
            Inclusive bounds in index (or ``time`` column) units; dates may be strings.
            The pre-period must end before the post-period starts; rows before the
            pre-period are ignored and rows between the two are forecast but not
            summarised.
        controls : sequence of str
            Series unaffected by the intervention, used as regressors.
        time : str, optional
            Column holding the time points; by default the index.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        index, y, X = _prepare_frame(data, outcome, list(controls), time)
        p0, p1 = _locate(index, pre_period, "pre_period")
        q0, q1 = _locate(index, post_period, "post_period")
        if q0 <= p1:
            raise ParameterError(
                f"pre_period {tuple(pre_period)} and post_period {tuple(post_period)} overlap "
                "or are in the wrong order; the pre-period must end before the post-period starts"
            )
        pre = slice(p0, p1 + 1)
        if np.sum(~np.isnan(y[pre])) < 3:
            raise DataError(f"the pre-period of {outcome!r} has fewer than 3 non-missing values")
        if np.all(np.isnan(y[q0 : q1 + 1])):
            raise DataError(
                f"every post-period value of {outcome!r} is missing; nothing to compare"
            )
        ys, Xs, (ym, ysd) = _standardize(y, X, pre, list(controls), self.standardize)
        model = BSTS(
            seasons=_season_list(self.nseasons),
            dynamic_regression=self.dynamic_regression,
            prior_level_sd=self.prior_level_sd,
            niter=self.niter,
            random_state=self.random_state,
        ).fit(ys[pre], Xs[pre])
        seed = None if self.random_state is None else [int(self.random_state), 1]
        rng = np.random.default_rng(seed)
        noise = model.draws_["sigma_obs"][:, None] * rng.standard_normal(model.signal_draws_.shape)
        fitted = model.signal_draws_ + noise
        ahead = model.predict_draws(q1 - p1, Xs[p1 + 1 : q1 + 1], random_state=rng)
        self.draws_ = np.hstack([fitted, ahead]) * ysd + ym
        self.model_ = model
        self.pre_period_ = (index[p0], index[p1])
        self.post_period_ = (index[q0], index[q1])
        self.outcome_, self.controls_ = outcome, tuple(controls)
        rows = index[p0 : q1 + 1]
        self._summarise(rows, y[p0 : q1 + 1], q0 - p0)
        return self

    # -- summaries ------------------------------------------------------------------------

    def _summarise(self, rows: pd.Index, y: np.ndarray, post_start: int) -> None:
        draws, a = self.draws_, self.alpha
        post = np.zeros(y.size, dtype=bool)
        post[post_start:] = True
        use = post & ~np.isnan(y)
        pred = draws[:, use]
        actual_sum = float(y[use].sum())
        pred_sum = pred.sum(axis=1)
        n_post = int(use.sum())
        avg = actual_sum / n_post - pred_sum / n_post
        rel = avg / (pred_sum / n_post)
        cum = actual_sum - pred_sum
        tail = np.append(pred_sum, actual_sum)
        p = min(np.sum(tail >= actual_sum), np.sum(tail <= actual_sum)) / tail.size
        n_obs = int(np.sum(~np.isnan(y[:post_start]))) + n_post
        diag = self._diagnostics(avg, pred_sum / n_post, y[use].mean(), float(p))
        if diag["r_hat_effect"] > 1.1:
            warnings.warn(
                f"the Gibbs sampler may not have converged: split R-hat of the average effect "
                f"is {diag['r_hat_effect']:.3f} (want <= 1.1; ESS {diag['ess_effect']:.0f}). "
                "Increase niter, or check model_.diagnostics_ for the slow parameters",
                SamplingWarning,
                stacklevel=3,
            )
        self.result_ = _posterior_effect("ATT", avg, a, float(p), n_obs, diag)
        self.relative_effect_ = _posterior_effect("relative ATT", rel, a, float(p), n_obs, diag)
        self.cumulative_effect_ = _posterior_effect("cumulative ATT", cum, a, float(p), n_obs, diag)
        self.series_ = _series(rows, y, draws, post, a)

    def _diagnostics(
        self, avg: np.ndarray, pred_avg: np.ndarray, actual: float, p: float
    ) -> dict[str, Any]:
        lo, hi = np.quantile(pred_avg, [self.alpha / 2, 1 - self.alpha / 2])
        table = self.model_.diagnostics_
        incl = dict(zip(self.controls_, self.model_.inclusion_probabilities_.tolist(), strict=True))
        return {
            "pre_period": [str(v) for v in self.pre_period_],
            "post_period": [str(v) for v in self.post_period_],
            "actual_average": float(actual),
            "predicted_average": float(pred_avg.mean()),
            "predicted_average_sd": float(pred_avg.std(ddof=1)),
            "predicted_average_interval": [float(lo), float(hi)],
            "posterior_prob_effect": 1.0 - p,
            "inclusion_probabilities": incl,
            "ess_effect": effective_sample_size(avg),
            "r_hat_effect": split_rhat(avg),
            "max_r_hat": float(table["r_hat"].max()),
            "min_ess": float(table["ess"].min()),
            "niter": int(self.niter),
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise NotFittedError(
                "this CausalImpact is not fitted yet; call fit(data, outcome=..., "
                "pre_period=..., post_period=...) first"
            )

    @property
    def relative_effect(self) -> Effect:
        """Relative effect: average effect over the average counterfactual."""
        self._check_fitted()
        return self.relative_effect_

    @property
    def cumulative_effect(self) -> Effect:
        """Sum of the pointwise effects over the post-period."""
        self._check_fitted()
        return self.cumulative_effect_

    def summary(self) -> Any:
        """CausalImpact-style table (Average and Cumulative columns); see ``report.py``."""
        from paribus.designs.impact.report import impact_summary

        self._check_fitted()
        return impact_summary(self)

    def report(self) -> str:
        """A plain-language account of the analysis and its result."""
        from paribus.designs.impact.report import impact_report

        self._check_fitted()
        return impact_report(self)

    def plot(self, axes: Any = None) -> Any:
        """Three panels: observed vs counterfactual, pointwise and cumulative effects."""
        from paribus.designs.impact.report import impact_plot

        self._check_fitted()
        return impact_plot(self, axes=axes)


def _posterior_effect(
    estimand: str, draws: np.ndarray, alpha: float, p: float, n_obs: int, diag: dict[str, Any]
) -> Effect:
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Effect(
        estimand=estimand,
        estimate=float(draws.mean()),
        std_error=float(draws.std(ddof=1)),
        ci_lower=float(lo),
        ci_upper=float(hi),
        level=1 - alpha,
        p_value=p,
        n_obs=n_obs,
        method="causal-impact",
        inference="posterior",
        diagnostics=diag,
    )


def _series(
    rows: pd.Index, y: np.ndarray, draws: np.ndarray, post: np.ndarray, alpha: float
) -> pd.DataFrame:
    q = [alpha / 2, 1 - alpha / 2]
    point = y[None, :] - draws
    cum = np.cumsum(np.where(post & ~np.isnan(y), point, 0.0), axis=1)
    pl, pu = np.quantile(draws, q, axis=0)
    el, eu = np.quantile(point, q, axis=0)
    cl, cu = np.quantile(cum, q, axis=0)
    return pd.DataFrame(
        {
            "observed": y,
            "predicted": draws.mean(axis=0),
            "predicted_lower": pl,
            "predicted_upper": pu,
            "point_effect": y - draws.mean(axis=0),
            "point_effect_lower": el,
            "point_effect_upper": eu,
            "cumulative_effect": cum.mean(axis=0),
            "cumulative_effect_lower": cl,
            "cumulative_effect_upper": cu,
        },
        index=rows,
    )


# -- input checks ---------------------------------------------------------------------------


def _prepare_frame(
    data: Any, outcome: str, controls: list[str], time: str | None
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame; found {type(data).__name__}")
    for role, names in (
        ("outcome", [outcome]),
        ("controls", controls),
        ("time", [time] if time else []),
    ):
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise DataError(
                f"{role} column(s) {missing} not in data; columns are {list(data.columns)}"
            )
    if outcome in controls:
        raise DataError(f"outcome {outcome!r} is also listed in controls; remove it from controls")
    index = pd.Index(data[time]) if time else data.index
    if isinstance(index, pd.DatetimeIndex) or pd.api.types.is_datetime64_any_dtype(index):
        index = pd.DatetimeIndex(index)
    elif not pd.api.types.is_integer_dtype(index):
        raise DataError(
            f"the time points must be a DatetimeIndex or integers; found dtype {index.dtype}. "
            "Set a date or integer index (data.set_index(...)) or pass time='column'"
        )
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise DataError("the time points must be strictly increasing; sort and de-duplicate data")
    _check_regular(index)
    cols = [outcome, *controls]
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(data[c]) or data[c].dtype == bool]
    if bad:
        raise DataError(f"column(s) {bad} are not numeric; convert them (e.g. pd.to_numeric)")
    y = data[outcome].to_numpy(dtype=float)
    if np.isinf(y).any():
        raise DataError(f"outcome {outcome!r} has infinite values; replace them with NaN")
    X = data[controls].to_numpy(dtype=float) if controls else np.zeros((len(data), 0))
    if not np.all(np.isfinite(X)):
        bad = [c for c in controls if not np.all(np.isfinite(data[c].to_numpy(dtype=float)))]
        raise DataError(
            f"control column(s) {bad} have missing or infinite values; controls must be complete"
        )
    return index, y, X


def _check_regular(index: pd.Index) -> None:
    if len(index) < 3:
        raise DataError(f"data has {len(index)} rows; CausalImpact needs a longer series")
    dated = isinstance(index, pd.DatetimeIndex)
    if dated:
        with warnings.catch_warnings():  # pandas 3 announces a change of return type
            warnings.simplefilter("ignore")
            if (
                pd.infer_freq(pd.DatetimeIndex(index)) is not None
            ):  # regular, monthly and yearly included
                return
        steps: Any = pd.TimedeltaIndex(np.diff(index.values))
    else:
        steps = np.diff(np.asarray(index, dtype=np.int64))
    values, counts = np.unique(np.asarray(steps), return_counts=True)
    usual = values[np.argmax(counts)]
    odd = np.flatnonzero(np.asarray(steps) != usual)
    if odd.size == 0:
        return
    i = odd[0]
    kind = "dates" if dated else "time points"
    gap, step = (pd.Timedelta(steps[i]), pd.Timedelta(usual)) if dated else (steps[i], usual)
    raise DataError(
        f"irregular {kind}: a step of {gap} between {_label(index[i])} and "
        f"{_label(index[i + 1])} while the usual step is {step}; put the data on a regular "
        "grid first (e.g. data.asfreq(...) or data.resample(...).mean(); missing outcome "
        "values may stay NaN)"
    )


def _label(value: Any) -> str:
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


def _locate(index: pd.Index, period: Any, name: str) -> tuple[int, int]:
    if isinstance(period, str) or not isinstance(period, Sequence) or len(period) != 2:
        raise ParameterError(f"{name} must be a (start, end) pair; found {period!r}")
    dated = isinstance(index, pd.DatetimeIndex)
    try:
        start, end = (pd.Timestamp(v) if dated else v for v in period)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} bounds {period!r} are not dates: {exc}") from None
    if not dated and not all(isinstance(v, numbers.Integral) for v in (start, end)):
        raise ParameterError(
            f"{name} bounds must be integers for an integer index; found {period!r}"
        )
    if start > end:
        raise ParameterError(f"{name} starts at {start} after it ends at {end}; swap them")
    if start < index[0] or end > index[-1]:
        raise DataError(
            f"{name} ({start}, {end}) lies outside the data, which runs from {index[0]} to "
            f"{index[-1]}; choose bounds inside that range"
        )
    i0 = int(index.searchsorted(start, side="left"))
    i1 = int(index.searchsorted(end, side="right")) - 1
    if i1 < i0:
        raise DataError(f"{name} ({start}, {end}) contains no rows of data")
    return i0, i1


def _standardize(
    y: np.ndarray, X: np.ndarray, pre: slice, controls: list[str], on: bool
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    sd = X[pre].std(axis=0, ddof=1)
    flat = [c for c, s in zip(controls, sd, strict=True) if not s > 0]
    if flat:
        raise DataError(f"control(s) {flat} are constant over the pre-period; drop them")
    if not on:
        return y, X, (0.0, 1.0)
    ym, ysd = float(np.nanmean(y[pre])), float(np.nanstd(y[pre], ddof=1))
    if not ysd > 0:
        raise DataError("the outcome is constant over the pre-period; nothing to model")
    Xs = (X - X[pre].mean(axis=0)) / sd if X.shape[1] else X
    return (y - ym) / ysd, Xs, (ym, ysd)

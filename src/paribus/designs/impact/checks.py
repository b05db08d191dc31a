"""Checks of a time-series impact model that use the pre-period only (or refit it).

* :func:`placebo_dates`: pretend the intervention happened at earlier dates inside
  the pre-period (where there was none) and refit; the share of placebo intervals
  that exclude zero estimates how often the model finds an effect where there is
  none (the "in-time placebo" of Abadie, Diamond & Hainmueller 2015, AJPS 59, and the
  pre-period check recommended by Brodersen et al. 2015, Ann. Appl. Stat. 9, sec. 5).
* :func:`holdout_check`: fit on the first part of the pre-period, forecast the held-out
  last part and compare: coverage of the posterior predictive intervals, MAPE, RMSE and
  standardised forecast errors (a posterior predictive check in the sense of Gelman,
  Meng & Stern 1996, Stat. Sinica 6, on out-of-sample data).
* :func:`prior_sensitivity`: refit with several prior scales of the local level's
  standard deviation (Brodersen et al. 2015 use 0.01 in units of the standardised
  series) and report the effect and interval for each.

The model is a :class:`~paribus.designs.impact.causal_impact.CausalImpact` (or any
estimator with its ``fit(data, *, outcome, pre_period, post_period, controls)``) or an
:class:`~paribus.designs.impact.its.InterruptedTimeSeries`, given as an unfitted
instance (cloned for every refit) or a zero-argument factory returning one. Periods are
``(first, last)`` labels of the data's index, both included. Refits run through
:func:`paribus._core.parallel.run_tasks` with a progress bar.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds, seed_sequence
from paribus.data.convert import to_pandas
from paribus.errors import DataError, ParameterError
from paribus.results import Effect, EffectTable

__all__ = [
    "HoldoutCheck",
    "PlaceboCheck",
    "holdout_check",
    "placebo_dates",
    "prior_sensitivity",
]


# -- models and windows -----------------------------------------------------------------------


def _fresh(model: Any, seed: int | None) -> Any:
    """A new unfitted model: clone an instance or call a factory; reseed when asked."""
    if hasattr(model, "get_params") and hasattr(model, "fit"):
        fresh = clone(model)
    elif callable(model):
        fresh = model()
        if not hasattr(fresh, "fit"):
            raise ParameterError(
                f"model factory returned {type(fresh).__name__}, which has no fit(); "
                "return an unfitted CausalImpact or InterruptedTimeSeries."
            )
    else:
        raise ParameterError(
            f"model={model!r} is invalid; expected an unfitted CausalImpact / "
            "InterruptedTimeSeries instance or a zero-argument function returning one."
        )
    if seed is not None and "random_state" in fresh.get_params(deep=False):
        fresh.set_params(random_state=seed)
    return fresh


def _is_its(model: Any) -> bool:
    from paribus.designs.impact.its import InterruptedTimeSeries

    return isinstance(model, InterruptedTimeSeries)


def _fit_window(
    model: Any,
    seed: int | None,
    frame: pd.DataFrame,
    outcome: str,
    pre: tuple[Any, Any],
    post: tuple[Any, Any],
    controls: tuple[str, ...],
) -> Any:
    """Fit a fresh model on the rows from ``pre[0]`` to ``post[1]`` and return it."""
    fresh = _fresh(model, seed)
    window = frame.loc[pre[0] : post[1]]
    if _is_its(fresh):
        return fresh.fit(window, outcome=outcome, intervention=post[0], controls=controls)
    return fresh.fit(
        window, outcome=outcome, pre_period=list(pre), post_period=list(post), controls=controls
    )


def _placebo_task(
    model: Any,
    seed: int | None,
    frame: pd.DataFrame,
    outcome: str,
    pre: tuple[Any, Any],
    post: tuple[Any, Any],
    controls: tuple[str, ...],
) -> Effect:
    return _fit_window(model, seed, frame, outcome, pre, post, controls).result_


def _frame(data: Any) -> pd.DataFrame:
    frame = to_pandas(data)
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise DataError(
            "data's index must be the time axis, unique and increasing; sort the rows "
            "(data.sort_index()) and set the time column as the index."
        )
    return frame


def _span(frame: pd.DataFrame, period: Any, name: str) -> tuple[int, int]:
    """Positions (inclusive) of a ``(first, last)`` period on the index."""
    if isinstance(period, (str, bytes)) or not isinstance(period, Sequence) or len(period) != 2:
        raise ParameterError(f"{name}={period!r} is invalid; expected (first, last) index labels.")
    index = frame.index
    try:
        first = int(index.searchsorted(period[0], side="left"))
        last = int(index.searchsorted(period[1], side="right")) - 1
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{name}={period!r} does not match the index ({index[0]} to {index[-1]}); "
            "give labels of the same type."
        ) from exc
    if last < first or first >= len(index) or last < 0:
        raise DataError(
            f"{name}={period!r} holds no rows of data (index {index[0]} to {index[-1]})."
        )
    return first, last


def _seeds(random_state: int | None, n: int) -> list[int | None]:
    if random_state is None:
        return [None] * n
    return list(child_seeds(seed_sequence(random_state), n))


# -- placebo dates ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlaceboCheck:
    """Placebo-in-time effects and how often they look significant.

    Attributes
    ----------
    effects : EffectTable
        One effect per placebo date (labelled by the date), fitted on pre-period data.
    false_positive_rate : float
        Share of placebo intervals that exclude zero; near ``1 - level`` for a
        well-calibrated model, much larger when the model finds effects that are not there.
    level : float
        Interval level of the model's effects.
    """

    effects: EffectTable
    false_positive_rate: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        """One row per placebo date: estimate, interval, p-value and ``excludes_zero``."""
        frame = self.effects.to_frame()
        frame["excludes_zero"] = (frame["ci_lower"] > 0) | (frame["ci_upper"] < 0)
        return frame


def placebo_dates(
    model: Any,
    data: Any,
    *,
    outcome: str,
    pre_period: Sequence[Any],
    n_placebos: int = 5,
    dates: Sequence[Any] | None = None,
    post_length: int | None = None,
    min_pre: int | None = None,
    controls: Sequence[str] = (),
    random_state: int | None = None,
    n_jobs: int | None = None,
    show_progress: bool | None = None,
) -> PlaceboCheck:
    """Refit the model with fake intervention dates inside the pre-period.

    Only pre-period rows are used. Placebo ``d`` fits on the rows from the start of the
    pre-period up to ``d`` (exclusive) and measures an "effect" over the next
    ``post_length`` rows; with no intervention there, an interval that excludes zero
    is a false positive.

    Parameters
    ----------
    model : CausalImpact, InterruptedTimeSeries or callable
        Unfitted model (cloned per placebo) or factory.
    pre_period : (first, last)
        The real pre-period; no row after ``last`` is used.
    n_placebos : int, default 5
        Number of evenly spaced placebo dates (ignored when ``dates`` is given).
    dates : sequence of index labels, optional
        Placebo intervention dates (each the first placebo post-period row).
    post_length : int, optional
        Rows in each placebo post-period (default: a quarter of the pre-period).
    min_pre : int, optional
        Fewest training rows before a placebo date (default: half the pre-period when
        the dates are chosen here, 3 when ``dates`` are given).
    random_state : int, optional
        Root seed; each refit gets its own child seed (models with ``random_state``).
    """
    frame = _frame(data)
    first, last = _span(frame, pre_period, "pre_period")
    n_pre = last - first + 1
    post_length = max(1, n_pre // 4) if post_length is None else int(post_length)
    if min_pre is None:
        min_pre = 3 if dates is not None else max(3, n_pre // 2)
    min_pre = int(min_pre)
    if post_length < 1 or min_pre < 1:
        raise ParameterError(
            f"post_length={post_length} and min_pre={min_pre} must be positive integers."
        )
    latest = last - post_length + 1  # the last placebo start that fits before the real one
    earliest = first + min_pre
    if dates is None:
        if n_placebos < 1:
            raise ParameterError(f"n_placebos={n_placebos} is invalid; expected at least 1.")
        if latest < earliest:
            raise DataError(
                f"the pre-period has {n_pre} rows, too few for {min_pre} training rows plus a "
                f"{post_length}-row placebo post-period; lower min_pre or post_length."
            )
        starts = np.unique(np.linspace(earliest, latest, num=n_placebos).round().astype(int))
    else:
        starts = np.array([int(frame.index.searchsorted(d, side="left")) for d in dates])
        bad = [d for d, s in zip(dates, starts, strict=True) if not earliest <= s <= latest]
        if bad:
            raise DataError(
                f"placebo dates {bad} leave fewer than min_pre={min_pre} training rows or "
                f"no room for a {post_length}-row post-period before the pre-period ends "
                f"({frame.index[last]}); choose dates from {frame.index[earliest]} to "
                f"{frame.index[latest]}."
            )
    index, ctrl = frame.index, tuple(controls)
    windows = [
        ((index[first], index[s - 1]), (index[s], index[s + post_length - 1])) for s in starts
    ]
    seeds = _seeds(random_state, len(windows))
    tasks = [
        (model, seed, frame, outcome, pre, post, ctrl)
        for seed, (pre, post) in zip(seeds, windows, strict=True)
    ]
    effects = run_tasks(
        _placebo_task, tasks, n_jobs=n_jobs, desc="placebo dates", show_progress=show_progress
    )
    excludes = [e.ci_lower > 0 or e.ci_upper < 0 for e in effects]
    table = EffectTable(effects, [str(post[0]) for _, post in windows], title="Placebo dates")
    return PlaceboCheck(
        effects=table,
        false_positive_rate=float(np.mean(excludes)),
        level=float(effects[0].level),
    )


# -- held-out pre-period ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HoldoutCheck:
    """Out-of-sample forecast check on the last part of the pre-period.

    Attributes
    ----------
    coverage : float
        Share of held-out observations inside the pointwise predictive intervals.
    share_outside : float
        ``1 - coverage``; compare with ``1 - level``.
    level : float
        Nominal level of the predictive intervals.
    mape, rmse : float
        Mean absolute percentage error (in %) and root mean squared forecast error.
    mean_z, sd_z : float
        Mean and standard deviation of standardised forecast errors
        ``z = (y - predicted) / sd``, with ``sd`` the half-width of the interval over the
        normal quantile: near 0 and 1 when the predictive distribution fits.
    effect : Effect
        The model's "effect" over the held-out rows (should cover zero).
    series : pandas.DataFrame
        Held-out rows: ``observed``, ``predicted``, ``lower``, ``upper``, ``z``.
    """

    coverage: float
    share_outside: float
    level: float
    mape: float
    rmse: float
    mean_z: float
    sd_z: float
    effect: Effect
    series: pd.DataFrame


def holdout_check(
    model: Any,
    data: Any,
    *,
    outcome: str,
    pre_period: Sequence[Any],
    holdout: float | int = 0.2,
    controls: Sequence[str] = (),
    random_state: int | None = None,
) -> HoldoutCheck:
    """Fit on the pre-period minus its last part, forecast that part and score it.

    ``holdout`` is a share of the pre-period in (0, 1) or a number of rows. The model
    must expose ``series_`` with ``observed``, ``predicted``, ``predicted_lower`` and
    ``predicted_upper`` (CausalImpact does; InterruptedTimeSeries has no predictive
    intervals and is refused).
    """
    frame = _frame(data)
    first, last = _span(frame, pre_period, "pre_period")
    n_pre = last - first + 1
    if isinstance(holdout, float) and 0 < holdout < 1:
        n_out = max(1, round(holdout * n_pre))
    elif isinstance(holdout, (int, np.integer)) and not isinstance(holdout, bool) and holdout >= 1:
        n_out = int(holdout)
    else:
        raise ParameterError(
            f"holdout={holdout!r} is invalid; expected a share in (0, 1) or a number of rows >= 1."
        )
    if n_pre - n_out < 3:
        raise DataError(
            f"holding out {n_out} of {n_pre} pre-period rows leaves {n_pre - n_out} to fit; "
            "hold out fewer rows."
        )
    seed = _seeds(random_state, 1)[0]
    index = frame.index
    pre = (index[first], index[last - n_out])
    post = (index[last - n_out + 1], index[last])
    fitted = _fit_window(model, seed, frame, outcome, pre, post, tuple(controls))
    columns = ("observed", "predicted", "predicted_lower", "predicted_upper")
    series = getattr(fitted, "series_", None)
    if not isinstance(series, pd.DataFrame) or not set(columns) <= set(series.columns):
        raise ParameterError(
            f"holdout_check needs a model whose series_ has columns {list(columns)} "
            f"(predictive intervals); {type(fitted).__name__} has none: use CausalImpact."
        )
    held = series.iloc[-n_out:]
    y, mean = held["observed"].to_numpy(float), held["predicted"].to_numpy(float)
    lo, hi = held["predicted_lower"].to_numpy(float), held["predicted_upper"].to_numpy(float)
    level = float(fitted.result_.level)
    sd = (hi - lo) / (2 * stats.norm.ppf(0.5 + level / 2))
    z = (y - mean) / sd
    inside = (y >= lo) & (y <= hi)
    out = pd.DataFrame(
        {"observed": y, "predicted": mean, "lower": lo, "upper": hi, "z": z}, index=held.index
    )
    with np.errstate(divide="ignore"):
        mape = float(np.mean(np.abs((y - mean) / y)) * 100)
    return HoldoutCheck(
        coverage=float(inside.mean()),
        share_outside=float(1 - inside.mean()),
        level=level,
        mape=mape,
        rmse=float(np.sqrt(np.mean((y - mean) ** 2))),
        mean_z=float(z.mean()),
        sd_z=float(z.std(ddof=1)) if z.size > 1 else float("nan"),
        effect=fitted.result_,
        series=out,
    )


# -- prior sensitivity --------------------------------------------------------------------------


def prior_sensitivity(
    model: Any,
    data: Any,
    *,
    outcome: str,
    pre_period: Sequence[Any],
    post_period: Sequence[Any],
    controls: Sequence[str] = (),
    prior_level_sd: Sequence[float] = (0.001, 0.01, 0.1),
    random_state: int | None = None,
    n_jobs: int | None = None,
    show_progress: bool | None = None,
) -> EffectTable:
    """The effect and its interval refitted under each prior scale of the local level.

    Returns an :class:`EffectTable` labelled ``"prior_level_sd=<value>"``. A conclusion
    that flips between scales rests on the prior rather than the data.
    """
    scales = [float(s) for s in prior_level_sd]
    if not scales or any(not np.isfinite(s) or s <= 0 for s in scales):
        raise ParameterError(
            f"prior_level_sd={prior_level_sd!r} is invalid; expected positive numbers, "
            "e.g. (0.001, 0.01, 0.1)."
        )
    frame = _frame(data)
    _span(frame, pre_period, "pre_period")
    _span(frame, post_period, "post_period")
    probe = _fresh(model, None)
    if "prior_level_sd" not in probe.get_params(deep=False):
        raise ParameterError(
            f"{type(probe).__name__} has no prior_level_sd setting; prior_sensitivity "
            "needs a Bayesian structural time-series model such as CausalImpact."
        )
    seeds = _seeds(random_state, len(scales))
    pre, post = tuple(pre_period), tuple(post_period)
    tasks = [
        (_Reprior(model, s), seed, frame, outcome, pre, post, tuple(controls))
        for s, seed in zip(scales, seeds, strict=True)
    ]
    effects = run_tasks(
        _placebo_task, tasks, n_jobs=n_jobs, desc="prior scales", show_progress=show_progress
    )
    return EffectTable(
        effects, [f"prior_level_sd={s:g}" for s in scales], title="Prior sensitivity"
    )


@dataclasses.dataclass(frozen=True)
class _Reprior:
    """A picklable factory: a fresh ``model`` with another ``prior_level_sd``."""

    model: Any
    scale: float

    def __call__(self) -> Any:
        fresh = _fresh(self.model, None)
        return fresh.set_params(prior_level_sd=self.scale)

"""Interrupted time series: segmented regression with Newey-West (HAC) standard errors.

One series observed at regular times ``t = 0, ..., n-1`` with an intervention at
``T0`` (the first post-period time) is modelled as

    y_t = b0 + b1 t + b2 D_t + b3 (t - T0) D_t + seasonality_t + controls_t' g + e_t,

with ``D_t = 1{t >= T0}`` (Wagner, Soumerai, Zhang & Ross-Degnan 2002, J. Clin. Pharm.
Ther. 27; Bernal, Cummins & Gasparrini 2017, Int. J. Epidemiol. 46). ``b2`` is the
level change at the intervention and ``b3`` the change of slope. The counterfactual is
the pre-period segment extrapolated (``D_t = 0``); the effect at post time ``t`` is
``b2 + b3 (t - T0)`` and the average post-period effect ``b2 + b3 mean(t - T0)`` is a
linear contrast ``c'b`` whose variance ``c'Vc`` is the (exact) delta-method variance.

Errors may be autocorrelated and heteroskedastic: ``V`` is the Newey & West (1987)
sandwich with Bartlett weights ``1 - l/(L+1)``, times ``n/(n-k)`` by default (as Stata's
``newey``; statsmodels' ``cov_type="HAC"`` with ``use_correction=True``; without it,
statsmodels' default). The lag ``L`` is given, or chosen by the
Newey & West (1994) rule ``floor(4 (n/100)^(2/9))`` (``"auto"``), or by Andrews's
(1991, Econometrica 59) AR(1) plug-in for the Bartlett kernel (``"andrews"``).
Intervals are normal (large-``n``) approximations.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.ols import ols
from paribus._core.params import LEVEL, NONE, Options, Satisfies, validate_params
from paribus.data.convert import to_pandas
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.results import Effect, EffectTable

__all__ = [
    "InterruptedTimeSeries",
    "TimeAxis",
    "andrews_lags",
    "hac_covariance",
    "newey_west_lags",
    "time_axis",
]


# -- the time axis --------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeAxis:
    """A validated regular time axis: the labels in order and the row order that sorts them."""

    labels: pd.Index
    order: np.ndarray  # positions of the input rows in time order

    def position(self, when: Any, name: str) -> int:
        """The first position whose label is at or after ``when`` (its own label if present)."""
        labels = self.labels
        if isinstance(labels, pd.DatetimeIndex):
            try:
                when = pd.Timestamp(when)
            except (TypeError, ValueError) as exc:
                raise ParameterError(
                    f"{name}={when!r} is not a date; the time axis is dated "
                    f"({labels[0].date()} to {labels[-1].date()}): pass a date."
                ) from exc
        elif not isinstance(when, numbers.Real) or isinstance(when, bool):
            raise ParameterError(
                f"{name}={when!r} is invalid; the time axis is numeric ({labels[0]} to "
                f"{labels[-1]}): pass a value on it."
            )
        return int(np.searchsorted(np.asarray(labels), np.asarray(when), side="left"))


def _regular(values: np.ndarray, name: str) -> None:
    steps = np.diff(values.astype(float))
    if steps.size and (np.any(steps <= 0) or not np.allclose(steps, steps[0], rtol=1e-9)):
        gap = int(np.argmax(~np.isclose(steps, steps[0], rtol=1e-9)))
        raise DataError(
            f"{name}: the times are not evenly spaced (step {steps[0]:g} at the start but "
            f"{steps[gap]:g} after {values[gap]}); an interrupted time series needs one row "
            "per period: fill the missing periods (e.g. with interpolated values) first."
        )


def _infer_freq(labels: pd.DatetimeIndex) -> Any:
    option = "future.infer_freq_returns_offset"  # pandas >= 3 warns without it
    try:
        pd.get_option(option)
    except (KeyError, pd.errors.OptionError):
        return pd.infer_freq(labels)
    with pd.option_context(option, True):
        return pd.infer_freq(labels)


def time_axis(frame: pd.DataFrame, time: str | None) -> TimeAxis:
    """Validate the time column (or the index when ``time`` is None): unique, regular steps.

    Dates must have a frequency pandas can infer (daily, weekly, monthly, ...);
    numbers must have a constant step. Rows are returned in time order.
    """
    name = "index" if time is None else f"time column {time!r}"
    if time is None:
        raw = frame.index
    else:
        if time not in frame.columns:
            raise DataError(f"time={time!r} is not a column of data; columns: {list(frame)}.")
        raw = pd.Index(frame[time])
    if raw.hasnans:
        raise DataError(f"{name} has missing values; drop or fill those rows.")
    if isinstance(raw, pd.PeriodIndex):
        raw = raw.to_timestamp()
    if not isinstance(raw, pd.DatetimeIndex) and raw.dtype.kind not in "iuf":
        try:
            raw = pd.DatetimeIndex(pd.to_datetime(raw))
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{name} must hold numbers or dates, found dtype {raw.dtype}; convert it."
            ) from exc
    if not raw.is_unique:
        dup = raw[raw.duplicated()][0]
        raise DataError(f"{name} repeats {dup}; an interrupted time series needs one row per time.")
    order = np.argsort(np.asarray(raw), kind="stable")
    labels = raw[order]
    if isinstance(labels, pd.DatetimeIndex):
        if len(labels) >= 3 and _infer_freq(labels) is None:
            steps = np.diff(labels.asi8)
            gap = int(np.argmax(steps != np.median(steps)))
            raise DataError(
                f"{name}: the dates are not evenly spaced (no regular frequency; e.g. "
                f"{labels[gap].date()} is followed by {labels[gap + 1].date()}); fill the "
                "missing periods first, one row per period."
            )
    else:
        _regular(np.asarray(labels), name)
    return TimeAxis(labels=pd.Index(labels), order=order)


# -- HAC covariance ---------------------------------------------------------------------------


def newey_west_lags(n: int) -> int:
    """Newey & West (1994) rule of thumb ``floor(4 (n/100)^(2/9))``."""
    return math.floor(4 * (n / 100.0) ** (2.0 / 9.0))


def andrews_lags(moments: np.ndarray, intercept: int | None = 0) -> int:
    """Andrews (1991) AR(1) plug-in lag for the Bartlett kernel.

    Each moment column ``u_a`` (``x_ta e_t``) gets an AR(1) fit ``rho_a, s_a^2``;
    ``alpha(1) = sum 4 rho^2 s^4 / ((1-rho)^6 (1+rho)^2) / sum s^4 / (1-rho)^4`` (unit
    weights, the intercept's moment left out), the bandwidth ``1.1447 (alpha n)^(1/3)``
    and the lag its integer part.
    """
    n = moments.shape[0]
    cols = [j for j in range(moments.shape[1]) if j != intercept]
    num = den = 0.0
    for j in cols:
        u = moments[:, j]
        lagged, now = u[:-1], u[1:]
        ss = float(lagged @ lagged)
        if ss <= 0:
            continue
        rho = float(np.clip(lagged @ now / ss, -0.97, 0.97))
        s2 = float(np.mean((now - rho * lagged) ** 2))
        num += 4 * rho**2 * s2**2 / ((1 - rho) ** 6 * (1 + rho) ** 2)
        den += s2**2 / (1 - rho) ** 4
    if den <= 0:
        return 0
    bandwidth = 1.1447 * (num / den * n) ** (1.0 / 3.0)
    return int(min(math.floor(bandwidth), n - 1))


def hac_covariance(influence: np.ndarray, lags: int) -> np.ndarray:
    """Newey-West covariance from influence values ``phi_t = n (X'X)^{-1} x_t e_t``.

    ``V = n^-2 [sum_t phi_t phi_t' + sum_{l=1}^{L} (1 - l/(L+1)) sum_t (phi_t phi_{t-l}' +
    phi_{t-l} phi_t')]``.
    """
    n = influence.shape[0]
    cov = influence.T @ influence
    for lag in range(1, lags + 1):
        gamma = influence[lag:].T @ influence[:-lag]
        cov = cov + (1 - lag / (lags + 1)) * (gamma + gamma.T)
    return np.asarray(cov / n**2)


# -- the design -------------------------------------------------------------------------------


def _seasonal_columns(t: np.ndarray, period: int, fourier: int | None) -> dict[str, np.ndarray]:
    if fourier is None:  # one dummy per season but the first (season of t = 0)
        season = t % period
        return {f"season_{s}": (season == s).astype(float) for s in range(1, period)}
    cols: dict[str, np.ndarray] = {}
    for k in range(1, fourier + 1):
        angle = 2 * np.pi * k * t / period
        cols[f"cos_{k}"] = np.cos(angle)
        if 2 * k != period:  # sin(pi t) is identically zero
            cols[f"sin_{k}"] = np.sin(angle)
    return cols


def _numeric(frame: pd.DataFrame, column: str, role: str) -> np.ndarray:
    if column not in frame.columns:
        raise DataError(f"{role}={column!r} is not a column of data; columns: {list(frame)}.")
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"{role} column {column!r} must be numeric, found dtype {values.dtype}.")
    array = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(array)):
        raise DataError(
            f"{role} column {column!r} has {int(np.sum(~np.isfinite(array)))} missing or "
            "infinite values; an interrupted time series needs every period: fill them first."
        )
    return array


def _int_at_least(value: Any, low: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= low


def _fourier_ok(value: Any) -> bool:
    return value is None or _int_at_least(value, 1)


def _season_ok(value: Any) -> bool:
    return _int_at_least(value, 2)


def _lags_ok(value: Any) -> bool:
    return value in ("auto", "andrews") or _int_at_least(value, 0)


class InterruptedTimeSeries(BaseEstimator):
    """Segmented regression of one series on time, a level change and a slope change.

    Estimand: the change at the intervention relative to the pre-period segment
    extrapolated (the counterfactual), assuming the pre-period trend (and season) would
    have continued and no other change coincides with the intervention.

    Parameters
    ----------
    seasonality : int or None, default None
        Season length in periods (7 for daily data with a weekly cycle, 12 for monthly
        data). Seasons enter as ``seasonality - 1`` dummies (season of the first row is
        the reference) unless ``fourier`` is set.
    fourier : int or None, default None
        With ``seasonality``, use ``fourier`` harmonic pairs ``cos/sin(2 pi k t / s)``,
        ``k = 1..fourier``, instead of dummies (``fourier = s // 2`` spans the dummies).
    trend : bool, default True
        Include the pre-period slope ``b1 t`` and the slope change ``b3 (t - T0) D_t``;
        ``False`` fits a level change only.
    hac_lags : int, "auto" or "andrews", default "auto"
        Newey-West lag ``L``: "auto" is ``floor(4 (n/100)^(2/9))`` (Newey & West 1994),
        "andrews" the AR(1) plug-in of Andrews (1991); 0 gives White (HC0) errors.
    small_sample : bool, default True
        Multiply the covariance by ``n / (n - k)`` (``k`` coefficients). In simulations
        (AR(1) errors, n = 200, k = 16) intervals still under-cover: see the tests.
    level : float, default 0.95

    Attributes
    ----------
    result_ : Effect
        The average post-period effect ``b2 + b3 mean(t - T0)`` (``estimand="ATT"``).
    effects_ : EffectTable
        ``"level change"`` (``b2``), ``"slope change"`` (``b3``, with ``trend``) and
        ``"average effect"`` (``result_``).
    coef_ : pandas.Series
    cov_ : pandas.DataFrame
        The HAC covariance of ``coef_``.
    series_ : pandas.DataFrame
        Indexed by time: ``observed``, ``fitted``, ``counterfactual`` (the fit with
        ``D = 0``), ``effect`` (``b2 + b3 (t - T0)`` after the intervention, 0 before),
        ``effect_lower``, ``effect_upper`` (pointwise intervals) and ``post``.
    hac_lags_ : int
    intervention_ : label of the first post-period time
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "seasonality": [NONE, Satisfies(_season_ok, "an integer season length >= 2")],
        "fourier": [Satisfies(_fourier_ok, "None or a positive integer")],
        "trend": [Options((True, False))],
        "hac_lags": [Satisfies(_lags_ok, "'auto', 'andrews' or a non-negative integer")],
        "small_sample": [Options((True, False))],
        "level": [LEVEL],
    }

    def __init__(
        self,
        seasonality: int | None = None,
        *,
        fourier: int | None = None,
        trend: bool = True,
        hac_lags: int | str = "auto",
        small_sample: bool = True,
        level: float = 0.95,
    ) -> None:
        self.seasonality = seasonality
        self.fourier = fourier
        self.trend = trend
        self.hac_lags = hac_lags
        self.small_sample = small_sample
        self.level = level

    # -- fitting ---------------------------------------------------------------------------

    def _check_settings(self) -> None:
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        if self.fourier is not None:
            if self.seasonality is None:
                raise ParameterError(
                    f"{type(self).__name__}: fourier={self.fourier} needs a season length; "
                    "set seasonality= (e.g. 12 for monthly data) or leave fourier=None."
                )
            if 2 * self.fourier > self.seasonality:
                raise ParameterError(
                    f"{type(self).__name__}: fourier={self.fourier} exceeds seasonality/2 = "
                    f"{self.seasonality / 2:g} harmonics; use at most {self.seasonality // 2}."
                )

    def _design(
        self, n: int, start: int, controls: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, list[str]]:
        t = np.arange(n, dtype=float)
        post = (t >= start).astype(float)
        cols: dict[str, np.ndarray] = {"const": np.ones(n)}
        if self.trend:
            cols["time"] = t
        cols["level_change"] = post
        if self.trend:
            cols["slope_change"] = (t - start) * post
        if self.seasonality is not None:
            cols |= _seasonal_columns(t, int(self.seasonality), self.fourier)
        cols |= controls
        return np.column_stack(list(cols.values())), list(cols)

    def _check_lengths(self, n: int, start: int, k: int, intervention: Any, axis: TimeAxis) -> None:
        span = f"{axis.labels[0]} to {axis.labels[-1]}"
        if start <= 0 or start >= n:
            raise DataError(
                f"intervention={intervention!r} leaves no {'pre' if start <= 0 else 'post'}-"
                f"period: the series runs from {span}; pick a time strictly inside it."
            )
        n_pre, n_post = start, n - start
        need_pre = (3 if self.trend else 2) + (
            int(self.seasonality) - 1 if self.seasonality and self.fourier is None else 0
        )
        need_pre = max(need_pre, 2 * int(self.fourier or 0) + 3)
        if n_pre < need_pre:
            raise DataError(
                f"the pre-period has {n_pre} periods but the trend and season need at least "
                f"{need_pre} to be estimated; move intervention later or drop seasonality."
            )
        if self.trend and n_post < 2:
            raise DataError(
                f"the post-period has {n_post} period; a slope change needs at least 2: "
                "use trend=False or a series that runs longer after the intervention."
            )
        if n <= k:
            raise DataError(
                f"the model has {k} coefficients but only {n} periods; drop controls or "
                "seasonal terms."
            )

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        intervention: Any,
        time: str | None = None,
        controls: Sequence[str] = (),
    ) -> InterruptedTimeSeries:
        """Fit the segmented regression.

        ``intervention`` is the first post-period time, as a label of ``time`` (or of
        the index when ``time`` is None): a date for a dated axis, a number otherwise.
        A value between two times starts the post-period at the next one.
        ``controls`` are numeric columns entered as regressors (they should not be
        affected by the intervention). Returns ``self``.
        """
        self._check_settings()
        if isinstance(controls, str):
            controls = (controls,)
        frame = to_pandas(data)
        axis = time_axis(frame, time)
        frame = frame.iloc[axis.order]
        y = _numeric(frame, outcome, "outcome")
        ctrl = {f"{c}": _numeric(frame, c, "controls") for c in controls}
        n = y.size
        start = axis.position(intervention, "intervention")
        X, names = self._design(n, start, ctrl)
        self._check_lengths(n, start, X.shape[1], intervention, axis)
        fit = ols(X, y, cov_type="HC0", names=names)
        lags = self._lags(fit.influence, n)
        cov = hac_covariance(fit.influence, lags)
        if self.small_sample:
            cov = cov * n / (n - X.shape[1])
        self.coef_ = pd.Series(fit.coef, index=names)
        self.cov_ = pd.DataFrame(cov, index=names, columns=names)
        self.hac_lags_ = lags
        self.intervention_ = axis.labels[start]
        self._summarise(axis, y, fit.fitted, start, names)
        return self

    def _lags(self, influence: np.ndarray, n: int) -> int:
        if self.hac_lags == "auto":
            return min(newey_west_lags(n), n - 1)
        if self.hac_lags == "andrews":
            return andrews_lags(influence, intercept=0)
        return min(int(self.hac_lags), n - 1)

    def _summarise(
        self, axis: TimeAxis, y: np.ndarray, fitted: np.ndarray, start: int, names: list[str]
    ) -> None:
        n, coef, cov = y.size, self.coef_.to_numpy(), self.cov_.to_numpy()
        post = np.arange(n) >= start
        since = np.where(post, np.arange(n) - start, 0.0)
        # effect_t = c_t' b with c_t picking level_change (1) and slope_change (t - T0)
        contrasts = np.zeros((n, len(names)))
        contrasts[post, names.index("level_change")] = 1.0
        if self.trend:
            contrasts[:, names.index("slope_change")] = since
        effect = contrasts @ coef
        se = np.sqrt(np.einsum("ij,jk,ik->i", contrasts, cov, contrasts))
        z = float(_z(self.level))
        self.series_ = pd.DataFrame(
            {
                "observed": y,
                "fitted": fitted,
                "counterfactual": fitted - effect,
                "effect": effect,
                "effect_lower": np.where(post, effect - z * se, 0.0),
                "effect_upper": np.where(post, effect + z * se, 0.0),
                "post": post,
            },
            index=axis.labels,
        )
        resid = y - fitted
        diagnostics = {
            "n_pre": int(start),
            "n_post": int(n - start),
            "intervention": str(axis.labels[start]),
            "hac_lags": int(self.hac_lags_),
            "durbin_watson": float(np.sum(np.diff(resid) ** 2) / np.sum(resid**2)),
            "r_squared": float(1 - np.sum(resid**2) / np.sum((y - y.mean()) ** 2)),
            "seasonality": self.seasonality,
        }
        average = contrasts[post].mean(axis=0)
        rows = [("level change", "level change", np.eye(len(names))[names.index("level_change")])]
        if self.trend:
            rows.append(
                ("slope change", "slope change", np.eye(len(names))[names.index("slope_change")])
            )
        rows.append(("average effect", "ATT", average))
        effects = [
            Effect.from_normal(
                estimand=estimand,
                estimate=float(c @ coef),
                std_error=float(np.sqrt(c @ cov @ c)),
                level=self.level,
                n_obs=n,
                method="interrupted-time-series",
                inference="hac",
                diagnostics=diagnostics,
            )
            for _, estimand, c in rows
        ]
        self.effects_ = EffectTable(
            effects, [label for label, _, _ in rows], title="Interrupted time series"
        )
        self.result_ = effects[-1]

    # -- reporting -------------------------------------------------------------------------

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Observed series (points), fitted segments and the extrapolated counterfactual."""
        series = self.series_
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4))
        x = series.index
        post = series["post"].to_numpy()
        ax.plot(x, series["observed"], "o", color="0.3", markersize=3, label="observed", **kwargs)
        ax.plot(x[~post], series["fitted"][~post], color="tab:blue", label="fitted")
        ax.plot(x[post], series["fitted"][post], color="tab:blue")
        ax.plot(
            x[post],
            series["counterfactual"][post],
            "--",
            color="tab:orange",
            label="counterfactual",
        )
        ax.axvline(self.intervention_, color="0.4", linestyle=":", linewidth=1)
        ax.set_xlabel("time")
        ax.set_ylabel("outcome")
        ax.legend(frameon=False)
        return ax

    def summary(self) -> Any:
        """Summary table of ``effects_``."""
        return self.effects_.summary()

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _z(level: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2))

"""Guardrails of an A/B test: pre-period balance and effects that change over time.

:func:`balance_check` compares the arms on pre-treatment covariates. Per covariate it
reports the standardised difference ``(xbar_1 - xbar_0) / sqrt((s_1^2 + s_0^2) / 2)``
(Austin 2009, *Statistics in Medicine* 28, 3083-3107; ``|d| > 0.1`` is the usual flag)
and Welch's t-test p-value. Testing many covariates one by one makes some "fail" by
chance, so the verdict rests on one omnibus test: Hotelling's two-sample ``T^2``
(Hotelling 1931, *Ann. Math. Statist.* 2, 360-378),

    T^2 = n_1 n_0 / n (xbar_1 - xbar_0)' S_p^{-1} (xbar_1 - xbar_0),
    F = (n - p - 1) / (p (n - 2)) T^2  ~  F(p, n - p - 1)

with ``S_p`` the pooled covariance of the ``p`` covariates. It equals the overall F
test of the linear regression of the treatment indicator on the covariates (Mardia,
Kent & Bibby 1979, *Multivariate Analysis*, Sec. 3.6 and 6.5).

:func:`novelty_check` estimates the effect within each period (day, week) and fits a
linear trend to the period effects ``theta_k`` by inverse-variance weighted least
squares (a meta-regression on time; Thompson & Sharp 1999, *Statistics in Medicine*
18, 2693-2708), with the slope's variance ``(X'WX)^{-1}`` scaled by
``max(1, Q_E / (K - 2))`` (``Q_E`` the residual weighted sum of squares) so that extra
period-to-period variation widens rather than narrows the interval. A significant
slope that moves the effect towards zero is a novelty effect (the early lift wears
off); one that moves it away from zero is a primacy effect (users need time to adapt
and the effect grows; Kohavi, Tang & Xu 2020, ch. 23).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_alpha, check_level
from paribus.data import CausalData
from paribus.data.convert import to_pandas
from paribus.errors import DataError, ParameterError
from paribus.experiments._contrast import mean_contrast
from paribus.experiments.segments import effects_by_group, period_column
from paribus.results import EffectTable

__all__ = ["BalanceCheck", "NoveltyCheck", "balance_check", "novelty_check"]

_SMD_FLAG = 0.1


@dataclasses.dataclass(frozen=True)
class BalanceCheck:
    """Per-covariate balance and Hotelling's omnibus test (module docstring).

    Attributes
    ----------
    covariates : tuple of str
    mean_treated, mean_control, std_diff, p_value : tuple of float
        Per covariate: arm means, standardised difference, Welch p-value.
    hotelling_t2, f_statistic, p_omnibus : float
        Hotelling's ``T^2``, its F form and p-value.
    df : tuple of int
        ``(p, n - p - 1)``.
    alpha : float
    balanced : bool
        ``p_omnibus >= alpha``.
    verdict : str
        Plain-language verdict naming the worst covariate.
    """

    covariates: tuple[str, ...]
    mean_treated: tuple[float, ...]
    mean_control: tuple[float, ...]
    std_diff: tuple[float, ...]
    p_value: tuple[float, ...]
    hotelling_t2: float
    f_statistic: float
    df: tuple[int, int]
    p_omnibus: float
    alpha: float
    balanced: bool
    verdict: str

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate."""
        return pd.DataFrame(
            {
                "mean_treated": self.mean_treated,
                "mean_control": self.mean_control,
                "std_diff": self.std_diff,
                "p_value": self.p_value,
            },
            index=pd.Index(self.covariates, name="covariate"),
        )

    def __str__(self) -> str:
        return (
            f"Pre-period balance ({len(self.covariates)} covariates)\n"
            f"{self.to_frame().to_string(float_format=lambda x: f'{x:.4g}')}\n"
            f"Hotelling T^2 = {self.hotelling_t2:.4g}, F({self.df[0]}, {self.df[1]}) = "
            f"{self.f_statistic:.4g}, p = {self.p_omnibus:.4g}\n{self.verdict}"
        )

    __repr__ = __str__


def _hotelling(x1: np.ndarray, x0: np.ndarray) -> tuple[float, float, int, int, float]:
    n1, n0, p = x1.shape[0], x0.shape[0], x1.shape[1]
    n = n1 + n0
    if n - p - 1 < 1:
        raise DataError(
            f"balance_check: {p} covariates need more than {p + 1} units for the omnibus "
            f"test; got {n}. Check fewer covariates."
        )
    diff = x1.mean(axis=0) - x0.mean(axis=0)
    pooled = ((n1 - 1) * np.cov(x1, rowvar=False) + (n0 - 1) * np.cov(x0, rowvar=False)) / (n - 2)
    pooled = np.atleast_2d(pooled)
    try:
        sol = np.linalg.solve(pooled, diff)
    except np.linalg.LinAlgError:
        sol = None
    if sol is None or np.linalg.matrix_rank(pooled) < p:
        raise DataError(
            "balance_check: the covariates are collinear (or one is constant within the "
            "arms), so the omnibus test is undefined; drop redundant covariates."
        )
    t2 = float(n1 * n0 / n * diff @ sol)
    f = (n - p - 1) / (p * (n - 2)) * t2
    return t2, f, p, n - p - 1, float(stats.f.sf(f, p, n - p - 1))


def balance_check(
    data: Any, *, variant: str, covariates: str | list[str], alpha: float = 0.05
) -> BalanceCheck:
    """Check that pre-period covariates are balanced between the arms (module docstring).

    Parameters
    ----------
    data : table
    variant : str
        0/1 (or boolean) arm indicator.
    covariates : str or list of str
        Numeric pre-treatment covariates (measured before assignment).
    alpha : float, default 0.05
        Threshold of the omnibus test.

    Returns
    -------
    BalanceCheck

    Raises
    ------
    paribus.errors.DataError
        Missing columns or values, a non-binary variant, collinear covariates, or
        fewer than 2 units in an arm.
    """
    alpha = check_alpha(alpha)
    cov_list = [covariates] if isinstance(covariates, str) else list(covariates)
    if not cov_list:
        raise ParameterError("balance_check: covariates is empty; name at least one column.")
    cd = CausalData(data, treatment=variant, covariates=cov_list)
    t, x = cd.t.astype(bool), cd.X
    rows = []
    for j in range(x.shape[1]):
        mc = mean_contrast(x[t, j], x[~t, j])
        sd = math.sqrt((mc.var_treated + mc.var_control) / 2)
        smd = mc.estimate / sd if sd > 0 else (0.0 if mc.estimate == 0 else math.inf)
        rows.append((mc.mean_treated, mc.mean_control, smd, mc.effect().p_value))
    t2, f, df1, df2, p = _hotelling(x[t], x[~t])
    worst = int(np.argmax([abs(r[2]) for r in rows]))
    flagged = [c for c, r in zip(cov_list, rows, strict=True) if abs(r[2]) > _SMD_FLAG]
    worst_txt = f"the largest standardised difference is {rows[worst][2]:+.3f} ({cov_list[worst]})"
    if p < alpha:
        verdict = (
            f"IMBALANCED: the arms differ on the pre-period covariates (Hotelling p = {p:.3g} "
            f"< {alpha:g}); {worst_txt}. Before reading the effect, check the assignment "
            "(sample-ratio mismatch, a bucketing bug, carry-over from an earlier test on the "
            "same units) and adjust for the covariates (CUPED or regression)."
        )
    else:
        verdict = (
            f"Balanced: no evidence the arms differ on the pre-period covariates (Hotelling "
            f"p = {p:.3g} >= {alpha:g}); {worst_txt}."
        )
        if flagged:
            verdict += (
                f" Covariates with |d| > {_SMD_FLAG}: {', '.join(flagged)}; adjusting for "
                "them will sharpen the estimate."
            )
    return BalanceCheck(
        covariates=tuple(cov_list),
        mean_treated=tuple(r[0] for r in rows),
        mean_control=tuple(r[1] for r in rows),
        std_diff=tuple(r[2] for r in rows),
        p_value=tuple(r[3] for r in rows),
        hotelling_t2=t2,
        f_statistic=f,
        df=(df1, df2),
        p_omnibus=p,
        alpha=alpha,
        balanced=bool(p >= alpha),
        verdict=verdict,
    )


@dataclasses.dataclass(frozen=True)
class NoveltyCheck:
    """Effects per period and a weighted linear trend in them (module docstring).

    Attributes
    ----------
    periods : EffectTable
        The effect within each period, in time order.
    slope, slope_se, slope_p : float
        Change in the effect per period, its standard error and two-sided normal p-value.
    dispersion : float
        ``max(1, Q_E / (K - 2))``, the factor applied to the slope's variance.
    pooled : float
        Inverse-variance weighted mean of the period effects.
    pattern : {"novelty", "primacy", "stable"}
    message : str
    """

    periods: EffectTable
    slope: float
    slope_se: float
    slope_p: float
    dispersion: float
    pooled: float
    alpha: float
    pattern: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.periods}\ntrend in the effect: {self.slope:+.4g} per period "
            f"(se {self.slope_se:.4g}, p = {self.slope_p:.3g})\n{self.message}"
        )

    __repr__ = __str__


def _trend(est: np.ndarray, se: np.ndarray) -> tuple[float, float, float, float]:
    """Weighted slope of ``est`` on ``0..K-1``: slope, se (dispersion-scaled), dispersion, mean."""
    k = est.size
    x = np.column_stack([np.ones(k), np.arange(k, dtype=float)])
    w = 1.0 / se**2
    xtwx = x.T @ (w[:, None] * x)
    coef = np.linalg.solve(xtwx, x.T @ (w * est))
    q_e = float(np.sum(w * (est - x @ coef) ** 2))
    dispersion = max(1.0, q_e / (k - 2))
    var = np.linalg.inv(xtwx)[1, 1] * dispersion
    pooled = float(np.sum(w * est) / np.sum(w))
    return float(coef[1]), math.sqrt(var), dispersion, pooled


def _novelty_message(
    slope: float, se: float, p: float, pooled: float, alpha: float, first: float, last: float
) -> tuple[str, str]:
    trend = (
        f"the effect changes by {slope:+.4g} per period (p = {p:.3g}); first period "
        f"{first:+.4g}, last period {last:+.4g}, average {pooled:+.4g}"
    )
    if not p < alpha:
        return "stable", (
            f"No trend in the effect over time detected: {trend}. The test average is a "
            "fair guide to the longer-run effect, as far as this test's length shows."
        )
    if slope * pooled < 0:
        return "novelty", (
            f"NOVELTY EFFECT: {trend}. The effect is shrinking towards zero as users get "
            "used to the change, so the long-run effect is likely smaller than the test "
            "average. Run the test longer, or judge it on the later periods or on new users."
        )
    return "primacy", (
        f"PRIMACY EFFECT: {trend}. The effect is growing as users adapt to the change, so "
        "the long-run effect is likely larger than the test average. Run the test longer "
        "before deciding."
    )


def novelty_check(
    data: Any,
    *,
    variant: str,
    outcome: str,
    time: str,
    freq: str | None = None,
    level: float = 0.95,
    alpha: float = 0.05,
) -> NoveltyCheck:
    """Effect per period and a test of a linear trend in it (module docstring).

    Parameters
    ----------
    data : table
    variant, outcome : str
        0/1 arm indicator and numeric outcome.
    time : str
        Period of each row: numbers or labels (each distinct value is a period, in
        sorted order) or datetimes (bucketed by ``freq``).
    freq : str, optional
        Pandas period alias for a datetime ``time`` (``"D"`` default, ``"W"`` weeks).
    level : float, default 0.95
        Level of the per-period intervals.
    alpha : float, default 0.05
        Threshold of the trend test.

    Returns
    -------
    NoveltyCheck

    Raises
    ------
    paribus.errors.DataError
        Fewer than 3 periods, or a period with fewer than 2 units in an arm.
    """
    check_level(level)
    alpha = check_alpha(alpha)
    cd = CausalData(data, treatment=variant, outcome=outcome)
    per = period_column(to_pandas(data), time, freq)
    table = effects_by_group(
        cd.t,
        cd.y,
        per,
        level=level,
        correction="none",
        title=f"Effect of {variant} on {outcome} by {time}",
    )
    if len(table) < 3:
        raise DataError(
            f"novelty_check: time column {time!r} has {len(table)} periods; a trend needs at "
            "least 3. Use a shorter freq (e.g. 'D' instead of 'W') or run the test longer."
        )
    est = np.array([e.estimate for e in table])
    se = np.array([e.std_error for e in table])
    if not (np.isfinite(se).all() and (se > 0).all()):
        raise DataError(
            "novelty_check: a period's effect has a zero standard error (constant outcome in "
            "both arms); merge periods with a longer freq."
        )
    slope, slope_se, dispersion, pooled = _trend(est, se)
    p = float(2 * stats.norm.sf(abs(slope / slope_se)))
    pattern, message = _novelty_message(slope, slope_se, p, pooled, alpha, est[0], est[-1])
    return NoveltyCheck(
        periods=table,
        slope=slope,
        slope_se=slope_se,
        slope_p=p,
        dispersion=dispersion,
        pooled=pooled,
        alpha=alpha,
        pattern=pattern,
        message=message,
    )

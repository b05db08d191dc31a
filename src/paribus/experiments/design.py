"""Experiment design: power, sample size, minimum detectable effect and duration.

Every calculation reduces to one picture. With ``n`` units in control and ``ratio * n``
in treatment, an absolute effect ``delta`` (treated minus control) is estimated with
standard error ``se(n) = sqrt((v_t / ratio + v_c) / n)``, where ``v_t`` and ``v_c`` are
the per-unit variances of the metric in each arm. The test rejects when the statistic
``Z = estimate / se`` passes the critical value, so power is a function of the
non-centrality ``delta / se(n)`` alone:

* ``method="t"`` (default for means): the two-sample Student t-test with equal variances.
  ``T`` follows a non-central t with ``n (1 + ratio) - 2`` degrees of freedom and
  non-centrality ``delta / se(n)``; power is the exact tail probability (Cohen 1988,
  ch. 2), equal to statsmodels ``TTestIndPower``.
* ``method="normal"``: the large-sample z-test, power ``Phi(delta/se - z_{1-a/2}) +
  Phi(-delta/se - z_{1-a/2})`` (both tails counted), equal to statsmodels ``NormalIndPower``.

Metrics
-------
``metric="mean"``
    ``v_t = v_c = sd**2``.
``metric="proportion"``
    ``baseline`` is the control rate ``p_c`` and ``p_t = p_c + delta``.
    ``method="unpooled"`` (the default) uses ``v_t = p_t (1 - p_t)``, ``v_c = p_c (1 - p_c)``
    and the normal approximation: the Wald z-test of a difference in proportions with
    unpooled (Neyman) variance, which is the test an A/B platform and
    :func:`paribus.experiments._contrast.mean_contrast` actually run on 0/1 outcomes, so
    the design matches the analysis. ``method="arcsine"`` uses Cohen's effect size
    ``h = 2 asin(sqrt(p_t)) - 2 asin(sqrt(p_c))`` with unit variance on the arcsine scale
    (Cohen 1988, ch. 6), equal to statsmodels ``NormalIndPower`` with
    ``proportion_effectsize``; it is variance-stabilising and close to the pooled test.
``metric="ratio"``
    A ratio of means ``R = E[Y] / E[X]`` per arm (clicks per page view, revenue per
    session) where the randomisation unit is the user, so ``Y`` and ``X`` are per-user
    totals. By the delta method (Deng, Knoblich & Lu 2018, "Applying the delta method in
    metric analytics", KDD, eq. 3),
    ``Var(Ybar / Xbar) ~= (1 / n) (s_Y**2 - 2 R s_XY + R**2 s_X**2) / mu_X**2``,
    so ``v_t = v_c = (s_Y**2 - 2 R s_XY + R**2 s_X**2) / mu_X**2`` from the per-unit moments
    in :class:`RatioMoments`; ``baseline`` is ``R``. Normal inference by default.

CUPED (Deng, Xu, Kohavi & Walker 2013) regresses the metric on a pre-experiment covariate
with correlation ``rho``; the variance of the adjusted estimate is multiplied by
``1 - rho**2``. Pass ``cuped_r2 = rho**2``. (The one degree of freedom spent on the
covariate is ignored.)

Effects are absolute (treated minus control, in the metric's units) unless
``relative=True``, when ``effect`` is a lift: ``delta = effect * baseline``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import optimize, stats

from paribus.errors import DataError, ParameterError

__all__ = [
    "Duration",
    "RatioMoments",
    "SampleSize",
    "duration",
    "minimum_detectable_effect",
    "power",
    "sample_size",
]

Metric = Literal["mean", "proportion", "ratio"]
Alternative = Literal["two-sided", "greater", "less"]
Method = Literal["t", "normal", "unpooled", "arcsine"]
_METHODS = {
    "mean": ("t", "normal"),
    "proportion": ("unpooled", "arcsine"),
    "ratio": ("normal", "t"),
}


@dataclasses.dataclass(frozen=True)
class RatioMoments:
    """Per-unit moments of the numerator ``Y`` and denominator ``X`` of a ratio metric.

    Each unit (the randomisation unit, e.g. a user) contributes a numerator total and a
    denominator total; the metric is ``mean(Y) / mean(X)``.
    """

    mean_numerator: float
    mean_denominator: float
    sd_numerator: float
    sd_denominator: float
    covariance: float

    def __post_init__(self) -> None:
        if not self.mean_denominator or not math.isfinite(self.mean_denominator):
            raise ParameterError(
                f"RatioMoments: mean_denominator={self.mean_denominator!r}; expected a finite "
                "non-zero number (the ratio's denominator cannot average zero)."
            )
        for name in ("sd_numerator", "sd_denominator"):
            if not getattr(self, name) >= 0:
                raise ParameterError(
                    f"RatioMoments: {name}={getattr(self, name)!r}; expected a number >= 0."
                )
        bound = self.sd_numerator * self.sd_denominator
        if abs(self.covariance) > bound * (1 + 1e-9) + 1e-300:
            raise ParameterError(
                f"RatioMoments: covariance={self.covariance!r} exceeds sd_numerator * "
                f"sd_denominator = {bound!r} in absolute value; no distribution has these "
                "moments. Check the inputs."
            )

    @classmethod
    def from_data(cls, numerator: np.ndarray, denominator: np.ndarray) -> RatioMoments:
        """Moments estimated from pilot data, one row per randomisation unit."""
        y = np.asarray(numerator, dtype=float).ravel()
        x = np.asarray(denominator, dtype=float).ravel()
        if y.shape != x.shape or y.size < 2:
            raise DataError(
                f"RatioMoments.from_data: numerator and denominator need the same length >= 2; "
                f"got {y.size} and {x.size}."
            )
        if not (np.isfinite(y).all() and np.isfinite(x).all()):
            raise DataError("RatioMoments.from_data: the data have missing or infinite values.")
        cov = np.cov(y, x, ddof=1)
        return cls(
            mean_numerator=float(y.mean()),
            mean_denominator=float(x.mean()),
            sd_numerator=float(math.sqrt(cov[0, 0])),
            sd_denominator=float(math.sqrt(cov[1, 1])),
            covariance=float(cov[0, 1]),
        )

    @property
    def ratio(self) -> float:
        """The ratio ``mean_numerator / mean_denominator``, the baseline of the metric."""
        return self.mean_numerator / self.mean_denominator

    @property
    def sd(self) -> float:
        """Per-unit delta-method standard deviation of the ratio (module docstring)."""
        r = self.ratio
        v = (
            self.sd_numerator**2 - 2 * r * self.covariance + r**2 * self.sd_denominator**2
        ) / self.mean_denominator**2
        return math.sqrt(max(v, 0.0))


@dataclasses.dataclass(frozen=True)
class SampleSize:
    """Units needed per arm; ``n_control_exact`` is the unrounded solution."""

    n_control: int
    n_treated: int
    n_control_exact: float
    power: float
    effect: float
    relative: bool
    alpha: float
    alternative: str
    metric: str
    method: str

    @property
    def n_total(self) -> int:
        """Units in both arms together."""
        return self.n_control + self.n_treated

    def __repr__(self) -> str:
        kind = "relative" if self.relative else "absolute"
        return (
            f"SampleSize(n_control={self.n_control:,}, n_treated={self.n_treated:,}, "
            f"total={self.n_total:,}; {kind} effect {self.effect:g}, power {self.power:g}, "
            f"alpha {self.alpha:g} {self.alternative}, {self.metric}/{self.method})"
        )


@dataclasses.dataclass(frozen=True)
class Duration:
    """Days an experiment must run to reach its sample size."""

    days: int
    days_exact: float
    n_total: int
    daily_traffic: float
    share: float

    @property
    def daily_units(self) -> float:
        """Units entering the experiment per day: ``daily_traffic * share``."""
        return self.daily_traffic * self.share

    def __repr__(self) -> str:
        return (
            f"Duration({self.days} days: {self.n_total:,} units at {self.daily_units:,.6g}/day "
            f"= {self.daily_traffic:,.6g} daily traffic x {self.share:.4g} share)"
        )


@dataclasses.dataclass(frozen=True)
class _Design:
    """A validated design: variances per arm as functions of the absolute effect."""

    metric: str
    method: str
    alpha: float
    ratio: float
    alternative: str
    baseline: float
    var_scale: float  # CUPED factor 1 - rho^2
    variances: Callable[[float], tuple[float, float]]
    delta_scale: Callable[[float], float]  # absolute effect -> effect on the test scale

    def noncentrality(self, delta: float, n: float) -> float:
        v_t, v_c = self.variances(delta)
        se = math.sqrt(self.var_scale * (v_t / self.ratio + v_c) / n)
        return self.delta_scale(delta) / se if se > 0 else math.copysign(math.inf, delta)

    def power(self, delta: float, n: float) -> float:
        nc = self.noncentrality(delta, n)
        a = self.alpha
        if self.method == "t":
            df = n * (1 + self.ratio) - 2
            dist = stats.t(df)
            nct = stats.nct(df, nc)
            if self.alternative == "two-sided":
                c = float(dist.isf(a / 2))
                return float(nct.sf(c) + nct.cdf(-c))
            if self.alternative == "greater":
                return float(nct.sf(float(dist.isf(a))))
            return float(nct.cdf(-float(dist.isf(a))))
        if self.alternative == "two-sided":
            c = float(stats.norm.isf(a / 2))
            return float(stats.norm.sf(c - nc) + stats.norm.cdf(-c - nc))
        c = float(stats.norm.isf(a))
        if self.alternative == "greater":
            return float(stats.norm.sf(c - nc))
        return float(stats.norm.cdf(-c - nc))


def _positive(name: str, value: float | None) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ParameterError(f"{name}={value!r} is invalid; expected a positive number.")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ParameterError(f"{name}={value!r} is invalid; expected a positive finite number.")
    return v


def _design(
    *,
    metric: str,
    method: str | None,
    sd: float | None,
    baseline: float | None,
    moments: RatioMoments | None,
    alpha: float,
    ratio: float,
    alternative: str,
    cuped_r2: float,
) -> _Design:
    if metric not in _METHODS:
        raise ParameterError(
            f"metric={metric!r} is invalid; expected 'mean', 'proportion' or 'ratio'."
        )
    method = method or _METHODS[metric][0]
    if method not in _METHODS[metric]:
        raise ParameterError(
            f"method={method!r} is invalid for metric={metric!r}; expected one of "
            f"{', '.join(repr(m) for m in _METHODS[metric])}."
        )
    if isinstance(alpha, bool) or not (0 < float(alpha) < 1):
        raise ParameterError(f"alpha={alpha!r} is invalid; expected a number in (0, 1), e.g. 0.05.")
    ratio = _positive("ratio (treated / control allocation)", ratio)
    if alternative not in ("two-sided", "greater", "less"):
        raise ParameterError(
            f"alternative={alternative!r} is invalid; expected 'two-sided', 'greater' or 'less'."
        )
    if isinstance(cuped_r2, bool) or not (0 <= float(cuped_r2) < 1):
        raise ParameterError(
            f"cuped_r2={cuped_r2!r} is invalid; expected rho**2 in [0, 1) for the squared "
            "correlation between the metric and its pre-experiment covariate."
        )
    scale = 1.0 - float(cuped_r2)
    identity: Callable[[float], float] = lambda d: d  # noqa: E731
    if metric == "mean":
        s = _positive("sd", sd)
        b = math.nan if baseline is None else float(baseline)
        return _Design(
            metric, method, float(alpha), ratio, alternative, b, scale,
            lambda d: (s * s, s * s), identity,
        )  # fmt: skip
    if metric == "ratio":
        if not isinstance(moments, RatioMoments):
            raise ParameterError(
                f"metric='ratio' needs moments=RatioMoments(...) (per-unit means, sds and "
                f"covariance of numerator and denominator); got {moments!r}. Use "
                "RatioMoments.from_data(numerator, denominator) on pilot data."
            )
        s = moments.sd
        if s <= 0:
            raise ParameterError("metric='ratio': the delta-method variance of the ratio is 0.")
        return _Design(
            metric, method, float(alpha), ratio, alternative, moments.ratio, scale,
            lambda d: (s * s, s * s), identity,
        )  # fmt: skip
    if baseline is None or isinstance(baseline, bool) or not (0 < float(baseline) < 1):
        raise ParameterError(
            f"baseline={baseline!r} is invalid for metric='proportion'; expected the control "
            "conversion rate strictly between 0 and 1, e.g. 0.1."
        )
    pc = float(baseline)
    if method == "arcsine":
        return _Design(
            metric, method, float(alpha), ratio, alternative, pc, scale,
            lambda d: (1.0, 1.0),
            lambda d: 2 * math.asin(math.sqrt(pc + d)) - 2 * math.asin(math.sqrt(pc)),
        )  # fmt: skip
    return _Design(
        metric, method, float(alpha), ratio, alternative, pc, scale,
        lambda d: ((pc + d) * (1 - pc - d), pc * (1 - pc)), identity,
    )  # fmt: skip


def _absolute(d: _Design, effect: float, relative: bool) -> float:
    if isinstance(effect, bool) or not math.isfinite(float(effect)):
        raise ParameterError(f"effect={effect!r} is invalid; expected a finite number.")
    delta = float(effect)
    if relative:
        if not math.isfinite(d.baseline) or d.baseline == 0:
            raise ParameterError(
                "relative=True needs a non-zero baseline (the control mean) to turn the lift "
                f"into an absolute effect; got baseline={d.baseline!r}."
            )
        delta *= d.baseline
    if d.metric == "proportion" and not (0 < d.baseline + delta < 1):
        raise ParameterError(
            f"effect={effect!r} puts the treated rate at {d.baseline + delta!r}, outside (0, 1); "
            "give the effect as a difference in rates (or relative=True for a lift)."
        )
    return delta


def _check_power(target: float, alpha: float) -> float:
    if isinstance(target, bool) or not (alpha < float(target) < 1):
        raise ParameterError(
            f"power={target!r} is invalid; expected a number in (alpha, 1) = ({alpha:g}, 1): "
            "a test cannot have power at or below its size."
        )
    return float(target)


def power(
    effect: float,
    *,
    n: float,
    sd: float | None = None,
    baseline: float | None = None,
    moments: RatioMoments | None = None,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    metric: Metric = "mean",
    method: Method | None = None,
    relative: bool = False,
    cuped_r2: float = 0.0,
) -> float:
    """Power of the two-arm test to detect ``effect`` with ``n`` control units.

    Parameters
    ----------
    effect : float
        Treated minus control, in the metric's units; a lift (fraction of ``baseline``)
        when ``relative=True``. For ``metric="proportion"``: a difference in rates.
    n : float
        Units in the control arm; the treated arm has ``ratio * n``.
    sd : float, optional
        Per-unit standard deviation of the metric (``metric="mean"``).
    baseline : float, optional
        Control mean (needed for ``relative=True``); the control rate for proportions.
    moments : RatioMoments, optional
        Numerator and denominator moments for ``metric="ratio"``; the baseline is their ratio.
    alpha : float
        Size of the test.
    ratio : float
        Allocation ratio ``n_treated / n_control``.
    alternative : {"two-sided", "greater", "less"}
        The test's alternative: treated differs from, exceeds, or falls below control.
    metric : {"mean", "proportion", "ratio"}
    method : {"t", "normal"} for means and ratios, {"unpooled", "arcsine"} for proportions
        Defaults: ``"t"``, ``"normal"`` and ``"unpooled"`` (module docstring).
    relative : bool
        Read ``effect`` as a relative lift.
    cuped_r2 : float
        Squared correlation with a pre-experiment covariate used for CUPED; the variance is
        multiplied by ``1 - cuped_r2``.

    Returns
    -------
    float
        The probability of rejecting the null when the true effect is ``effect``.
    """
    d = _design(
        metric=metric, method=method, sd=sd, baseline=baseline, moments=moments, alpha=alpha,
        ratio=ratio, alternative=alternative, cuped_r2=cuped_r2,
    )  # fmt: skip
    if isinstance(n, bool) or not (float(n) * min(1.0, d.ratio) >= 1) or not math.isfinite(n):
        raise ParameterError(
            f"n={n!r} is invalid; expected a finite number of control units with at least one "
            "unit in each arm."
        )
    if d.method == "t" and float(n) * (1 + d.ratio) <= 2:
        raise ParameterError(f"n={n!r} leaves no degrees of freedom for the t-test; use n >= 2.")
    return d.power(_absolute(d, effect, relative), float(n))


def sample_size(
    effect: float,
    *,
    power: float = 0.8,
    sd: float | None = None,
    baseline: float | None = None,
    moments: RatioMoments | None = None,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    metric: Metric = "mean",
    method: Method | None = None,
    relative: bool = False,
    cuped_r2: float = 0.0,
) -> SampleSize:
    """Units per arm needed to detect ``effect`` with the given power.

    Solves ``power(effect, n=n) = power`` for the control-arm size ``n`` with Brent's
    method (the power is increasing in ``n``) and rounds both arms up. The parameters are
    those of :func:`power`.
    """
    d = _design(
        metric=metric, method=method, sd=sd, baseline=baseline, moments=moments, alpha=alpha,
        ratio=ratio, alternative=alternative, cuped_r2=cuped_r2,
    )  # fmt: skip
    target = _check_power(power, d.alpha)
    delta = _absolute(d, effect, relative)
    if (
        delta == 0
        or (alternative == "greater" and delta < 0)
        or (alternative == "less" and delta > 0)
    ):
        raise ParameterError(
            f"effect={effect!r} cannot reach power {target:g} with alternative={alternative!r}; "
            "give a non-zero effect in the direction of the alternative."
        )
    # at least one unit per arm, and one degree of freedom for the t-test
    lo = max(3.0 / (1 + d.ratio) if d.method == "t" else 0.0, 1.0 / min(1.0, d.ratio))
    if d.power(delta, lo) >= target:
        n_exact = lo
    else:
        hi = 2 * lo
        while d.power(delta, hi) < target:
            hi *= 4
            if hi > 1e15:
                raise ParameterError(
                    f"effect={effect!r} is too small to reach power {target:g} with fewer "
                    "than 1e15 units."
                )
        n_exact = float(optimize.brentq(lambda m: d.power(delta, m) - target, lo, hi, xtol=1e-10,
                                        rtol=1e-14))  # fmt: skip
    n_c = math.ceil(n_exact - 1e-9)
    return SampleSize(
        n_control=n_c,
        n_treated=math.ceil(d.ratio * n_c - 1e-9),
        n_control_exact=n_exact,
        power=target,
        effect=float(effect),
        relative=relative,
        alpha=d.alpha,
        alternative=alternative,
        metric=metric,
        method=d.method,
    )


def minimum_detectable_effect(
    *,
    n: float,
    power: float = 0.8,
    sd: float | None = None,
    baseline: float | None = None,
    moments: RatioMoments | None = None,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    metric: Metric = "mean",
    method: Method | None = None,
    relative: bool = False,
    cuped_r2: float = 0.0,
) -> float:
    """Smallest effect detected with the given power by ``n`` control units.

    Solves ``power(effect, n=n) = power`` for the effect with Brent's method. The MDE is
    positive (an increase) for ``"two-sided"`` and ``"greater"`` and negative for
    ``"less"``; it is absolute unless ``relative=True``, when it is a lift over
    ``baseline``. The parameters are those of :func:`power`.
    """
    d = _design(
        metric=metric, method=method, sd=sd, baseline=baseline, moments=moments, alpha=alpha,
        ratio=ratio, alternative=alternative, cuped_r2=cuped_r2,
    )  # fmt: skip
    target = _check_power(power, d.alpha)
    n = float(n)
    if not (n * min(1.0, d.ratio) >= 1 and n * (1 + d.ratio) > 2) or not math.isfinite(n):
        raise ParameterError(f"n={n!r} is invalid; expected at least 2 units in the design.")
    if relative:
        _absolute(d, 0.0, True)  # checks the baseline
    sign = -1.0 if alternative == "less" else 1.0
    if d.metric == "proportion":
        hi = (1 - d.baseline if sign > 0 else d.baseline) * (1 - 1e-12)
        if d.power(sign * hi, n) < target:
            raise ParameterError(
                f"no effect on a baseline rate of {d.baseline:g} reaches power {target:g} with "
                f"n={n:g}; increase n."
            )
    else:
        scale = math.sqrt(d.var_scale * sum(d.variances(0.0)) / n)
        hi = scale
        while d.power(sign * hi, n) < target:
            hi *= 2
    delta = sign * float(
        optimize.brentq(lambda x: d.power(sign * x, n) - target, 0.0, hi, xtol=1e-14, rtol=1e-13)
    )
    return delta / d.baseline if relative else delta


def duration(
    daily_traffic: float, sample_size: SampleSize | int, *, share: float = 1.0
) -> Duration:
    """Days needed to enrol ``sample_size`` units.

    Parameters
    ----------
    daily_traffic : float
        New eligible units arriving per day (unique users, not visits: returning users do
        not add units).
    sample_size : SampleSize or int
        A :func:`sample_size` result (both arms are counted) or a total number of units.
    share : float
        Fraction of the eligible traffic allocated to the experiment (both arms), in (0, 1].

    Returns
    -------
    Duration
        ``days = ceil(n_total / (daily_traffic * share))``.
    """
    traffic = _positive("daily_traffic", daily_traffic)
    if isinstance(share, bool) or not (0 < float(share) <= 1):
        raise ParameterError(
            f"share={share!r} is invalid; expected the fraction of traffic in the experiment, "
            "in (0, 1]."
        )
    if isinstance(sample_size, SampleSize):
        total = sample_size.n_total
    elif isinstance(sample_size, (int, np.integer)) and not isinstance(sample_size, bool):
        total = int(sample_size)
    else:
        raise ParameterError(
            f"sample_size={sample_size!r} is invalid; expected a SampleSize from sample_size() "
            "or a total number of units."
        )
    if total < 1:
        raise ParameterError(f"sample_size={total!r} is invalid; expected at least 1 unit.")
    exact = total / (traffic * float(share))
    return Duration(
        days=math.ceil(exact - 1e-12),
        days_exact=exact,
        n_total=total,
        daily_traffic=traffic,
        share=float(share),
    )

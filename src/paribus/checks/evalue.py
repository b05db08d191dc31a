"""E-values: how strong unmeasured confounding would have to be to explain an effect away.

VanderWeele, T. J. & Ding, P. (2017). Sensitivity analysis in observational research:
introducing the E-value. *Annals of Internal Medicine* 167(4), 268-274. For an observed
risk ratio ``RR > 1`` the E-value is ``E = RR + sqrt(RR (RR - 1))``: the minimum strength
of association, on the risk-ratio scale, that an unmeasured confounder would need with both
treatment and outcome (conditional on the measured covariates) to move the risk ratio to 1.
A protective ``RR < 1`` is inverted first. The E-value of the interval is that of the limit
closest to the null, and 1 when the interval contains the null.

Other scales are converted to an approximate risk ratio first (VanderWeele & Ding 2017,
Table 2 and eAppendix; VanderWeele 2017, *Biometrics* 73, 1122-1128 on odds and hazard
ratios; Chinn 2000 for standardised mean differences):

* odds ratio: ``RR ~= OR`` for a rare outcome (< 15% at the end of follow-up), else
  ``RR ~= sqrt(OR)``;
* hazard ratio: ``RR ~= HR`` for a rare outcome, else
  ``RR ~= (1 - 0.5**sqrt(HR)) / (1 - 0.5**sqrt(1 / HR))``;
* standardised mean difference ``d`` of a continuous outcome: ``RR ~= exp(0.91 d)``.

Risk differences are not covered: their E-value needs the four cell counts and an
optimisation over the confounder's prevalence (VanderWeele & Ding 2017, eAppendix).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from paribus.errors import ParameterError
from paribus.results import Effect

__all__ = ["EValue", "evalue"]

Scale = Literal["RR", "OR", "HR", "SMD"]
_SCALES: tuple[str, ...] = ("RR", "OR", "HR", "SMD")
_NAMES = {
    "RR": "risk ratio",
    "OR": "odds ratio",
    "HR": "hazard ratio",
    "SMD": "standardised mean difference",
}


@dataclasses.dataclass(frozen=True)
class EValue:
    """E-values of an estimate and of its confidence limit closest to the null.

    Attributes
    ----------
    scale : {"RR", "OR", "HR", "SMD"}
        The scale of ``estimate``, ``lower`` and ``upper``.
    estimate, lower, upper : float
        The inputs on their own scale (``nan`` for a limit not given).
    rr, rr_lower, rr_upper : float
        The same on the (approximate) risk-ratio scale.
    true : float
        The true value, on the risk-ratio scale, the confounder must shift the estimate to.
    rare : bool or None
        The rare-outcome flag used for odds and hazard ratios.
    evalue : float
        E-value of the point estimate.
    evalue_ci : float
        E-value of the limit closest to ``true``; 1 if the interval contains it, ``nan``
        without an interval.
    """

    scale: str
    estimate: float
    lower: float
    upper: float
    rr: float
    rr_lower: float
    rr_upper: float
    true: float
    rare: bool | None
    evalue: float
    evalue_ci: float

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            return "-" if math.isnan(x) else f"{x:.4g}"

        lines = [
            f"E-values ({_NAMES[self.scale]}; VanderWeele & Ding 2017)",
            f"  observed   {fmt(self.estimate)}  [{fmt(self.lower)}, {fmt(self.upper)}]",
            f"  as RR      {fmt(self.rr)}  [{fmt(self.rr_lower)}, {fmt(self.rr_upper)}]"
            + ("" if self.rare is None else f"  (rare outcome: {self.rare})"),
            f"  E-value    point {fmt(self.evalue)}, interval {fmt(self.evalue_ci)}"
            + ("" if self.true == 1.0 else f"  (to shift to RR = {fmt(self.true)})"),
        ]
        return "\n".join(lines)

    __repr__ = __str__


def _evalue_rr(rr: float, true: float) -> float:
    """``E = RR + sqrt(RR (RR - 1))`` for the ratio of ``rr`` to ``true`` taken above 1."""
    ratio = rr / true if rr >= true else true / rr
    return ratio + math.sqrt(ratio * (ratio - 1.0))


def _to_rr(x: float, scale: str, rare: bool | None) -> float:
    if math.isnan(x):
        return math.nan
    if scale == "SMD":
        return math.exp(0.91 * x)
    if scale == "RR" or rare:
        return x
    if scale == "OR":
        return math.sqrt(x)
    return (1.0 - 0.5 ** math.sqrt(x)) / (1.0 - 0.5 ** math.sqrt(1.0 / x))


def _number(name: str, value: float | None) -> float:
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"evalue: {name} must be a number; got {value!r}.") from None
    if math.isnan(out) or math.isinf(out):
        raise ParameterError(f"evalue: {name} must be finite; got {value!r}.")
    return out


def evalue(
    estimate: float | Effect,
    lower: float | None = None,
    upper: float | None = None,
    scale: Scale = "RR",
    *,
    rare: bool | None = None,
    sd: float | None = None,
    true: float | None = None,
) -> EValue:
    """E-values for an estimate and its confidence interval (VanderWeele & Ding 2017).

    Parameters
    ----------
    estimate : float or Effect
        The point estimate on ``scale``. An :class:`~paribus.Effect` supplies the estimate
        and its interval (``lower``/``upper`` must then be omitted); with ``scale="SMD"``
        its mean difference is divided by ``sd``.
    lower, upper : float, optional
        Confidence limits on ``scale``.
    scale : {"RR", "OR", "HR", "SMD"}, default "RR"
        Risk (or rate) ratio, odds ratio, hazard ratio, or standardised mean difference
        ``d`` of a continuous outcome (``RR ~= exp(0.91 d)``).
    rare : bool, optional
        Required for ``"OR"`` and ``"HR"``: whether the outcome is rare (< 15% at the end
        of follow-up), which decides the conversion to a risk ratio.
    sd : float, optional
        Standard deviation of the outcome; with ``scale="SMD"`` the estimate and limits are
        raw mean differences divided by it. Required for an Effect on the SMD scale.
    true : float, optional
        The true value to shift the estimate to, on ``scale`` (default: the null, 1 for
        ratios and 0 for the SMD).

    Returns
    -------
    EValue
        ``E = RR + sqrt(RR (RR - 1))`` for ``RR = rr / true >= 1`` (inverted below 1), for
        the estimate and for the interval limit closest to ``true``.
    """
    if scale not in _SCALES:
        raise ParameterError(
            f"evalue: scale={scale!r} is not supported; expected one of {', '.join(_SCALES)}."
            " Risk differences need cell counts and are not covered."
        )
    if isinstance(estimate, Effect):
        if lower is not None or upper is not None:
            raise ParameterError(
                "evalue: an Effect brings its own interval; do not pass lower= or upper=."
            )
        if scale == "SMD" and sd is None:
            raise ParameterError(
                "evalue: an Effect on the SMD scale needs sd=, the outcome's standard "
                "deviation, to standardise the mean difference."
            )
        est, lo, hi = estimate.estimate, estimate.ci_lower, estimate.ci_upper
        if math.isnan(lo) or math.isnan(hi):
            lo = hi = math.nan
    else:
        est = _number("estimate", estimate)
        lo, hi = _number("lower", lower), _number("upper", upper)
    est = _number("estimate", est)
    if rare is not None and scale in ("RR", "SMD"):
        raise ParameterError(f"evalue: rare= applies to odds and hazard ratios, not {scale}.")
    if scale in ("OR", "HR") and rare is None:
        raise ParameterError(
            f"evalue: an {_NAMES[scale]} needs rare=True (outcome under 15% at the end of "
            "follow-up, so it approximates the risk ratio) or rare=False (the square-root "
            "conversion)."
        )
    if sd is not None:
        if scale != "SMD":
            raise ParameterError("evalue: sd= standardises a mean difference; use scale='SMD'.")
        sd_value = _number("sd", sd)
        if sd_value <= 0:
            raise ParameterError(f"evalue: sd must be positive; got {sd!r}.")
        est, lo, hi = est / sd_value, lo / sd_value, hi / sd_value
    for name, value in (("estimate", est), ("lower", lo), ("upper", hi)):
        if scale != "SMD" and not math.isnan(value) and value <= 0:
            raise ParameterError(
                f"evalue: {name} must be a positive {_NAMES[scale]}; got {value!r}. "
                "Pass ratios, not their logarithms."
            )
    if (not math.isnan(lo) and lo > est) or (not math.isnan(hi) and hi < est):
        raise ParameterError(
            f"evalue: the interval [{lo}, {hi}] must contain the estimate {est} with "
            "lower <= upper."
        )
    null = 0.0 if scale == "SMD" else 1.0
    true_value = null if true is None else _number("true", true)
    if scale != "SMD" and true_value <= 0:
        raise ParameterError(f"evalue: true must be a positive {_NAMES[scale]}; got {true!r}.")
    rr, rr_lo, rr_hi = (_to_rr(x, scale, rare) for x in (est, lo, hi))
    rr_true = _to_rr(true_value, scale, rare)
    # the limit closest to the null is on the estimate's side of it
    limit = rr_lo if rr >= rr_true else rr_hi
    if math.isnan(limit):
        e_ci = math.nan
    elif (limit - rr_true) * (rr - rr_true) <= 0:
        e_ci = 1.0  # the interval reaches the true value: nothing to explain away
    else:
        e_ci = _evalue_rr(limit, rr_true)
    return EValue(
        scale=scale,
        estimate=est,
        lower=lo,
        upper=hi,
        rr=rr,
        rr_lower=rr_lo,
        rr_upper=rr_hi,
        true=rr_true,
        rare=rare,
        evalue=_evalue_rr(rr, rr_true),
        evalue_ci=e_ci,
    )

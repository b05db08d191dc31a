"""Simpson's paradox: when the pooled comparison and the within-segment comparisons disagree.

A pooled difference in means ``ybar_1 - ybar_0`` mixes two things when the share of
treated units differs across segments (or across time, in a test whose allocation
was ramped up): the effect within segments, and the difference in baseline outcome
between the segments the treated and control units come from. With both present the
pooled difference can even reverse the sign of every within-segment effect (Simpson
1951, *JRSS-B* 13, 238-241; the kidney-stone data of Charig et al. 1986, *BMJ* 292,
879-882, discussed by Julious & Mullee 1994, *BMJ* 309, 1480-1481; the Berkeley
admissions of Bickel, Hammel & O'Connell 1975, *Science* 187, 398-404).

The post-stratified (standardised) estimate re-weights the segment effects
``theta_s`` (differences in means within segment ``s``) by a fixed distribution of
segments:

    theta_ps = sum_s w_s theta_s,   se(theta_ps) = sqrt(sum_s w_s^2 se_s^2),

with ``w_s = n_s / n`` (the segment's share of all units: the ATE of the population
tested) or ``w_s = n_{1s} / n_1`` (its share of the treated: the ATT). The standard
error conditions on the segment sizes (Miratrix, Sekhon & Yu 2013, *JRSS-B* 75,
369-396); inference is normal.

:func:`simpson_check` flags a paradox when (i) the treated share differs across
strata (Pearson's chi-square test of independence of arm and stratum, p below
``allocation_alpha``) and (ii) the pooled and stratified effects differ in sign or in
significance at ``1 - level``. Without (i) the pooled difference is unbiased in a
randomised test and any disagreement is noise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.data import CausalData
from paribus.data.convert import to_pandas
from paribus.errors import ParameterError
from paribus.experiments._contrast import mean_contrast
from paribus.experiments.segments import (
    effects_by_group,
    labels_column,
    ordered_levels,
    period_column,
)
from paribus.results import Effect, EffectTable

__all__ = ["SimpsonResult", "simpson_check"]


@dataclasses.dataclass(frozen=True)
class SimpsonResult:
    """Pooled versus stratified effect, and why they differ (module docstring).

    Attributes
    ----------
    paradox : bool
        Allocation differs across strata and the two estimates differ in sign or
        significance.
    reason : {"sign", "significance", None}
        Which disagreement triggered the flag.
    explanation : str
        Plain-language account: allocation by stratum, baseline by stratum, the change
        of allocation over time where ``time`` was given, and which estimate to report.
    aggregate : Effect
        Difference in means over all units (Welch).
    stratified : Effect
        Post-stratified effect, weights by population share (``estimand="ATE"``) or by
        treated share (``"ATT"``); ``diagnostics["weights"]`` holds them.
    segments : EffectTable
        The effect within each stratum (Holm-adjusted p in diagnostics).
    recommended : {"stratified", "aggregate"}
        The estimate that answers "what does the treatment do?": the stratified one
        when allocation differs across strata, else the aggregate (both are unbiased).
    allocation : Mapping[str, float]
        Treated share by stratum.
    baseline : Mapping[str, float]
        Control-arm mean outcome by stratum.
    allocation_p_value : float
        Chi-square test that the treated share is the same in every stratum.
    time_allocation : Mapping[str, float] or None
        Treated share by period when ``time`` was given.
    """

    paradox: bool
    reason: str | None
    explanation: str
    aggregate: Effect
    stratified: Effect
    segments: EffectTable
    recommended: str
    allocation: Mapping[str, float]
    baseline: Mapping[str, float]
    allocation_p_value: float
    time_allocation: Mapping[str, float] | None

    def __str__(self) -> str:
        a, s = self.aggregate, self.stratified
        head = "SIMPSON'S PARADOX" if self.paradox else "No Simpson's paradox"
        return (
            f"{head}\n  aggregate   {a.estimate:+.4g} [{a.ci_lower:+.4g}, {a.ci_upper:+.4g}] "
            f"p = {a.p_value:.3g}\n  stratified  {s.estimate:+.4g} [{s.ci_lower:+.4g}, "
            f"{s.ci_upper:+.4g}] p = {s.p_value:.3g} ({s.estimand})\n"
            f"  recommended: {self.recommended}\n{self.explanation}"
        )

    __repr__ = __str__


def _stratified(
    table: EffectTable, weights: np.ndarray, estimand: str, level: float, n: int
) -> Effect:
    est = np.array([e.estimate for e in table])
    se = np.array([e.std_error for e in table])
    return Effect.from_normal(
        estimand=estimand,
        estimate=float(weights @ est),
        std_error=math.sqrt(float(np.sum(weights**2 * se**2))),
        level=level,
        n_obs=n,
        method="post-stratification",
        inference="normal",
        diagnostics={
            "weights": dict(zip(table.labels, map(float, weights), strict=True)),
            "weighting": "population share" if estimand == "ATE" else "treated share",
        },
    )


def _allocation_test(t: np.ndarray, groups: pd.Series) -> float:
    levels = ordered_levels(groups)
    if len(levels) < 2:
        return 1.0
    codes = pd.Categorical(groups, categories=levels).codes
    table = np.zeros((len(levels), 2))
    np.add.at(table, (codes, t.astype(int)), 1.0)
    return float(stats.chi2_contingency(table, correction=False)[1])


def _shares(t: np.ndarray, groups: pd.Series) -> dict[str, float]:
    return {str(v): float(t[(groups == v).to_numpy()].mean()) for v in ordered_levels(groups)}


def _p(p: float) -> str:
    return "< 1e-300" if p < 1e-300 else f"= {p:.3g}"


def _fmt_map(m: Mapping[str, float], pct: bool) -> str:
    return ", ".join(f"{k}: {v:.1%}" if pct else f"{k}: {v:.4g}" for k, v in m.items())


def _explain(
    *,
    name: str,
    agg: Effect,
    strat: Effect,
    reason: str | None,
    allocation: dict[str, float],
    baseline: dict[str, float],
    p_alloc: float,
    allocation_alpha: float,
    time_alloc: dict[str, float] | None,
    time_base: dict[str, float] | None,
    time_p: float,
    level: float,
) -> str:
    parts = []
    if reason == "sign":
        parts.append(
            f"Simpson's paradox: the aggregate effect ({agg.estimate:+.4g}) and the effect "
            f"within strata of {name!r} ({strat.estimate:+.4g}, {strat.estimand}) have "
            "opposite signs."
        )
    elif reason == "significance":
        sig, non = (
            ("aggregate", "stratified")
            if agg.p_value < 1 - level
            else (
                "stratified",
                "aggregate",
            )
        )
        parts.append(
            f"Simpson's paradox: the {sig} effect is significant at {1 - level:g} but the "
            f"{non} one is not (aggregate {agg.estimate:+.4g}, p = {agg.p_value:.3g}; "
            f"stratified {strat.estimate:+.4g}, p = {strat.p_value:.3g})."
        )
    unequal = p_alloc < allocation_alpha
    if unequal:
        t_share = np.array(list(allocation.values()))
        base = np.array(list(baseline.values()))
        cov = float(np.cov(t_share, base)[0, 1]) if t_share.size > 1 else 0.0
        where = "higher" if cov > 0 else "lower"
        parts.append(
            f"Treatment allocation differs across the strata of {name!r} (chi-square test of "
            f"equal treated share p {_p(p_alloc)}); treated share by stratum: "
            f"{_fmt_map(allocation, True)}. The strata also differ in baseline outcome "
            f"(control-arm mean: {_fmt_map(baseline, False)}), so the composition of each "
            f"arm differs: treated units come more from strata with a {where} baseline, "
            f"which shifts the aggregate difference by {agg.estimate - strat.estimate:+.4g} "
            "relative to the within-stratum comparison."
        )
    else:
        parts.append(
            f"The treated share is the same across the strata of {name!r} (p {_p(p_alloc)}): "
            f"{_fmt_map(allocation, True)}; the aggregate difference is not confounded "
            "by composition."
        )
    if time_alloc is not None and time_p < allocation_alpha and time_base is not None:
        periods = list(time_alloc)
        parts.append(
            f"The allocation changed over time (a ramp-up or re-allocation): treated share "
            f"{time_alloc[periods[0]]:.1%} in period {periods[0]} and "
            f"{time_alloc[periods[-1]]:.1%} in period {periods[-1]} (by period: "
            f"{_fmt_map(time_alloc, True)}; p {_p(time_p)}), while the control-arm "
            f"baseline moved ({_fmt_map(time_base, False)}). Pooling the periods mixes the "
            "effect with the change in baseline over time; compare arms within periods."
        )
    if unequal:
        parts.append(
            "Report the stratified estimate: when allocation varies across strata, "
            "comparing arms within each stratum and averaging (weights: "
            f"{strat.diagnostics['weighting']}) answers 'what does the treatment do?'; the "
            "aggregate does not. In a randomised test with allocation varying by stratum or "
            "over time this holds by design; with observational groups it assumes the "
            "strata capture why allocation varied. It also assumes the strata are fixed "
            "before treatment (the treatment cannot move a unit between them)."
        )
    else:
        parts.append(
            "Either estimate answers the question; the aggregate difference in means is the "
            "simplest, the stratified one can be more precise."
        )
    return " ".join(parts)


def simpson_check(
    data: Any,
    *,
    treatment: str,
    outcome: str,
    segment: str | None = None,
    time: str | None = None,
    freq: str | None = None,
    estimand: Literal["ATE", "ATT"] = "ATE",
    level: float = 0.95,
    allocation_alpha: float = 0.001,
) -> SimpsonResult:
    """Compare the pooled effect with the effect within segments (module docstring).

    Parameters
    ----------
    data : table
        Unit-level rows.
    treatment, outcome : str
        0/1 treatment (or the grouping compared, e.g. gender) and numeric outcome.
    segment : str, optional
        Pre-treatment segment labels. At least one of ``segment`` and ``time`` is needed.
    time : str, optional
        Assignment time; its periods become strata too (crossed with ``segment``), and a
        change of allocation over time is reported as a cause.
    freq : str, optional
        Period length for a datetime ``time`` column (pandas alias, default ``"D"``).
    estimand : {"ATE", "ATT"}, default "ATE"
        Stratum weights: share of all units (ATE) or of treated units (ATT).
    level : float, default 0.95
    allocation_alpha : float, default 0.001
        Threshold of the test that allocation differs across strata.

    Returns
    -------
    SimpsonResult

    Raises
    ------
    paribus.errors.DataError
        Missing columns or values, a non-binary treatment, or a stratum with fewer
        than 2 units in an arm.
    paribus.errors.ParameterError
        Neither ``segment`` nor ``time``; unknown ``estimand``; ``level`` or
        ``allocation_alpha`` outside (0, 1).
    """
    check_level(level)
    if estimand not in ("ATE", "ATT"):
        raise ParameterError(f"estimand must be 'ATE' or 'ATT', got {estimand!r}.")
    if not (isinstance(allocation_alpha, float) and 0 < allocation_alpha < 1):
        raise ParameterError(
            f"allocation_alpha must be a float in (0, 1), got {allocation_alpha!r}."
        )
    if segment is None and time is None:
        raise ParameterError(
            "simpson_check needs segment=, time= or both: the strata to compare within."
        )
    cd = CausalData(data, treatment=treatment, outcome=outcome)
    frame = to_pandas(data)
    t, y = cd.t, cd.y
    seg = labels_column(frame, segment, "segment") if segment is not None else None
    per = period_column(frame, time, freq) if time is not None else None
    if seg is not None and per is not None:
        strata = seg.astype(str) + " | " + per.astype(str)
        strata.name = f"{segment} x {time}"
    else:
        strata = seg if seg is not None else per  # type: ignore[assignment]
        assert strata is not None
    name = str(strata.name)
    table = effects_by_group(
        t,
        y,
        strata,
        level=level,
        correction="holm",
        title=f"Effect of {treatment} on {outcome} within {name}",
    )
    agg = mean_contrast(y[t == 1], y[t == 0]).effect(level=level, estimand="ATE")
    shares = np.array([e.diagnostics["share"] for e in table])
    if estimand == "ATE":
        weights = shares
    else:
        weights = shares * np.array([e.diagnostics["treated_share"] for e in table])
        weights = weights / weights.sum()
    strat = _stratified(table, weights, estimand, level, t.size)
    allocation = _shares(t, strata)
    baseline = {
        str(v): float(y[(strata == v).to_numpy() & (t == 0)].mean()) for v in ordered_levels(strata)
    }
    p_alloc = _allocation_test(t, strata)
    time_alloc = time_base = None
    time_p = 1.0
    if per is not None:
        time_alloc = _shares(t, per)
        time_base = {
            str(v): float(y[(per == v).to_numpy() & (t == 0)].mean()) for v in ordered_levels(per)
        }
        time_p = _allocation_test(t, per)
    alpha = 1 - level
    reason: str | None = None
    if p_alloc < allocation_alpha:
        if agg.estimate * strat.estimate < 0:
            reason = "sign"
        elif (agg.p_value < alpha) != (strat.p_value < alpha):
            reason = "significance"
    explanation = _explain(
        name=name,
        agg=agg,
        strat=strat,
        reason=reason,
        allocation=allocation,
        baseline=baseline,
        p_alloc=p_alloc,
        allocation_alpha=allocation_alpha,
        time_alloc=time_alloc,
        time_base=time_base,
        time_p=time_p,
        level=level,
    )
    return SimpsonResult(
        paradox=reason is not None,
        reason=reason,
        explanation=explanation,
        aggregate=agg,
        stratified=strat,
        segments=table,
        recommended="stratified" if p_alloc < allocation_alpha else "aggregate",
        allocation=allocation,
        baseline=baseline,
        allocation_p_value=p_alloc,
        time_allocation=time_alloc,
    )

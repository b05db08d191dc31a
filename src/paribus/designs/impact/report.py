"""Summary table, written report and three-panel plot of a fitted CausalImpact.

* :func:`impact_summary`: the table of Brodersen et al. (2015) / the R package's
  ``summary()``: actual and predicted post-period values, absolute and relative effects
  with posterior sds and intervals, for the average and the cumulative effect, and the
  posterior tail-area probability;
* :func:`impact_report`: the same numbers told in plain sentences;
* :func:`impact_plot`: observed vs counterfactual, pointwise effect, cumulative effect
  (Brodersen et al. 2015, Figure 1), sharing the time axis.

matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ImpactSummary", "impact_plot", "impact_report", "impact_summary"]


@dataclasses.dataclass(frozen=True)
class ImpactSummary:
    """The CausalImpact summary: ``table`` has columns Average and Cumulative."""

    table: pd.DataFrame
    p_value: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        """Numbers as a DataFrame (rows: actual, prediction, effects and their bounds)."""
        return self.table.copy()

    def __str__(self) -> str:
        t, pct = self.table, f"{round(100 * self.level)}% CI"

        def row(label: str, key: str, rel: bool = False) -> list[str]:
            f = (lambda v: f"{100 * v:.1f}%") if rel else (lambda v: f"{v:.4g}")
            return [label] + [
                f"{f(t.at[key, c])} ({f(t.at[key + '_sd', c])})"
                if key + "_sd" in t.index
                else f(t.at[key, c])
                for c in t.columns
            ]

        def ci(key: str, rel: bool = False) -> list[str]:
            f = (lambda v: f"{100 * v:.1f}%") if rel else (lambda v: f"{v:.4g}")
            return [pct] + [
                f"[{f(t.at[key + '_lower', c])}, {f(t.at[key + '_upper', c])}]" for c in t.columns
            ]

        lines = [
            ["", "Average", "Cumulative"],
            row("Actual", "actual"),
            row("Prediction (s.d.)", "predicted"),
            ci("predicted"),
            [],
            row("Absolute effect (s.d.)", "absolute_effect"),
            ci("absolute_effect"),
            [],
            row("Relative effect (s.d.)", "relative_effect", rel=True),
            ci("relative_effect", rel=True),
        ]
        widths = [max(len(r[i]) for r in lines if r) + 3 for i in range(3)]
        text = [
            "".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in lines
        ]
        text += [
            "",
            f"Posterior tail-area probability p: {self.p_value:.4g}",
            f"Posterior prob. of a causal effect: {100 * (1 - self.p_value):.2f}%",
        ]
        return "\n".join(text)

    def _repr_html_(self) -> str:
        return "<pre>" + str(self) + "</pre>"


def _post_draws(model: Any) -> tuple[np.ndarray, np.ndarray]:
    s = model.series_
    y = s["observed"].to_numpy()
    post = np.asarray(s.index >= model.post_period_[0]) & ~np.isnan(y)
    return y[post], model.draws_[:, post]


def impact_summary(model: Any) -> ImpactSummary:
    """Summary table of a fitted :class:`~paribus.designs.impact.causal_impact.CausalImpact`."""
    y, draws = _post_draws(model)
    a = model.alpha
    pred = {"Average": draws.mean(axis=1), "Cumulative": draws.sum(axis=1)}
    actual = {"Average": float(y.mean()), "Cumulative": float(y.sum())}
    rows: dict[str, dict[str, float]] = {}
    for col, p in pred.items():
        eff = actual[col] - p
        rel = eff / p
        entry = {"actual": actual[col]}
        for key, d in (("predicted", p), ("absolute_effect", eff), ("relative_effect", rel)):
            lo, hi = np.quantile(d, [a / 2, 1 - a / 2])
            entry |= {key: float(d.mean()), f"{key}_sd": float(d.std(ddof=1))}
            entry |= {f"{key}_lower": float(lo), f"{key}_upper": float(hi)}
        rows[col] = entry
    table = pd.DataFrame(rows)
    return ImpactSummary(table=table, p_value=model.result_.p_value, level=1 - a)


def impact_report(model: Any) -> str:
    """A few paragraphs stating the result, its uncertainty and how to read it."""
    s = impact_summary(model).table
    r = model.result_
    lvl = round(100 * r.level)
    avg, cum = s["Average"], s["Cumulative"]
    pre = [_label(v) for v in model.pre_period_]
    post = [_label(v) for v in model.post_period_]
    sign = "increase" if avg["absolute_effect"] > 0 else "decrease"
    sure = r.ci_lower > 0 or r.ci_upper < 0
    parts = [
        f"Between {post[0]} and {post[1]}, the outcome {model.outcome_!r} averaged "
        f"{avg['actual']:.4g}. A model fitted to {pre[0]}..{pre[1]}"
        + (f" with {len(model.controls_)} control series" if model.controls_ else "")
        + f" predicts that, without the intervention, it would have averaged "
        f"{avg['predicted']:.4g} ({lvl}% interval {avg['predicted_lower']:.4g} to "
        f"{avg['predicted_upper']:.4g}).",
        f"The estimated effect is an average {sign} of {abs(avg['absolute_effect']):.4g} per "
        f"period ({lvl}% interval {avg['absolute_effect_lower']:.4g} to "
        f"{avg['absolute_effect_upper']:.4g}), or {100 * avg['relative_effect']:+.1f}% of the "
        f"counterfactual ({100 * avg['relative_effect_lower']:+.1f}% to "
        f"{100 * avg['relative_effect_upper']:+.1f}%). Summed over the post-period the "
        f"outcome was {cum['actual']:.4g} against a predicted {cum['predicted']:.4g}, a "
        f"cumulative effect of {cum['absolute_effect']:.4g} ({cum['absolute_effect_lower']:.4g} "
        f"to {cum['absolute_effect_upper']:.4g}).",
    ]
    if sure:
        parts.append(
            f"The {lvl}% interval excludes zero: the posterior probability that the "
            f"intervention changed the outcome is {100 * (1 - r.p_value):.1f}% "
            f"(tail-area p = {r.p_value:.3g}). The effect is unlikely to be chance "
            "variation, provided the controls were unaffected by the intervention and "
            "their relation to the outcome stayed stable."
        )
    else:
        parts.append(
            f"The {lvl}% interval includes zero, so the data do not show a clear effect "
            f"(tail-area p = {r.p_value:.3g}). The apparent effect may be noise; a "
            "longer post-period or better controls would sharpen the estimate."
        )
    return "\n\n".join(parts)


def _label(value: Any) -> str:
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


def impact_plot(model: Any, axes: Any = None) -> Any:
    """Three stacked panels sharing the time axis; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(3, 1, sharex=True, figsize=(8, 8))
    else:
        fig = axes[0].figure
    s = model.series_
    x = s.index
    start = model.post_period_[0]
    panels = (
        ("predicted", "counterfactual", "original"),
        ("point_effect", "pointwise", None),
        ("cumulative_effect", "cumulative", None),
    )
    for ax, (key, label, top) in zip(axes, panels, strict=True):
        ax.fill_between(x, s[f"{key}_lower"], s[f"{key}_upper"], color="tab:blue", alpha=0.25, lw=0)
        ax.plot(x, s[key], color="tab:blue", linestyle="--", label=label)
        if top:
            ax.plot(x, s["observed"], color="black", label="observed")
            ax.legend(frameon=False, loc="best")
        else:
            ax.axhline(0.0, color="0.5", linewidth=1)
        ax.axvline(start, color="0.4", linestyle=":", linewidth=1)
        ax.set_ylabel(label if not top else top)
    axes[-1].set_xlabel("time")
    return fig

"""The result of :func:`~paribus.checks.validate_heterogeneity`: BLP, GATES and CLAN tables.

With sample splitting every estimate is aggregated over splits by the median rule of
Chernozhukov, Demirer, Duflo & Fernández-Val (2018): split ``s`` gives ``theta_s``, its
error ``se_s`` and p-value ``p_s``; the report shows ``median_s theta_s``, the interval
``[median_s(theta_s - z se_s), median_s(theta_s + z se_s)]`` with ``z`` the normal
quantile of level ``1 - alpha / 2``, ``alpha = (1 - level) / 2`` (coverage at least
``1 - 2 alpha = level``), and the p-value ``min(1, 2 median_s p_s)``. The standard error
column is ``median_s se_s``, for reference: re-inference goes through
:meth:`HeterogeneityReport.at_level`, which applies the rule again, not through
``Effect.at_level``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.results import Effect, EffectTable
from paribus.results._frozen import FrozenMapping, to_plain

__all__ = ["HeterogeneityReport", "build_tables", "split_median_inference", "table_labels"]


def table_labels(n_groups: int, clan: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(part, label, estimand, method) of every estimate, in the order they are computed."""
    top, bottom = f"G{n_groups}", "G1"
    out = [("BLP", "beta1", "ATE", "blp"), ("BLP", "beta2", "BLP slope", "blp")]
    out += [("GATES", f"G{k}", "GATES", "gates") for k in range(1, n_groups + 1)]
    out.append(("GATES", f"{top}-{bottom}", "GATES difference", "gates"))
    for c in clan:
        out += [
            ("CLAN", f"{c} | {top}", "CLAN mean", "clan"),
            ("CLAN", f"{c} | {bottom}", "CLAN mean", "clan"),
            ("CLAN", f"{c} | {top}-{bottom}", "CLAN difference", "clan"),
        ]
    return out


def split_median_inference(
    estimates: np.ndarray, std_errors: np.ndarray, level: float
) -> tuple[np.ndarray, ...]:
    """The median rule over splits (module docstring), column by column.

    Returns the arrays ``(estimate, std_error, ci_lower, ci_upper, p_value)``.
    """
    alpha = (1 - level) / 2
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(estimates / std_errors))
    return (
        np.median(estimates, axis=0),
        np.median(std_errors, axis=0),
        np.median(estimates - z * std_errors, axis=0),
        np.median(estimates + z * std_errors, axis=0),
        np.minimum(1.0, 2 * np.median(p, axis=0)),
    )


def build_tables(
    labels: Sequence[tuple[str, str, str, str]],
    estimates: np.ndarray,
    std_errors: np.ndarray,
    n_obs: np.ndarray,
    level: float,
    scores: np.ndarray | None,
) -> dict[str, EffectTable]:
    """EffectTables by part; ``estimates`` of shape (splits, m) use the median rule."""
    if scores is not None:  # one sample: normal inference with the influence values
        effects = [
            Effect.from_normal(
                estimand=estimand,
                estimate=float(estimates[0, j]),
                std_error=float(std_errors[0, j]),
                level=level,
                n_obs=int(n_obs[j]),
                method=method,
                inference="influence-function",
                scores=scores[:, j],
            )
            for j, (_, _, estimand, method) in enumerate(labels)
        ]
    else:
        est, se, lo, hi, p = split_median_inference(estimates, std_errors, level)
        effects = [
            Effect(
                estimand=estimand,
                estimate=est[j],
                std_error=se[j],
                ci_lower=lo[j],
                ci_upper=hi[j],
                level=level,
                p_value=p[j],
                n_obs=int(n_obs[j]),
                method=method,
                inference="split-median",
                diagnostics={"splits": estimates.shape[0]},
            )
            for j, (_, _, estimand, method) in enumerate(labels)
        ]
    titles = {
        "BLP": "Best linear predictor of the CATE by the proxy (BLP)",
        "GATES": "Group average treatment effects by proxy quantile group (GATES)",
        "CLAN": "Covariate means of the most and least affected groups (CLAN)",
    }
    out = {}
    for part, title in titles.items():
        idx = [j for j, lab in enumerate(labels) if lab[0] == part]
        out[part] = EffectTable([effects[j] for j in idx], [labels[j][1] for j in idx], title)
    return out


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.array(a, dtype=float, copy=True)
    a.setflags(write=False)
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class HeterogeneityReport:
    """What a CATE model's predictions reveal about effect heterogeneity.

    Built by :func:`paribus.checks.validate_heterogeneity` (whose module explains BLP,
    GATES, CLAN and the doubly robust scores); prints as three tables.

    Attributes
    ----------
    blp : EffectTable
        ``beta1`` (the ATE) and ``beta2`` (the loading of the CATE on the proxy:
        significantly positive means real heterogeneity is captured, 1 means calibrated).
    gates : EffectTable
        ``G1`` (least affected) .. ``GK`` (most affected) and ``GK-G1``.
    clan : EffectTable
        For each CLAN covariate ``c``: ``"c | GK"``, ``"c | G1"`` and ``"c | GK-G1"``.
    group_predictions : tuple of float
        Mean proxy within each group (median over splits), the x axis of calibration.
    mean_prediction : float
        Mean proxy over the (main) sample, the centring of BLP.
    n_groups, n_obs : int
        Quantile groups; rows of the data.
    level : float
    splits : int or None
        Sample splits (``None`` when predictions were given and used once).
    diagnostics : Mapping
        Nuisance models, overlap, and the paper's proxy-selection criteria
        ``blp_lambda = beta2^2 Var(S)`` and ``gates_lambda = sum_k gamma_k^2 P(G_k)``.
    split_estimates, split_std_errors : ndarray of shape (splits, m) or None
        Every split's estimates and errors in the row order of :meth:`to_frame`.
    """

    blp: EffectTable
    gates: EffectTable
    clan: EffectTable
    group_predictions: tuple[float, ...]
    mean_prediction: float
    n_groups: int
    n_obs: int
    level: float
    splits: int | None
    diagnostics: Mapping[str, Any] = dataclasses.field(default_factory=FrozenMapping)
    split_estimates: np.ndarray | None = None
    split_std_errors: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.diagnostics, FrozenMapping):
            object.__setattr__(self, "diagnostics", FrozenMapping(self.diagnostics))
        object.__setattr__(self, "group_predictions", tuple(map(float, self.group_predictions)))
        for name in ("split_estimates", "split_std_errors"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))

    # -- views ---------------------------------------------------------------------------

    @property
    def tables(self) -> dict[str, EffectTable]:
        return {"BLP": self.blp, "GATES": self.gates, "CLAN": self.clan}

    def to_frame(self) -> pd.DataFrame:
        """One row per estimate, indexed by (part, label), with :class:`Summary` columns."""
        parts = {part: table.to_frame() for part, table in self.tables.items() if len(table)}
        return pd.concat(parts, names=["part"])

    def _header(self) -> list[str]:
        d = self.diagnostics
        if self.splits is None:
            how = "proxy: predictions given (used once, normal inference)"
        else:
            how = (
                f"proxy: {d['cate_model']} fitted on auxiliary halves, {self.splits} splits "
                f"(median rule: estimate, interval bounds, 2 x p-value)"
            )
        return [
            "Heterogeneity validation (Chernozhukov, Demirer, Duflo & Fernandez-Val 2018)",
            how,
            f"scores: AIPW pseudo-outcomes, outcome {d['outcome_model']}, propensity "
            f"{d['propensity_model']}, {d['folds']} folds; n = {self.n_obs:,}, "
            f"{self.n_groups} groups",
        ]

    def __str__(self) -> str:
        blocks = ["\n".join(self._header())]
        blocks += [str(table.summary()) for table in self.tables.values() if len(table)]
        return "\n\n".join(blocks)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html

        head = "<br>".join(html.escape(line) for line in self._header())
        body = "".join(table.summary().to_html() for table in self.tables.values() if len(table))
        return f'<div class="paribus-heterogeneity"><p>{head}</p>{body}</div>'

    def to_dict(self, *, include_scores: bool = False) -> dict[str, Any]:
        """A JSON-safe dict (per-unit scores left out unless asked for)."""
        out: dict[str, Any] = {
            part.lower(): table.to_dict(include_scores=include_scores)
            for part, table in self.tables.items()
        }
        out |= {
            "group_predictions": list(self.group_predictions),
            "mean_prediction": self.mean_prediction,
            "n_groups": self.n_groups,
            "n_obs": self.n_obs,
            "level": self.level,
            "splits": self.splits,
            "diagnostics": to_plain(self.diagnostics),
        }
        return to_plain(out)

    def to_json(self, *, include_scores: bool = False, indent: int | None = None) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(include_scores=include_scores), indent=indent)

    # -- re-inference and plots ----------------------------------------------------------

    def at_level(self, level: float) -> HeterogeneityReport:
        """A new report with intervals at another ``level`` (by the median rule if split)."""
        level = check_level(level)
        if self.split_estimates is None or self.split_std_errors is None:
            tables = {
                part: EffectTable([e.at_level(level) for e in t], t.labels, t.title)
                for part, t in self.tables.items()
            }
        else:
            effects = [e for t in self.tables.values() for e in t]
            _, _, lo, hi, _ = split_median_inference(
                self.split_estimates, self.split_std_errors, level
            )
            rebuilt = [
                dataclasses.replace(e, ci_lower=lo[j], ci_upper=hi[j], level=level)
                for j, e in enumerate(effects)
            ]
            tables, start = {}, 0
            for part, t in self.tables.items():
                tables[part] = EffectTable(rebuilt[start : start + len(t)], t.labels, t.title)
                start += len(t)
        return dataclasses.replace(
            self, blp=tables["BLP"], gates=tables["GATES"], clan=tables["CLAN"], level=level
        )

    def plot(self, *, ax: Any = None) -> Any:
        """GATES with their intervals, the BLP-implied effect of each group and the ATE."""
        from paribus.report.plots import plot_gates

        return plot_gates(self, ax=ax)

    def plot_calibration(self, *, ax: Any = None) -> Any:
        """Mean proxy (x) against the GATES (y, with intervals) per group, and the diagonal."""
        from paribus.report.plots import _draw_calibration

        k = self.n_groups
        gates = [self.gates[j] for j in range(k)]
        return _draw_calibration(
            ax,
            np.asarray(self.group_predictions),
            np.array([g.estimate for g in gates]),
            np.array([g.ci_lower for g in gates]),
            np.array([g.ci_upper for g in gates]),
            self.level,
            title=f"Calibration by {k} proxy quantile groups",
        )

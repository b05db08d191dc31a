"""The plots users of each analysis expect: estimates with intervals, propensity overlap,
heterogeneity (GATES) and calibration of predicted effects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from paribus.results import EffectTable

if TYPE_CHECKING:
    from paribus.checks.heterogeneity import HeterogeneityReport

__all__ = ["plot_calibration", "plot_cate", "plot_effects", "plot_gates", "plot_overlap"]


def plot_effects(
    table: EffectTable,
    *,
    reference: float | None = None,
    reference_label: str = "benchmark",
    ax: Any = None,
) -> Any:
    """Forest plot: one row per effect with its interval; optional vertical reference line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 * len(table) + 1.5))
    ys = np.arange(len(table))[::-1]
    est = np.array([e.estimate for e in table])
    lo = np.array([e.ci_lower for e in table])
    hi = np.array([e.ci_upper for e in table])
    ax.errorbar(est, ys, xerr=[est - lo, hi - est], fmt="o", color="C0", capsize=3)
    ax.set_yticks(ys, list(table.labels))
    ax.axvline(0, color="grey", lw=0.8)
    if reference is not None:
        ax.axvline(reference, color="C3", ls="--", lw=1, label=reference_label)
        ax.legend(loc="best", frameon=False)
    level = table[0].level if len(table) else 0.95
    ax.set_xlabel(f"estimate with {100 * level:g}% interval")
    if table.title:
        ax.set_title(table.title)
    ax.figure.tight_layout()
    return ax


def plot_overlap(
    propensity: np.ndarray,
    treatment: np.ndarray,
    *,
    bins: int = 40,
    ax: Any = None,
    labels: Sequence[str] = ("control", "treated"),
) -> Any:
    """Mirrored histograms of the propensity score by arm (treated up, control down)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    e = np.asarray(propensity, dtype=float)
    t = np.asarray(treatment) == 1
    edges = np.linspace(0, 1, bins + 1)
    h1, _ = np.histogram(e[t], edges, density=True)
    h0, _ = np.histogram(e[~t], edges, density=True)
    width = edges[1] - edges[0]
    ax.bar(edges[:-1], h1, width=width, align="edge", color="C1", label=labels[1])
    ax.bar(edges[:-1], -h0, width=width, align="edge", color="C0", label=labels[0])
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density (control mirrored)")
    ax.legend(frameon=False)
    ax.figure.tight_layout()
    return ax


def plot_gates(report: HeterogeneityReport, *, ax: Any = None) -> Any:
    """GATES of each proxy quantile group with intervals, the BLP line and the ATE.

    The BLP-implied effect of group ``k`` is ``beta1 + beta2 (S_k - mean S)`` with
    ``S_k`` the group's mean proxy: the GATES lie on it when the proxy's heterogeneity
    is linear in the truth (Chernozhukov, Demirer, Duflo & Fernández-Val 2018).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    k = report.n_groups
    x = np.arange(1, k + 1)
    gates = [report.gates[j] for j in range(k)]
    est = np.array([g.estimate for g in gates])
    lo = np.array([g.ci_lower for g in gates])
    hi = np.array([g.ci_upper for g in gates])
    beta1, beta2 = report.blp["beta1"], report.blp["beta2"]
    implied = beta1.estimate + beta2.estimate * (
        np.asarray(report.group_predictions) - report.mean_prediction
    )
    ax.errorbar(
        x,
        est,
        yerr=[est - lo, hi - est],
        fmt="o",
        color="C0",
        capsize=3,
        label=f"GATES ({100 * report.level:g}% interval)",
    )
    ax.plot(x, implied, "--", color="C1", label="BLP: beta1 + beta2 (S_k - mean S)")
    ax.axhline(beta1.estimate, color="C2", ls=":", lw=1, label="ATE (beta1)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, [f"G{j}" for j in x])
    ax.set_xlabel(f"group by predicted effect (G1 least, G{k} most affected)")
    ax.set_ylabel("average treatment effect")
    ax.set_title("Group average treatment effects (GATES)")
    ax.legend(frameon=False, loc="best")
    ax.figure.tight_layout()
    return ax


def _draw_calibration(
    ax: Any,
    predicted: np.ndarray,
    estimate: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    level: float,
    *,
    title: str,
) -> Any:
    """Mean predicted effect (x) against the realised effect (y, with intervals), and y = x."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    ax.errorbar(
        predicted,
        estimate,
        yerr=[estimate - lower, upper - estimate],
        fmt="o",
        color="C0",
        capsize=3,
        label=f"realised (doubly robust), {100 * level:g}% interval",
    )
    span = np.concatenate([predicted, lower, upper])
    span = span[np.isfinite(span)]
    lim = (float(span.min()), float(span.max())) if span.size else (0.0, 1.0)
    ax.plot(lim, lim, color="grey", ls="--", lw=1, label="perfect calibration")
    ax.set_xlabel("mean predicted effect")
    ax.set_ylabel("mean realised effect")
    ax.set_title(title)
    ax.legend(frameon=False, loc="best")
    ax.figure.tight_layout()
    return ax


def plot_calibration(
    predicted: Any,
    realized: Any,
    *,
    bins: int = 10,
    level: float = 0.95,
    ax: Any = None,
) -> Any:
    """Calibration of predicted effects: by quantile bins of the prediction.

    For each of ``bins`` quantile bins of ``predicted`` it plots the mean prediction
    against the mean of ``realized``, the doubly robust pseudo-outcomes whose
    conditional mean is the true effect (:func:`paribus.checks.dr_pseudo_outcomes`),
    with a normal interval from the bin's HC1 error, and the 45-degree line. A
    calibrated model's points lie on the line. Predictions should be out of sample.
    """
    from paribus._core.groups import group_means, quantile_groups
    from paribus._core.params import check_level
    from paribus.errors import DataError, ParameterError

    level = check_level(level)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ParameterError(f"bins={bins!r} is invalid; expected an integer >= 2.")
    s = np.asarray(predicted, dtype=float).reshape(-1)
    psi = np.asarray(realized, dtype=float).reshape(-1)
    if s.size != psi.size:
        raise DataError(
            f"predicted has {s.size} values but realized has {psi.size}; pass one predicted "
            "and one realised effect per unit."
        )
    for name, arr in (("predicted", s), ("realized", psi)):
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{name} has non-finite values; drop or impute them first.")
    groups = quantile_groups(s, bins)
    sizes = np.bincount(groups, minlength=bins)
    if sizes.min() < 2:
        raise DataError(
            f"predicted takes {np.unique(s).size} distinct values, too few for {bins} quantile "
            f"bins (bin sizes {sizes.tolist()}); use fewer bins."
        )
    means = group_means(psi, groups, bins)
    z = float(stats.norm.ppf(0.5 + level / 2))
    x = np.bincount(groups, weights=s, minlength=bins) / sizes
    return _draw_calibration(
        ax,
        x,
        means.means,
        means.means - z * means.std_errors,
        means.means + z * means.std_errors,
        level,
        title=f"Calibration by {bins} quantile bins of the prediction",
    )


def plot_cate(
    cate: np.ndarray,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    by: np.ndarray | None = None,
    by_label: str = "",
    ate: float | None = None,
    ax: Any = None,
) -> Any:
    """The estimated CATEs: their distribution, or against one covariate ``by`` with intervals.

    Without ``by``, a histogram of the unit-level effects (the spread of heterogeneity)
    with the average effect marked. With ``by``, the effects sorted along that covariate
    with their pointwise interval band (``lower``, ``upper``), the plot users read to see
    *for whom* the effect differs.
    """
    import matplotlib.pyplot as plt

    cate = np.asarray(cate, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if by is None:
        ax.hist(cate, bins=min(50, max(10, cate.size // 20)), color="C0", alpha=0.8)
        ax.set_xlabel("estimated effect (CATE)")
        ax.set_ylabel("units")
        if ate is not None:
            ax.axvline(ate, color="C3", ls="--", lw=1, label=f"average effect {ate:.3g}")
            ax.legend(loc="best", frameon=False)
        return ax
    x = np.asarray(by, dtype=float)
    order = np.argsort(x, kind="stable")
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        ax.fill_between(x[order], lo[order], hi[order], color="C0", alpha=0.2, lw=0)
    ax.plot(x[order], cate[order], color="C0", lw=1.2)
    ax.axhline(0, color="grey", lw=0.8)
    if ate is not None:
        ax.axhline(ate, color="C3", ls="--", lw=1, label=f"average effect {ate:.3g}")
        ax.legend(loc="best", frameon=False)
    ax.set_xlabel(by_label)
    ax.set_ylabel("estimated effect (CATE)")
    return ax

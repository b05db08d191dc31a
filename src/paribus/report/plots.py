"""The plots users of each analysis expect: estimates with intervals, propensity overlap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from paribus.results import EffectTable

__all__ = ["plot_effects", "plot_overlap"]


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

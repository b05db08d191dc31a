"""Plots of a synthetic-control fit (Abadie, Diamond & Hainmueller 2010, Figures 2-7).

* :func:`path_plot`: the treated unit and its synthetic control over time, with a
  dashed line at the treatment start;
* :func:`gap_plot`: the gap (treated minus synthetic) with a zero line;
* :func:`placebo_plot`: the in-space placebo gaps in grey with the treated unit's
  gap highlighted ("spaghetti" plot, ADH 2010 Figure 4);
* :func:`weights_plot`: horizontal bars of the donor weights.

Each takes an optional matplotlib ``ax`` and returns it. matplotlib is imported
only when a plot is drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["gap_plot", "path_plot", "placebo_plot", "weights_plot"]


def _axes(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    return ax


def _start_line(ax: Any, start: Any) -> None:
    ax.axvline(float(start), color="0.4", linestyle="--", linewidth=1, label="treatment start")


def path_plot(model: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Treated and synthetic outcome paths of a fitted SyntheticControl."""
    ax = _axes(ax)
    panel = model.panel_
    times = np.asarray(panel.times, dtype=float)
    ax.plot(times, model.treated_.to_numpy(), color="black", label=panel.treated, **kwargs)
    ax.plot(times, model.synthetic_.to_numpy(), color="tab:blue", linestyle="--", label="synthetic")
    _start_line(ax, panel.treatment_start)
    ax.set_xlabel("time")
    ax.set_ylabel("outcome")
    ax.legend(frameon=False)
    return ax


def gap_plot(model: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Gap between the treated unit and its synthetic control over time."""
    ax = _axes(ax)
    panel = model.panel_
    times = np.asarray(panel.times, dtype=float)
    ax.plot(times, model.gaps_.to_numpy(), color="black", label="gap", **kwargs)
    ax.axhline(0.0, color="0.6", linewidth=1)
    _start_line(ax, panel.treatment_start)
    ax.set_xlabel("time")
    ax.set_ylabel("treated - synthetic")
    return ax


def placebo_plot(placebo: Any, ax: Any = None, *, included_only: bool = True, **kwargs: Any) -> Any:
    """Placebo gaps in grey and the treated unit's gap in black (a PlaceboResult)."""
    ax = _axes(ax)
    gaps = placebo.gaps
    keep = placebo.table["included"] if included_only else placebo.table["included"] | True
    times = np.asarray(gaps.index, dtype=float)
    for name in gaps.columns[1:]:
        if keep[name]:
            ax.plot(times, gaps[name].to_numpy(), color="0.75", linewidth=0.8)
    ax.plot(
        times,
        gaps[placebo.treated].to_numpy(),
        color="black",
        linewidth=2,
        label=placebo.treated,
        **kwargs,
    )
    ax.axhline(0.0, color="0.5", linewidth=1)
    _start_line(ax, placebo.treatment_start)
    ax.set_xlabel("time")
    ax.set_ylabel("gap")
    ax.set_title(f"in-space placebos (p = {placebo.p_value:.3f})")
    ax.legend(frameon=False)
    return ax


def weights_plot(model: Any, ax: Any = None, *, threshold: float = 1e-3, **kwargs: Any) -> Any:
    """Horizontal bars of the donor weights above ``threshold``."""
    ax = _axes(ax)
    weights = model.weights_[model.weights_ > threshold].sort_values()
    ax.barh(list(map(str, weights.index)), weights.to_numpy(), color="tab:blue", **kwargs)
    ax.set_xlabel("donor weight")
    ax.set_xlim(0, max(1.0, float(weights.max()) if len(weights) else 1.0))
    return ax

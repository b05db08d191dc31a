"""Curves and drawing for :meth:`DensityTest.plot`.

The density on each side is estimated on a grid by the same local polynomial CDF fit
(Cattaneo, Jansson & Ma 2020), each grid point using only its own side's data with the
side's bandwidth, and drawn with pointwise jackknife confidence bands over a histogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from paribus.designs.rdd._density_kernels import kernel_weights

__all__ = ["DensityCurves", "density_curves", "draw_density"]


@dataclass(frozen=True)
class DensityCurves:
    """Grid, estimate and standard error per side, and a histogram (density scale)."""

    grid: tuple[np.ndarray, np.ndarray]
    estimate: tuple[np.ndarray, np.ndarray]
    std_error: tuple[np.ndarray, np.ndarray]
    hist_edges: np.ndarray
    hist_heights: np.ndarray


def _local_density(
    x: np.ndarray, y: np.ndarray, n: int, x0: float, h: float, p: int, kernel: str
) -> tuple[float, float]:
    d = x - x0
    inside = np.abs(d) <= h
    d, yy = d[inside], y[inside]
    if np.unique(d).size <= p + 1:
        return np.nan, np.nan
    u = d / h
    design = u[:, None] ** np.arange(p + 1)
    xw = design * (kernel_weights(u, kernel) / h)[:, None]
    try:
        g_inv = np.linalg.inv(xw.T @ design)
    except np.linalg.LinAlgError:
        return np.nan, np.nan
    est = float((g_inv @ (xw.T @ yy))[1] / h)
    later = np.vstack([np.cumsum(xw[::-1], axis=0)[::-1][1:], np.zeros((1, p + 1))]) / (n - 1)
    var = float((g_inv @ (later.T @ later) @ g_inv)[1, 1] / h**2)
    return est, float(np.sqrt(var)) if var >= 0 else np.nan


def density_curves(
    x: np.ndarray,
    y: np.ndarray,
    hl: float,
    hr: float,
    p: int,
    kernel: str,
    n_grid: int = 30,
    n_bins: int = 20,
) -> DensityCurves:
    """Curves on ``n_grid`` points per side for ``x`` sorted and centred at the cutoff."""
    n = x.size
    grids, ests, ses = [], [], []
    for mask, h, lo, hi in ((x < 0, hl, -hl, 0.0), (x >= 0, hr, 0.0, hr)):
        xs, ys = x[mask], y[mask]
        lo, hi = max(lo, float(xs.min())), min(hi, float(xs.max()))
        grid = np.linspace(lo, hi, n_grid)
        out = np.array([_local_density(xs, ys, n, g, h, p, kernel) for g in grid])
        grids.append(grid)
        ests.append(out[:, 0])
        ses.append(out[:, 1])
    width = max(float(-x.min()), float(x.max())) / n_bins
    k_left = int(np.ceil(-x.min() / width)) if x.min() < 0 else 0
    k_right = int(np.ceil(x.max() / width)) or 1
    edges = np.arange(-k_left, k_right + 1) * width
    counts, _ = np.histogram(x, edges)
    heights = counts / (n * width)
    return DensityCurves(
        grid=(grids[0], grids[1]),
        estimate=(ests[0], ests[1]),
        std_error=(ses[0], ses[1]),
        hist_edges=edges,
        hist_heights=heights,
    )


def draw_density(curves: DensityCurves, cutoff: float, level: float, ax: Any, xlabel: str) -> Any:
    """Histogram, estimated densities and bands on each side of the cutoff."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    z = float(stats.norm.ppf(0.5 + level / 2))
    edges = curves.hist_edges + cutoff
    ax.bar(
        edges[:-1],
        curves.hist_heights,
        width=np.diff(edges),
        align="edge",
        color="0.85",
        edgecolor="white",
        label="histogram",
    )
    for side, color in ((0, "C0"), (1, "C1")):
        g = curves.grid[side] + cutoff
        est, se = curves.estimate[side], curves.std_error[side]
        ax.fill_between(g, est - z * se, est + z * se, color=color, alpha=0.25, lw=0)
        ax.plot(g, est, color=color, lw=2, label=("left" if side == 0 else "right") + " density")
    ax.axvline(cutoff, color="black", lw=0.8, ls="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(frameon=False)
    ax.figure.tight_layout()
    return ax
